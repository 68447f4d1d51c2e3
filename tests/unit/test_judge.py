"""The judge: a pure verdict on one workload from a snapshot of the cluster (plain dicts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deployctl.deploy.judge import VOLUME_BINDING_GRACE, Expectations, judge

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Snapshot:
    """The judge's view of the cluster, from lists of objects (what the watch caches hold)."""

    def __init__(self, *objects: dict) -> None:
        self.objects = list(objects)

    def get(self, api_version, kind, name):
        return next(
            (o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name), None
        )

    def owned_by(self, api_version, kind, owner_uid):
        return [
            o
            for o in self.objects
            if o["kind"] == kind
            and any(r["uid"] == owner_uid for r in o["metadata"].get("ownerReferences", []))
        ]

    def events_about(self, name):
        return [
            o for o in self.objects if o["kind"] == "Event" and o["involvedObject"]["name"] == name
        ]


def deployment(ready: int = 2, replicas: int | None = 2, generation: int = 1, revision="2"):
    spec = {"selector": {}, "template": {}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "api",
            "uid": "d1",
            "generation": generation,
            "annotations": {"deployment.kubernetes.io/revision": revision},
        },
        "spec": spec,
        "status": {
            "observedGeneration": generation,
            "replicas": replicas or 1,
            "updatedReplicas": replicas or 1,
            "readyReplicas": ready,
            "availableReplicas": ready,
        },
    }


def replica_set(uid: str, revision: str) -> dict:
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"api-{uid}",
            "uid": uid,
            "annotations": {"deployment.kubernetes.io/revision": revision},
            "ownerReferences": [{"uid": "d1"}],
        },
    }


def pod(name: str, owner: str, ready: bool = True, waiting: str | None = None, **status) -> dict:
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    conditions += status.pop("conditions", [])
    container = {"name": "api", "ready": ready, "restartCount": 3 if waiting else 0}
    container["state"] = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "kind": "Pod",
        "metadata": {"name": name, "uid": name, "ownerReferences": [{"uid": owner}]},
        "spec": {"containers": [{"name": "api"}], "restartPolicy": "Always"},
        "status": {"phase": "Running", "conditions": conditions, "containerStatuses": [container]}
        | status,
    }


def event(reason: str, about: str, kind: str = "Pod", seconds_ago: float = 0) -> dict:
    return {
        "kind": "Event",
        "metadata": {"name": f"{about}.{reason}"},
        "reason": reason,
        "message": f"{reason} happened",
        "involvedObject": {"kind": kind, "name": about},
        "lastTimestamp": stamp(seconds_ago),
    }


def test_a_deployment_with_every_pod_of_its_revision_ready_is_healthy() -> None:
    live = deployment()
    snapshot = Snapshot(live, replica_set("rs2", "2"), pod("a", "rs2"), pod("b", "rs2"))

    verdict = judge(live, snapshot, Expectations(), NOW)

    assert verdict.healthy
    assert verdict.message == "2/2 available"


def test_a_crash_looping_pod_of_the_new_revision_fails_naming_the_pod() -> None:
    live = deployment(ready=1)
    snapshot = Snapshot(
        live, replica_set("rs2", "2"), pod("a", "rs2"), pod("b", "rs2", False, "CrashLoopBackOff")
    )

    verdict = judge(live, snapshot, Expectations(), NOW)

    assert verdict.failed
    assert "pod b" in verdict.message and "CrashLoopBackOff" in verdict.message
    assert verdict.pod["metadata"]["name"] == "b"  # its events and logs are shown


def crash_looping(name: str, restarts: int) -> dict:
    crashing = pod(name, "rs2", False, "CrashLoopBackOff")
    crashing["status"]["containerStatuses"][0]["restartCount"] = restarts
    return crashing


def test_restarts_within_the_allowance_are_reported_and_waited_out() -> None:
    live = deployment(ready=1)
    snapshot = Snapshot(live, replica_set("rs2", "2"), pod("a", "rs2"), crash_looping("b", 1))

    verdict = judge(live, snapshot, Expectations(restarts_allowed=2), NOW)

    assert not verdict.failed and not verdict.healthy
    assert "pod b: container api restarted 1 time (2 allowed)" in verdict.message


def test_one_restart_more_than_allowed_fails_with_the_crash_loop() -> None:
    live = deployment(ready=1)
    snapshot = Snapshot(live, replica_set("rs2", "2"), pod("a", "rs2"), crash_looping("b", 2))

    verdict = judge(live, snapshot, Expectations(restarts_allowed=2), NOW)

    assert verdict.failed
    assert verdict.message == (
        "Deployment api: pod b: container api: CrashLoopBackOff (restarted 2 times)"
    )
    assert verdict.pod["metadata"]["name"] == "b"


def test_without_an_allowance_the_first_crash_loop_fails() -> None:
    live = deployment(ready=1)
    snapshot = Snapshot(live, replica_set("rs2", "2"), pod("a", "rs2"), crash_looping("b", 1))

    assert judge(live, snapshot, Expectations(), NOW).failed


def test_a_failing_pod_of_an_older_revision_does_not_fail_the_fix() -> None:
    live = deployment(ready=2)
    snapshot = Snapshot(
        live,
        replica_set("rs1", "1"),
        replica_set("rs2", "2"),
        pod("old", "rs1", False, "CrashLoopBackOff"),
        pod("a", "rs2"),
        pod("b", "rs2"),
    )

    assert judge(live, snapshot, Expectations(), NOW).healthy


def test_status_older_than_our_apply_is_not_believed() -> None:
    live = deployment(generation=3)

    verdict = judge(live, Snapshot(live), Expectations(applied_generation=4), NOW)

    assert not verdict.healthy and not verdict.failed
    assert "waiting for the update" in verdict.message


def test_an_autoscaled_deployment_waits_for_the_autoscalers_minimum() -> None:
    live = deployment(ready=1, replicas=1)
    snapshot = Snapshot(live, replica_set("rs2", "2"), pod("a", "rs2"))

    verdict = judge(live, snapshot, Expectations(min_replicas=3), NOW)

    assert not verdict.healthy and "1/3 available" in verdict.message


def test_pods_refused_by_admission_fail_the_workload_but_old_refusals_do_not() -> None:
    live = deployment(ready=0)
    refused = event("FailedCreate", "api", kind="Deployment", seconds_ago=0)
    earlier = event("FailedCreate", "api", kind="Deployment", seconds_ago=120)

    now = judge(live, Snapshot(live, refused), Expectations(since=NOW - timedelta(seconds=5)), NOW)
    before = judge(
        live, Snapshot(live, earlier), Expectations(since=NOW - timedelta(seconds=5)), NOW
    )

    assert now.failed and "FailedCreate" in now.message
    assert not before.failed


def test_an_unschedulable_pod_fails_after_the_grace_unless_nodes_are_being_added() -> None:
    live = deployment(ready=0, replicas=1)
    unschedulable = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient cpu.",
        "lastTransitionTime": stamp(20),
    }
    stuck = pod("a", "rs2", ready=False, conditions=[unschedulable], phase="Pending")
    stuck["status"]["containerStatuses"] = []
    snapshot = Snapshot(live, replica_set("rs2", "2"), stuck)
    expect = Expectations(unschedulable_grace=15)

    assert judge(live, snapshot, expect, NOW).failed
    snapshot.objects.append(event("TriggeredScaleUp", "a"))
    assert not judge(live, snapshot, expect, NOW).failed


def test_a_pod_waiting_for_its_volumes_gets_the_longer_grace_until_provisioning_fails() -> None:
    live = deployment(ready=0, replicas=1)
    unbound = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
        "lastTransitionTime": stamp(20),
    }
    waiting = pod("a", "rs2", ready=False, conditions=[unbound], phase="Pending")
    waiting["status"]["containerStatuses"] = []
    waiting["spec"] = {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}]}
    snapshot = Snapshot(live, replica_set("rs2", "2"), waiting)
    expect = Expectations(unschedulable_grace=15)

    assert not judge(live, snapshot, expect, NOW).failed
    snapshot.objects.append(event("ProvisioningFailed", "c", kind="PersistentVolumeClaim"))
    assert judge(live, snapshot, expect, NOW).failed
    unbound["lastTransitionTime"] = stamp(VOLUME_BINDING_GRACE + 1)
    snapshot.objects.pop()
    assert judge(live, snapshot, expect, NOW).failed


def statefulset(update: str = "v2") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "uid": "s1", "generation": 1},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1,
            "replicas": 1,
            "readyReplicas": 0,
            "currentRevision": "v1",
            "updateRevision": update,
        },
    }


def test_a_statefulset_pod_stuck_on_a_failed_revision_is_named_for_replacement() -> None:
    live = statefulset()
    stuck = pod("db-0", "s1", ready=False, waiting="CrashLoopBackOff")
    stuck["metadata"]["labels"] = {"controller-revision-hash": "v1"}
    snapshot = Snapshot(live, stuck)

    restoring = judge(live, snapshot, Expectations(replace_stuck_pods=True), NOW)
    deploying = judge(live, snapshot, Expectations(), NOW)

    assert restoring.replace == (("db-0", "db-0"),)  # name and uid: a retry spares its successor
    assert deploying.replace == ()  # only a rollback replaces pods
    assert not restoring.failed  # the stuck pod is on the old revision: not this one's failure


def test_a_workload_not_seen_yet_is_in_progress() -> None:
    verdict = judge(deployment(), Snapshot(), Expectations(), NOW)

    assert not verdict.healthy and "not seen yet" in verdict.message
