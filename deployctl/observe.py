"""A live, watch-fed view of the kinds a deploy waits on, in one namespace.

One list-then-watch loop per kind (not per object) keeps a local copy of
every object; the deploy's one loop blocks on a condition that is notified
on every change, so health is re-judged as soon as the cluster moves — no
sleep-polling, and no thread per waiting component. A watch that ends
(timeout, dropped connection) resumes from the last resourceVersion; a 410
Gone lists again.

The view also answers "which objects does X own" and "which events are about
X" from indexes, and says which top-level owners had something change under
them since it was last asked (`take_changed`), so a judge re-reads only the
workloads that moved.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable

from deployctl.kube import Cluster, Gone, KubeError
from deployctl.model import Obj

Kind = tuple[str, str]
WATCH_SECONDS = 60
EVENT = ("v1", "Event")


def _uid(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("uid", "")


def _owners(obj: Obj) -> list[str]:
    return [o.get("uid", "") for o in (obj.get("metadata") or {}).get("ownerReferences") or []]


class ClusterView:
    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.changed = threading.Condition()
        self._objects: dict[Kind, dict[str, Obj]] = {}
        self._owner_of: dict[str, list[str]] = {}  # uid -> owners' uids
        self._owned: dict[tuple[Kind, str], dict[str, Obj]] = {}  # (kind, owner uid) -> objects
        self._events: dict[str, dict[str, Obj]] = {}  # involved object's name -> events
        self._dirty: set[str] = set()  # uids with a change at or below them
        self._poked = False
        self._versions: dict[Kind, str] = {}  # where each kind's list left off
        self._following: set[Kind] = set()
        self._errors: list[KubeError] = []
        self._stop = threading.Event()

    def track(
        self,
        kinds: Iterable[Kind],
        listed: Callable[[str, str], tuple[list[Obj], str] | None] = lambda *_: None,
    ) -> None:
        """Keep these kinds; the watches start with the first wait.

        A kind `listed` already has (validation read it) starts from that list;
        any other kind's watch starts without a resourceVersion, which gives
        every existing object as ADDED first: a list and a watch in one request.
        """
        for key in kinds:
            if key in self._versions:
                continue
            self._objects.setdefault(key, {})
            found = listed(*key)
            if found is None:
                self._versions[key] = ""
                continue
            items, self._versions[key] = found
            self._store(key, [copy.deepcopy(o) for o in items])

    def follow(self) -> None:
        """Start a watch per tracked kind from where its list left off (once)."""
        for key, version in self._versions.items():
            if key not in self._following:
                self._following.add(key)
                name = f"watch-{key[1]}"
                threading.Thread(
                    target=self._run, args=(key, version), name=name, daemon=True
                ).start()

    # -- reads (under the lock: a consistent snapshot per call) -------------------------

    def objects(self, api_version: str, kind: str) -> list[Obj]:
        with self.changed:
            return list(self._objects.get((api_version, kind), {}).values())

    def get(self, api_version: str, kind: str, name: str) -> Obj | None:
        with self.changed:
            return self._objects.get((api_version, kind), {}).get(name)

    def owned_by(self, api_version: str, kind: str, owner_uid: str) -> list[Obj]:
        with self.changed:
            return list(self._owned.get(((api_version, kind), owner_uid), {}).values())

    def events_about(self, name: str) -> list[Obj]:
        with self.changed:
            return list(self._events.get(name, {}).values())

    # -- waiting ----------------------------------------------------------------------

    def wait_for_change(self, timeout: float) -> None:
        with self.changed:
            if not self._dirty and not self._poked:
                self.changed.wait(timeout=max(0.0, timeout))
            self._poked = False
        self._raise_errors()

    def take_changed(self) -> set[str]:
        """The uids that changed (with every owner above them) since the last call."""
        with self.changed:
            dirty, self._dirty = self._dirty, set()
        return dirty

    def poke(self) -> None:
        """Wake the waiter: something outside the cluster (an apply finishing) happened."""
        with self.changed:
            self._poked = True
            self.changed.notify_all()

    def stop(self) -> None:
        self._stop.set()
        with self.changed:
            self.changed.notify_all()

    def _raise_errors(self) -> None:
        if self._errors:
            raise self._errors[0]

    # -- the watch loops --------------------------------------------------------------

    def _mark(self, obj: Obj) -> None:
        """Mark an object and every owner above it changed (caller holds the lock)."""
        pending = [_uid(obj)]
        if obj.get("kind") == "Event":
            pending = [(obj.get("involvedObject") or {}).get("uid", "")]
        seen: set[str] = set()
        while pending:
            uid = pending.pop()
            if uid and uid not in seen:
                seen.add(uid)
                pending += self._owner_of.get(uid, [])
        self._dirty |= seen

    def _index(self, key: Kind, obj: Obj, present: bool) -> None:
        """Keep the owner and event indexes (caller holds the lock)."""
        name = obj["metadata"]["name"]
        if key == EVENT:
            about = (obj.get("involvedObject") or {}).get("name", "")
            events = self._events.setdefault(about, {})
            if present:
                events[name] = obj
            else:
                events.pop(name, None)
            return
        uid = _uid(obj)
        for owner in _owners(obj):
            owned = self._owned.setdefault((key, owner), {})
            if present:
                owned[name] = obj
            else:
                owned.pop(name, None)
        if present:
            self._owner_of[uid] = _owners(obj)

    def _store(self, key: Kind, items: list[Obj]) -> None:
        with self.changed:
            for old in self._objects[key].values():
                self._index(key, old, present=False)
            self._objects[key] = {}
            for obj in items:
                obj.setdefault("apiVersion", key[0])
                obj.setdefault("kind", key[1])
                self._objects[key][obj["metadata"]["name"]] = obj
                self._index(key, obj, present=True)
                self._mark(obj)
            self.changed.notify_all()

    def _run(self, key: Kind, version: str) -> None:
        try:
            while not self._stop.is_set():
                try:
                    while not self._stop.is_set():
                        if not version:  # the watch replays every object: forget the old ones
                            self._store(key, [])
                        began = time.monotonic()
                        version = self._follow(key, version)
                        if time.monotonic() - began < 1.0:
                            self._stop.wait(0.5)  # a watch that keeps dropping: don't hammer
                except Gone:
                    items, version = self.cluster.list(*key, self.namespace)  # list again
                    self._store(key, items)
        except Exception as error:  # the waiter must hear of it, or the cache freezes silently
            failure = (
                error if isinstance(error, KubeError) else KubeError(f"watch {key[1]}: {error}")
            )
            with self.changed:
                self._errors.append(failure)
                self.changed.notify_all()

    def _follow(self, key: Kind, version: str) -> str:
        api_version, kind = key
        for event, obj in self.cluster.watch(
            api_version, kind, self.namespace, version, WATCH_SECONDS
        ):
            if self._stop.is_set():
                break
            version = obj.get("metadata", {}).get("resourceVersion", version)
            if event == "BOOKMARK":
                continue
            obj.setdefault("apiVersion", api_version)
            obj.setdefault("kind", kind)
            name = obj["metadata"]["name"]
            with self.changed:
                objects = self._objects[key]
                if name in objects:
                    self._index(key, objects[name], present=False)
                if event == "DELETED":
                    objects.pop(name, None)
                elif event in ("ADDED", "MODIFIED"):
                    objects[name] = obj
                    self._index(key, obj, present=True)
                self._mark(obj)
                self.changed.notify_all()
        return version
