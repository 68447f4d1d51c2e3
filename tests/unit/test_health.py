"""Health rules per kind, on plain dicts (kubectl rollout status / kstatus semantics)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deployctl.health import (
    State,
    deployment_health,
    not_ready_reason,
    object_health,
    pod_problem,
    statefulset_health,
)


def deployment(replicas=3, generation=2, **status) -> dict:
    base = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {**base, **status},
    }


def test_deployment_is_current_only_when_rollout_is_complete() -> None:
    assert deployment_health(deployment()).state is State.CURRENT
    assert deployment_health(deployment(generation=3)).state is State.IN_PROGRESS
    assert deployment_health(deployment(updatedReplicas=2)).state is State.IN_PROGRESS
    surplus = deployment()
    surplus["status"]["replicas"] = 4
    assert deployment_health(surplus).message.startswith("1 old")
    assert deployment_health(deployment(availableReplicas=1)).message == "1/3 available"


def test_deployment_under_an_autoscaler_waits_for_min_replicas() -> None:
    new = deployment(replicas=1)
    new["status"].update(replicas=1, updatedReplicas=1, availableReplicas=1)
    assert deployment_health(new, min_ready=3).state is State.IN_PROGRESS
    assert deployment_health(deployment(), min_ready=3).state is State.CURRENT


def test_deployment_fails_on_progress_deadline_and_replica_failure() -> None:
    stuck = deployment(
        conditions=[
            {
                "type": "Progressing",
                "reason": "ProgressDeadlineExceeded",
                "message": "ReplicaSet web-1 has timed out",
            }
        ]
    )
    forbidden = deployment(
        conditions=[
            {
                "type": "ReplicaFailure",
                "status": "True",
                "reason": "FailedCreate",
                "message": "pods forbidden",
            }
        ]
    )
    assert deployment_health(stuck).state is State.FAILED
    assert deployment_health(forbidden).message == "FailedCreate: pods forbidden"


def statefulset(**status) -> dict:
    base = {
        "observedGeneration": 1,
        "readyReplicas": 3,
        "currentRevision": "a",
        "updateRevision": "a",
        "updatedReplicas": 3,
    }
    return {
        "kind": "StatefulSet",
        "metadata": {"generation": 1},
        "spec": {"replicas": 3},
        "status": {**base, **status},
    }


def test_statefulset_waits_for_ready_replicas_and_converged_revisions() -> None:
    assert statefulset_health(statefulset()).state is State.CURRENT
    assert statefulset_health(statefulset(readyReplicas=2)).message == "2/3 ready"
    rolling = statefulset(updateRevision="b", updatedReplicas=1)
    assert statefulset_health(rolling).state is State.IN_PROGRESS
    on_delete = statefulset(updateRevision="b")
    on_delete_obj = {**on_delete, "spec": {"replicas": 3, "updateStrategy": {"type": "OnDelete"}}}
    assert statefulset_health(on_delete_obj).state is State.CURRENT


def pod(*, waiting=None, scheduled=None, phase="Running") -> dict:
    status: dict = {"phase": phase, "conditions": []}
    if waiting:
        status["containerStatuses"] = [
            {
                "name": "app",
                "restartCount": 4,
                "ready": False,
                "state": {"waiting": {"reason": waiting, "message": "back-off 40s"}},
            }
        ]
    if scheduled:
        status["conditions"].append(scheduled)
    return {
        "kind": "Pod",
        "metadata": {"name": "web-1"},
        "spec": {"restartPolicy": "Always"},
        "status": status,
    }


def test_fatal_container_states_are_failures_naming_pod_container_and_reason() -> None:
    for reason in (
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
    ):
        problem = pod_problem(pod(waiting=reason))
        assert problem == f"pod web-1: container app: {reason}: back-off 40s (restarted 4 times)"
    assert pod_problem(pod(waiting="ContainerCreating")) is None


def test_unschedulable_is_a_failure_only_after_the_grace_period() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    unschedulable = pod(
        phase="Pending",
        scheduled={
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
            "message": "0/3 nodes are available",
        },
    )

    assert pod_problem(unschedulable, now=since + timedelta(seconds=5)) is None
    late = pod_problem(unschedulable, now=since + timedelta(seconds=16))
    assert late == "pod web-1 unschedulable for 15 s: 0/3 nodes are available"


def test_not_ready_reason_says_what_is_missing() -> None:
    running = pod()
    running["status"]["containerStatuses"] = [
        {"name": "app", "ready": False, "state": {"running": {}}}
    ]
    assert "readiness probe not passing" in not_ready_reason(running)


def test_objects_without_rules_are_current_unless_deleting() -> None:
    assert object_health({"kind": "ConfigMap", "metadata": {}}).healthy
    deleting = {"kind": "ConfigMap", "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert object_health(deleting).state is State.TERMINATING
    claim = {"kind": "PersistentVolumeClaim", "metadata": {}, "status": {"phase": "Pending"}}
    assert object_health(claim).healthy  # waits for its first consumer
