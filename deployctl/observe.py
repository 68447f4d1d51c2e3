"""A live, watch-fed view of the kinds a deploy waits on, in one namespace.

One list-then-watch loop per kind (not per object) keeps a local copy of
every object; waiters block on a condition that is notified on every change,
so health is re-judged as soon as the cluster moves — no sleep-polling. A
watch that ends (timeout, dropped connection) resumes from the last
resourceVersion; a 410 Gone lists again.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from deployctl.kube import Cluster, Gone, KubeError

Obj = dict[str, Any]
WATCH_SECONDS = 60


class ClusterView:
    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.changed = threading.Condition()
        self._objects: dict[tuple[str, str], dict[str, Obj]] = {}
        self._ready: dict[tuple[str, str], threading.Event] = {}
        self._errors: list[KubeError] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def track(self, api_version: str, kind: str) -> None:
        key = (api_version, kind)
        if key in self._ready:
            return
        self._objects[key] = {}
        self._ready[key] = threading.Event()
        thread = threading.Thread(target=self._run, args=key, name=f"watch-{kind}", daemon=True)
        self._threads.append(thread)
        thread.start()
        self._ready[key].wait(timeout=30)

    def objects(self, api_version: str, kind: str) -> list[Obj]:
        with self.changed:
            return list(self._objects.get((api_version, kind), {}).values())

    def get(self, api_version: str, kind: str, name: str) -> Obj | None:
        with self.changed:
            return self._objects.get((api_version, kind), {}).get(name)

    def wait_for_change(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait(timeout=max(0.0, timeout))
        if self._errors:
            raise self._errors[0]

    def stop(self) -> None:
        self._stop.set()
        with self.changed:
            self.changed.notify_all()

    def _store(self, key: tuple[str, str], objects: dict[str, Obj]) -> None:
        with self.changed:
            self._objects[key] = objects
            self.changed.notify_all()

    def _run(self, api_version: str, kind: str) -> None:
        key = (api_version, kind)
        try:
            while not self._stop.is_set():
                items, version = self.cluster.list(api_version, kind, self.namespace)
                self._store(key, {o["metadata"]["name"]: o for o in items})
                self._ready[key].set()
                try:
                    while not self._stop.is_set():
                        began = time.monotonic()
                        version = self._follow(key, version)
                        if time.monotonic() - began < 1.0:
                            self._stop.wait(0.5)  # a watch that keeps dropping: don't hammer
                except Gone:
                    continue  # list again
        except KubeError as error:
            with self.changed:
                self._errors.append(error)
                self.changed.notify_all()
            self._ready[key].set()

    def _follow(self, key: tuple[str, str], version: str) -> str:
        api_version, kind = key
        for event, obj in self.cluster.watch(
            api_version, kind, self.namespace, version, WATCH_SECONDS
        ):
            if self._stop.is_set():
                break
            obj.setdefault("apiVersion", api_version)
            obj.setdefault("kind", kind)
            name = obj["metadata"]["name"]
            version = obj["metadata"].get("resourceVersion", version)
            with self.changed:
                if event == "DELETED":
                    self._objects[key].pop(name, None)
                elif event in ("ADDED", "MODIFIED"):
                    self._objects[key][name] = obj
                self.changed.notify_all()
        return version
