"""The watch loop behind every wait: it lists again after 410 Gone and resumes after a
dropped watch. Driven by a scripted stand-in for the cluster (pure loop logic)."""

from __future__ import annotations

import threading

from deployctl.kube import Gone
from deployctl.observe import ClusterView


def pod(name: str, version: str, phase: str = "Pending") -> dict:
    return {"metadata": {"name": name, "resourceVersion": version}, "status": {"phase": phase}}


class ScriptedCluster:
    """Answers list and watch calls from a script, recording what was asked."""

    def __init__(self) -> None:
        self.lists = 0
        self.watched_from: list[str] = []
        self.done = threading.Event()

    def list(self, api_version, kind, namespace):
        self.lists += 1
        if self.lists == 1:
            return [pod("a", "1")], "1"
        return [pod("a", "5", "Running"), pod("b", "5")], "5"

    def watch(self, api_version, kind, namespace, version, timeout):
        self.watched_from.append(version)
        calls = len(self.watched_from)
        if calls == 1:
            yield "MODIFIED", pod("a", "2", "Running")
            return  # the connection dropped: resume from "2"
        if calls == 2:
            raise Gone("too old")  # list again
        if calls == 3:
            yield "DELETED", pod("b", "6")
            self.done.set()


def test_a_dropped_watch_resumes_and_410_gone_lists_again() -> None:
    cluster = ScriptedCluster()
    view = ClusterView(cluster, "ns")  # type: ignore[arg-type]
    view.track("v1", "Pod")

    assert cluster.done.wait(5)
    view.stop()

    assert cluster.lists == 2
    assert cluster.watched_from[:3] == ["1", "2", "5"]
    assert set(cluster.watched_from[3:]) <= {"6"}  # later watches resume after the delete
    assert [p["metadata"]["name"] for p in view.objects("v1", "Pod")] == ["a"]
    assert view.get("v1", "Pod", "a")["status"]["phase"] == "Running"
