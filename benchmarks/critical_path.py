"""The critical path of a deploy: what an ideal orchestrator with no overhead would take.

Each component's own time runs from its first workload created to its last pod
Ready. The critical path is the longest chain of those times along the profile's
dependencies: an orchestrator that starts every component the moment what it depends
on is Ready, and spends nothing itself, finishes after exactly that long. (For a
project whose levels are even, that is the sum over the levels of each level's
slowest component.)

Also kept, in latest.json: the per-level figure, each level from its first workload
created to its last pod Ready, summed. It equals the critical path only when the tool
deploys level by level; when a tool starts components out of level order, or late,
the levels overlap or stretch and the sum says more about the tool than the cluster.

Two clocks:

- watch: a watch in the benchmark process stamps each event on arrival with
  time.monotonic(): a Deployment or StatefulSet ADDED, a pod turning Ready.
  Millisecond resolution; this is the figure the report uses.
- server: the API server's creationTimestamp and Ready lastTransitionTime. Whole
  seconds, so each component is off by up to a second; kept as a cross-check.

The foundation (ConfigMaps, Services, ...) is not on the path: an ideal orchestrator
applies it while nothing waits.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubernetes import client, watch

from benchmarks.projects import COMPONENT_LABEL

WATCH_WINDOW_S = 1  # each watch request ends after this long and is resumed
Stamp = tuple[float, float | None]  # (monotonic on arrival, API server's seconds)


def _seconds(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _component(obj: dict) -> str | None:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(COMPONENT_LABEL)


def _ready_since(pod: dict) -> tuple[bool, str | None]:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True", condition.get("lastTransitionTime")
    return False, None


@dataclass
class _Stream:
    """One kind's events, kept by the thread that watches it (merged after stop)."""

    created: dict[str, Stamp] = field(default_factory=dict)  # uid -> (monotonic, server)
    ready: dict[str, Stamp] = field(default_factory=dict)
    component: dict[str, str] = field(default_factory=dict)  # uid -> component
    restarts: int = 0
    error: str = ""


class CriticalPathWatch:
    """Watches workloads and pods in one namespace while a tool deploys into it."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        levels: dict[str, int],
        order: dict[str, list[str]],
    ) -> None:
        self.namespace = namespace
        self.levels = levels
        self.order = {c: [d for d in order.get(c, []) if d in levels] for c in levels}
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        self._lists = {
            "pods": core.list_namespaced_pod,
            "deployments": apps.list_namespaced_deployment,
            "statefulsets": apps.list_namespaced_stateful_set,
        }
        self._streams = {name: _Stream() for name in self._lists}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """List each kind (synchronously, so no event after this can be missed), then watch."""
        for name, lister in self._lists.items():
            version = self._list(lister, self._streams[name], name)
            thread = threading.Thread(target=self._watch, args=(name, lister, version), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, origin: float) -> dict[str, Any]:
        """Stop watching; the timeline per level, in seconds after `origin` (monotonic)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=WATCH_WINDOW_S + 10)
        return self._timeline(origin)

    # -- watching ----------------------------------------------------------------------

    def _list(self, lister, stream: _Stream, name: str) -> str:
        response = lister(self.namespace, _preload_content=False)
        listing = json.loads(response.data)
        for item in listing.get("items") or []:
            self._handle(name, stream, item)
        return listing["metadata"]["resourceVersion"]

    def _watch(self, name: str, lister, version: str) -> None:
        stream = self._streams[name]
        while not self._stop.is_set():
            try:
                events = watch.Watch().stream(
                    lister,
                    self.namespace,
                    resource_version=version,
                    timeout_seconds=WATCH_WINDOW_S,
                    allow_watch_bookmarks=True,
                    deserialize=False,
                )
                for event in events:
                    obj = event.get("object") or {}
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        self._handle(name, stream, obj)
            except Exception as error:  # an expired version (410) or a dropped connection
                stream.restarts += 1
                stream.error = f"{type(error).__name__}: {error}"[:300]
                with contextlib.suppress(Exception):
                    version = self._list(lister, stream, name)

    def _handle(self, name: str, stream: _Stream, obj: dict) -> None:
        now = time.monotonic()
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        component = _component(obj)
        if not uid or component not in self.levels:
            return
        stream.component[uid] = component
        if name != "pods":
            stream.created.setdefault(uid, (now, _seconds(meta.get("creationTimestamp"))))
            return
        ready, since = _ready_since(obj)
        if ready and uid not in stream.ready:
            stream.ready[uid] = (now, _seconds(since))

    # -- the result ----------------------------------------------------------------------

    def _stamps(self) -> tuple[dict[str, list[Stamp]], dict[str, list[Stamp]]]:
        """Per component: its workloads' creation stamps, its pods' Ready stamps."""
        created: dict[str, list[Stamp]] = {}
        ready: dict[str, list[Stamp]] = {}
        for stream in self._streams.values():
            for uid, stamp in stream.created.items():
                created.setdefault(stream.component[uid], []).append(stamp)
            for uid, stamp in stream.ready.items():
                ready.setdefault(stream.component[uid], []).append(stamp)
        return created, ready

    def _timeline(self, origin: float) -> dict[str, Any]:
        created, ready = self._stamps()
        wall_zero = time.time() - (time.monotonic() - origin)  # origin on the wall clock
        clocks = {"watch": (0, origin, 3), "server": (1, wall_zero, 1)}
        result: dict[str, Any] = {}
        for clock, (at, zero, digits) in clocks.items():
            spans: dict[str, tuple[float, float]] = {}  # component -> (first created, last ready)
            for component in self.levels:
                starts = [s[at] for s in created.get(component, []) if s[at] is not None]
                ends = [s[at] for s in ready.get(component, []) if s[at] is not None]
                if starts and ends:
                    spans[component] = (min(starts) - zero, max(ends) - zero)
            path, chain = longest_chain(self.order, spans)
            result[clock] = {
                "critical_path": None if path is None else round(path, digits),
                "chain": chain,
                "critical_path_levels": _levels_sum(self.levels, spans, digits),
            }
        return {
            "critical_path": result["watch"]["critical_path"],
            "critical_path_server": result["server"]["critical_path"],
            "critical_path_levels": result["watch"]["critical_path_levels"],
            "critical_path_levels_server": result["server"]["critical_path_levels"],
            "chain": result["watch"]["chain"],
            "levels": self._level_rows(created, ready, origin),
            "watch_restarts": sum(s.restarts for s in self._streams.values()),
            "watch_errors": sorted({s.error for s in self._streams.values() if s.error}),
        }

    def _level_rows(self, created, ready, origin: float) -> list[dict[str, Any]]:
        """When each level's first workload appeared and its last pod turned Ready (watch)."""
        rows = []
        for level in sorted(set(self.levels.values())):
            members = [c for c, n in self.levels.items() if n == level]
            starts = [s[0] for c in members for s in created.get(c, [])]
            ends = [s[0] for c in members for s in ready.get(c, [])]
            row: dict[str, Any] = {"level": level, "components": len(members), "pods": len(ends)}
            if starts and ends:
                row["first_created"] = round(min(starts) - origin, 3)
                row["last_ready"] = round(max(ends) - origin, 3)
            rows.append(row)
        return rows


def longest_chain(
    order: dict[str, list[str]], spans: dict[str, tuple[float, float]]
) -> tuple[float | None, list[str]]:
    """The longest sum of component times along the dependencies, and that chain.

    None when a component has no complete span (it never got Ready)."""
    if not order or any(c not in spans for c in order):
        return None, []
    finish: dict[str, tuple[float, list[str]]] = {}

    def visit(component: str) -> tuple[float, list[str]]:
        if component not in finish:
            start, end = spans[component]
            below = max((visit(d) for d in order[component]), default=(0.0, []))
            finish[component] = (below[0] + max(0.0, end - start), [*below[1], component])
        return finish[component]

    return max((visit(c) for c in sorted(order)), key=lambda item: item[0])


def _levels_sum(
    levels: dict[str, int], spans: dict[str, tuple[float, float]], digits: int
) -> float | None:
    """The issue's per-level figure: each level's first created to last Ready, summed."""
    if not levels or any(c not in spans for c in levels):
        return None
    total = 0.0
    for level in set(levels.values()):
        members = [spans[c] for c, n in levels.items() if n == level]
        total += max(end for _, end in members) - min(start for start, _ in members)
    return round(total, digits)
