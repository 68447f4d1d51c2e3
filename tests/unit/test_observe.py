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
    view.track([("v1", "Pod")], listed=lambda *kind: cluster.list(*kind, "ns"))
    view.follow()

    assert cluster.done.wait(5)
    view.stop()

    assert cluster.lists == 2
    assert cluster.watched_from[:3] == ["1", "2", "5"]
    assert set(cluster.watched_from[3:]) <= {"6"}  # later watches resume after the delete
    assert [p["metadata"]["name"] for p in view.objects("v1", "Pod")] == ["a"]
    assert view.get("v1", "Pod", "a")["status"]["phase"] == "Running"


class OwnedPods:
    """A Deployment, its ReplicaSet, and a pod whose change arrives by watch."""

    def __init__(self) -> None:
        self.done = threading.Event()

    def list(self, api_version, kind, namespace):
        objects = {
            "Deployment": [{"metadata": {"name": "api", "uid": "d1", "resourceVersion": "1"}}],
            "ReplicaSet": [
                {
                    "metadata": {
                        "name": "api-1",
                        "uid": "rs1",
                        "resourceVersion": "1",
                        "ownerReferences": [{"uid": "d1"}],
                    }
                }
            ],
            "Pod": [],
        }
        return objects[kind], "1"

    def watch(self, api_version, kind, namespace, version, timeout):
        if kind == "Pod" and version == "" and not self.done.is_set():
            self.done.set()
            yield (
                "ADDED",
                {
                    "metadata": {
                        "name": "api-1-x",
                        "uid": "p1",
                        "resourceVersion": "2",
                        "ownerReferences": [{"uid": "rs1"}],
                    }
                },
            )
        else:
            self.done.wait(5)


def test_a_pod_change_marks_its_replica_set_and_deployment_changed() -> None:
    cluster = OwnedPods()
    view = ClusterView(cluster, "ns")  # type: ignore[arg-type]
    view.track(
        [("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet")],
        listed=lambda *kind: cluster.list(*kind, "ns"),
    )
    view.take_changed()  # what the first lists brought
    view.track([("v1", "Pod")])  # not listed: its watch brings the pods as ADDED
    view.follow()
    assert cluster.done.wait(5)
    view.wait_for_change(2)
    changed = view.take_changed()
    view.stop()

    assert {"p1", "rs1", "d1"} <= changed
    assert [p["metadata"]["name"] for p in view.owned_by("v1", "Pod", "rs1")] == ["api-1-x"]
