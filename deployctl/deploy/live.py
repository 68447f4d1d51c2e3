"""What the cluster holds of a deploy's objects: how they are keyed, fingerprinted,
and read in bulk — one list per kind in the namespace, not a GET per object.

`LiveState` is what validation reads; the watches of the execution start from it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from deployctl.kube import IN_FLIGHT, Cluster, NotServed
from deployctl.model import Obj

Key = tuple[str, str, str, str]


def object_key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    group = obj.get("apiVersion", "").rpartition("/")[0]
    return group, obj.get("kind", ""), meta.get("namespace") or "", meta.get("name", "")


def record_key(obj: Obj) -> str:
    """The object's key as a string, for the revision record's fingerprints."""
    return "/".join(object_key(obj))


def fingerprint(live: Obj) -> str:
    """What changes whenever anyone writes the object's spec or metadata, and nothing else.

    Status updates (a controller reporting progress) go through the status
    subresource and leave it alone; every other write adds or updates its
    manager's managedFields entry, or recreates the object (a new uid).
    """
    meta = live.get("metadata") or {}
    entries = sorted(
        json.dumps(entry, sort_keys=True)
        for entry in meta.get("managedFields") or []
        if entry.get("subresource") != "status"
    )
    if not entries:  # a server that keeps no managedFields: only the version tells
        entries = [str(meta.get("resourceVersion"))]
    payload = json.dumps([meta.get("uid"), meta.get("generation"), entries])
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


class LiveState:
    """The live objects of a deploy: one list per namespaced kind, a GET per cluster-scoped one."""

    def __init__(self, cluster: Cluster, namespace: str, new_kinds: set[tuple[str, str]]) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.new_kinds = new_kinds  # kinds whose CRD comes with this deploy: nothing live yet
        self._by_kind: dict[tuple[str, str], dict[str, Obj]] = {}
        self.versions: dict[tuple[str, str], str] = {}  # where each list left off
        self._cluster_scoped: dict[Key, Obj | None] = {}
        self._lock = threading.Lock()

    def kind(self, api_version: str, kind: str) -> dict[str, Obj]:
        """Every object of a namespaced kind in the namespace, by name (listed once)."""
        key = (api_version, kind)
        if key not in self._by_kind:
            try:
                items, version = self.cluster.list(api_version, kind, self.namespace)
            except NotServed:
                if key not in self.new_kinds:
                    raise
                items, version = [], ""
            with self._lock:
                self._by_kind[key] = {o["metadata"]["name"]: o for o in items}
                if version:
                    self.versions[key] = version
        return self._by_kind[key]

    def listed(self, api_version: str, kind: str) -> tuple[list[Obj], str] | None:
        """A kind's list and where it left off, if it was listed: a watch can go on from it."""
        key = (api_version, kind)
        if key not in self.versions:
            return None
        return list(self._by_kind[key].values()), self.versions[key]

    def read(self, objects: list[Obj], old_objects: list[Obj]) -> None:
        """Read everything `get` will be asked about, concurrently.

        A kind the cluster does not serve is an error for the objects to
        deploy (unless its CRD comes with them), and nothing for old objects:
        their CRD is gone, and every object of that kind with it.
        """
        wanted = {(o["apiVersion"], o["kind"]) for o in objects}
        namespaced: list[tuple[str, str]] = []
        for api_version, kind in wanted | {(o["apiVersion"], o["kind"]) for o in old_objects}:
            if (api_version, kind) in self.new_kinds:
                namespaced.append((api_version, kind))  # listed as empty until its CRD exists
                continue
            try:
                if self.cluster.resource(api_version, kind).namespaced:
                    namespaced.append((api_version, kind))
            except NotServed:
                if (api_version, kind) in wanted:
                    raise
                self._by_kind[(api_version, kind)] = {}
        scoped = [
            o
            for o in objects + old_objects
            if (o["apiVersion"], o["kind"]) not in namespaced
            and (o["apiVersion"], o["kind"]) not in self._by_kind
        ]
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            list(pool.map(lambda k: self.kind(*k), namespaced))
            found = pool.map(self._get_cluster_scoped, scoped)
            for obj, live in zip(scoped, found, strict=True):
                self._cluster_scoped[object_key(obj)] = live

    def _get_cluster_scoped(self, obj: Obj) -> Obj | None:
        try:
            return self.cluster.read(obj)
        except NotServed:
            return None  # its CRD is gone (with every object of its kind), or comes with us

    def get(self, obj: Obj) -> Obj | None:
        key = object_key(obj)
        if key in self._cluster_scoped:
            return self._cluster_scoped[key]
        if (obj["apiVersion"], obj["kind"]) in self._by_kind or obj["metadata"].get("namespace"):
            return self.kind(obj["apiVersion"], obj["kind"]).get(obj["metadata"]["name"])
        return None
