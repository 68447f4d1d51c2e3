"""`deployctl status`'s row for one workload, from plain dicts: the pods it reports are
those `up` judges, picked by owner."""

from __future__ import annotations

from deployctl.commands.status import _row
from deployctl.health import index_by_owner

REVISION = "deployment.kubernetes.io/revision"
LABELS = {"app.kubernetes.io/name": "web"}


def deployment(selector: dict, revision: str = "3", ready: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "uid": "d1",
            "generation": 4,
            "annotations": {REVISION: revision},
        },
        "spec": {
            "replicas": 1,
            "selector": selector,
            "template": {"spec": {"containers": [{"name": "web", "image": "web:v1"}]}},
        },
        "status": {
            "observedGeneration": 4,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": ready,
            "availableReplicas": ready,
        },
    }


def replica_set(uid: str, revision: str) -> dict:
    meta = {"name": f"web-{uid}", "uid": uid, "annotations": {REVISION: revision}}
    return {"kind": "ReplicaSet", "metadata": {**meta, "ownerReferences": [{"uid": "d1"}]}}


def pod(name: str, owner: str, waiting: str | None = None, **metadata) -> dict:
    container = {"name": "web", "ready": not waiting, "restartCount": 5 if waiting else 0}
    container["state"] = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    ready = {"type": "Ready", "status": "False" if waiting else "True"}
    meta = {"name": name, "labels": LABELS, "ownerReferences": [{"uid": owner}], **metadata}
    return {
        "kind": "Pod",
        "metadata": meta,
        "status": {"phase": "Running", "conditions": [ready], "containerStatuses": [container]},
    }


def row(live: dict, *objects: dict, events: tuple[dict, ...] = ()) -> dict:
    return _row(live, live, index_by_owner(objects), list(events))


def test_the_pods_of_an_old_revision_are_not_the_workloads_problem() -> None:
    """After a rollback: the failed revision's pod, terminating, has the same labels."""
    web = deployment({"matchLabels": LABELS})
    failed = pod("web-b-1", "b", "CrashLoopBackOff", deletionTimestamp="2026-01-01T12:00:00Z")
    backoff = {
        "kind": "Event",
        "reason": "BackOff",
        "involvedObject": {"name": "web-b-1"},
        "message": "Back-off restarting failed container",
    }

    shown = row(
        web,
        replica_set("a", "3"),
        replica_set("b", "2"),
        pod("web-a-1", "a"),
        failed,
        events=(backoff,),
    )

    assert (shown["health"], shown["ready"], shown["desired"]) == ("Current", 1, 1)
    assert shown["problems"] == []
    assert shown["unhealthy"] is False


def test_a_selector_of_match_expressions_finds_the_workloads_pods() -> None:
    name_is_web = {"key": "app.kubernetes.io/name", "operator": "In", "values": ["web"]}
    web = deployment({"matchExpressions": [name_is_web]})

    shown = row(web, replica_set("a", "3"), pod("web-a-1", "a", "CrashLoopBackOff"))

    assert shown["problems"] == ["pod web-a-1: container web: CrashLoopBackOff (restarted 5 times)"]
    assert shown["unhealthy"] is True


def test_a_pod_with_the_labels_but_another_owner_is_not_the_workloads() -> None:
    web = deployment({"matchLabels": LABELS})
    debugging = pod("web-debug", "someone-else", "CrashLoopBackOff")

    shown = row(web, replica_set("a", "3"), pod("web-a-1", "a"), debugging)

    assert shown["problems"] == [] and shown["unhealthy"] is False
