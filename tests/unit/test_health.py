"""Health rules per kind, on plain dicts (kubectl rollout status / kstatus semantics)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deployctl.health import (
    GENERATION_NOT_OBSERVED,
    KINDS,
    HealthState,
    Replicas,
    deployment_health,
    index_by_owner,
    not_ready_reason,
    object_health,
    pod_problem,
    ready_count,
    rules_for,
    statefulset_health,
    workload_pods,
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
    assert deployment_health(deployment()).state is HealthState.CURRENT
    assert deployment_health(deployment(generation=3)).state is HealthState.IN_PROGRESS
    assert deployment_health(deployment(updatedReplicas=2)).state is HealthState.IN_PROGRESS
    surplus = deployment()
    surplus["status"]["replicas"] = 4
    assert deployment_health(surplus).message.startswith("1 old")
    assert deployment_health(deployment(availableReplicas=1)).message == "1/3 available"


def test_deployment_under_an_autoscaler_waits_for_min_replicas() -> None:
    new = deployment(replicas=1)
    new["status"].update(replicas=1, updatedReplicas=1, availableReplicas=1)
    assert deployment_health(new, min_ready=3).state is HealthState.IN_PROGRESS
    assert deployment_health(deployment(), min_ready=3).state is HealthState.CURRENT


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
    assert deployment_health(stuck).state is HealthState.FAILED
    assert deployment_health(forbidden).message == "FailedCreate: pods forbidden"


def statefulset(**status) -> dict:
    base = {
        "observedGeneration": 1,
        "replicas": 3,
        "currentReplicas": 3,
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
    assert statefulset_health(statefulset()).state is HealthState.CURRENT
    assert statefulset_health(statefulset(readyReplicas=2)).message == "2/3 ready"
    rolling = statefulset(updateRevision="b", updatedReplicas=1)
    assert statefulset_health(rolling).state is HealthState.IN_PROGRESS
    on_delete = statefulset(updateRevision="b")
    on_delete_obj = {**on_delete, "spec": {"replicas": 3, "updateStrategy": {"type": "OnDelete"}}}
    assert statefulset_health(on_delete_obj).state is HealthState.CURRENT


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


def crash_looping(restarts: int, reason: str = "CrashLoopBackOff") -> dict:
    crashing = pod(waiting=reason)
    crashing["status"]["containerStatuses"][0]["restartCount"] = restarts
    return crashing


def test_a_crash_loop_within_the_allowed_restarts_is_waited_out_and_one_more_fails() -> None:
    # CrashLoopBackOff at restart count n: the kubelet backs off before restart n + 1.
    assert pod_problem(crash_looping(1), restarts_allowed=2) is None
    assert pod_problem(crash_looping(2), restarts_allowed=2) == (
        "pod web-1: container app: CrashLoopBackOff: back-off 40s (restarted 2 times)"
    )
    # The default allows none: the first CrashLoopBackOff fails.
    assert pod_problem(crash_looping(0)) is not None
    assert pod_problem(crash_looping(1), restarts_allowed=1) is not None


def test_allowed_restarts_do_not_excuse_other_fatal_states() -> None:
    assert pod_problem(crash_looping(0, "ImagePullBackOff"), restarts_allowed=2) is not None
    assert pod_problem(crash_looping(0, "CreateContainerConfigError"), restarts_allowed=2)


def test_a_first_start_the_runtime_failed_is_retried_and_a_second_fails() -> None:
    # runc failing to set up a container on a busy node: the kubelet starts it again.
    assert pod_problem(crash_looping(0, "RunContainerError")) is None
    assert pod_problem(crash_looping(1, "RunContainerError")) == (
        "pod web-1: container app: RunContainerError: back-off 40s (restarted 1 times)"
    )


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
    assert object_health(deleting).state is HealthState.TERMINATING
    claim = {"kind": "PersistentVolumeClaim", "metadata": {}, "status": {"phase": "Pending"}}
    assert object_health(claim).healthy  # waits for its first consumer


def custom(*conditions, generation=1, observed=1, **metadata) -> dict:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Database",
        "metadata": {"name": "db", "generation": generation, **metadata},
        "status": {"observedGeneration": observed, "conditions": list(conditions)},
    }


def test_custom_resources_follow_the_generic_rules() -> None:
    assert object_health(custom()).healthy  # no conditions to read: nothing to wait for
    assert object_health(custom(generation=2)).state is HealthState.IN_PROGRESS
    assert object_health(custom(generation=2)).reason == GENERATION_NOT_OBSERVED
    reconciling = {"type": "Reconciling", "status": "True", "reason": "Provisioning"}
    stalled = {"type": "Stalled", "status": "True", "reason": "NoQuota", "message": "out of disk"}
    not_ready = {"type": "Ready", "status": "False", "reason": "Booting"}
    assert object_health(custom(reconciling)).state is HealthState.IN_PROGRESS
    assert object_health(custom(stalled)).failed
    assert object_health(custom(stalled)).message == "NoQuota: out of disk"
    assert object_health(custom(not_ready)).message == "not Ready: Booting"
    assert object_health(custom({"type": "Ready", "status": "True"})).healthy
    deleting = custom(deletionTimestamp="2026-01-01T00:00:00Z")
    assert object_health(deleting).state is HealthState.TERMINATING


def test_the_generic_rules_come_before_a_kinds_own() -> None:
    stalled = deployment(conditions=[{"type": "Stalled", "status": "True", "reason": "Broken"}])
    assert object_health(stalled).failed
    deleting = deployment()
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert deployment_health(deleting).state is HealthState.TERMINATING
    # The judge skips a workload's pods while its spec is not observed: it reads "observe".
    assert "observe" in deployment_health(deployment(generation=3)).message


def test_kinds_are_looked_up_by_api_group_and_kind() -> None:
    assert rules_for({"apiVersion": "apps/v1", "kind": "Deployment"}) is KINDS["apps", "Deployment"]
    assert rules_for({"apiVersion": "extensions/v1beta1", "kind": "Deployment"}) is not None
    assert rules_for({"apiVersion": "example.com/v1", "kind": "Deployment"}) is None
    assert rules_for({"kind": "Deployment"}) is KINDS["apps", "Deployment"]  # no apiVersion
    lookalike = {**deployment(), "apiVersion": "example.com/v1", "status": {}}
    assert object_health(lookalike).healthy  # not a Deployment: nothing says it waits


def test_a_workload_without_spec_or_status_is_in_progress_not_an_error() -> None:
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        bare = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"generation": 1}}
        assert object_health(bare).state is HealthState.IN_PROGRESS, kind


def test_deployment_waits_for_the_controllers_conditions() -> None:
    done = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
    updating = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}
    with_deadline = deployment(conditions=[updating])
    with_deadline["spec"]["progressDeadlineSeconds"] = 600
    assert deployment_health(with_deadline).state is HealthState.IN_PROGRESS
    with_deadline["status"]["conditions"] = [done]
    assert deployment_health(with_deadline).healthy
    unavailable = deployment(conditions=[{"type": "Available", "status": "False"}])
    assert deployment_health(unavailable).state is HealthState.IN_PROGRESS


def test_deployment_scaling_down_waits_for_the_surplus_to_go() -> None:
    scaling_down = deployment(replicas=2, updatedReplicas=3, availableReplicas=3)
    assert deployment_health(scaling_down).message == "1 surplus replicas are pending termination"


def test_statefulset_counts_current_and_surplus_replicas_and_an_autoscalers_minimum() -> None:
    assert statefulset_health(statefulset(currentReplicas=2)).state is HealthState.IN_PROGRESS
    assert statefulset_health(statefulset(replicas=4)).message.startswith("1 surplus")
    assert statefulset_health(statefulset(), min_ready=5).message == "3/5 ready"
    assert object_health(statefulset(), min_ready=5).message == "3/5 ready"


def daemonset(**status) -> dict:
    base = {
        "observedGeneration": 1,
        "desiredNumberScheduled": 2,
        "currentNumberScheduled": 2,
        "updatedNumberScheduled": 2,
        "numberAvailable": 2,
        "numberReady": 2,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "generation": 1},
        "status": {**base, **status},
    }


def test_daemonset_waits_for_its_desired_count_and_every_pod_counted() -> None:
    assert object_health(daemonset()).message == "2/2 available"
    uncounted = daemonset()
    del uncounted["status"]["desiredNumberScheduled"]
    assert object_health(uncounted).state is HealthState.IN_PROGRESS
    assert object_health(daemonset(numberReady=1)).message == "1/2 ready"
    assert object_health(daemonset(updatedNumberScheduled=1)).message == "1/2 updated"


def job(*conditions, suspend=None, **status) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "generation": 1},
        "spec": {"completions": 1} | ({"suspend": suspend} if suspend is not None else {}),
        "status": {"conditions": list(conditions), **status},
    }


def test_a_job_is_done_when_complete_failed_when_failed_and_current_when_suspended() -> None:
    running = job(startTime="2026-01-01T00:00:00Z", active=1)
    assert object_health(job()).message == "not started"
    assert object_health(running).message == "0/1 succeeded, 1 active"
    assert object_health(job({"type": "Complete", "status": "True"})).healthy
    failed = job({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"})
    assert object_health(failed).message == "BackoffLimitExceeded"
    suspended = job({"type": "Suspended", "status": "True"}, suspend=True)
    assert object_health(suspended).healthy
    assert object_health(job(suspend=True)).state is HealthState.IN_PROGRESS  # not suspended yet


def test_claims_crds_and_load_balancers() -> None:
    unseen = {"kind": "PersistentVolumeClaim", "metadata": {}}
    lost = {"kind": "PersistentVolumeClaim", "metadata": {}, "status": {"phase": "Lost"}}
    assert object_health(unseen).state is HealthState.IN_PROGRESS
    assert object_health(lost).failed
    names = {"type": "NamesAccepted", "status": "False", "reason": "ListKindConflict"}
    crd = {"kind": "CustomResourceDefinition", "metadata": {}, "status": {"conditions": [names]}}
    assert object_health(crd).failed
    balancer = {"kind": "Service", "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.9"}}
    assert object_health(balancer).message == "waiting for a load balancer address"
    balancer["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
    assert object_health(balancer).healthy


def owned(kind: str, name: str, owner: str, **metadata) -> dict:
    meta = {"name": name, "uid": name, "ownerReferences": [{"uid": owner}], **metadata}
    return {"kind": kind, "metadata": meta}


def test_the_pods_of_a_workload_are_those_of_its_current_revision() -> None:
    revision = "deployment.kubernetes.io/revision"
    web = {**deployment(), "metadata": {"uid": "d1", "annotations": {revision: "2"}}}
    db = {**statefulset(updateRevision="b"), "metadata": {"uid": "s1"}}
    cron = {"kind": "CronJob", "metadata": {"uid": "c1"}}
    owned_by = index_by_owner(
        [
            owned("ReplicaSet", "rs1", "d1", annotations={revision: "1"}),
            owned("ReplicaSet", "rs2", "d1", annotations={revision: "2"}),
            owned("Pod", "web-old", "rs1"),
            owned("Pod", "web-new", "rs2"),
            owned("Pod", "db-0", "s1", labels={"controller-revision-hash": "a"}),
            owned("Pod", "db-1", "s1", labels={"controller-revision-hash": "b"}),
            owned("Job", "nightly-1", "c1"),
            owned("Pod", "nightly-1-x", "nightly-1"),
        ]
    )

    def names(pods: list[dict]) -> list[str]:
        return [p["metadata"]["name"] for p in pods]

    assert names(workload_pods(web, owned_by)) == ["web-new"]
    assert names(workload_pods(db, owned_by)) == ["db-1"]
    assert workload_pods(cron, owned_by) == []
    assert names(workload_pods({"kind": "Job", "metadata": {"uid": "nightly-1"}}, owned_by)) == [
        "nightly-1-x"
    ]


def test_ready_and_desired_per_kind() -> None:
    assert ready_count(statefulset(readyReplicas=2)) == Replicas(2, 3)
    assert ready_count(daemonset(numberReady=1)) == Replicas(1, 2)
    assert ready_count(job(succeeded=1)) == Replicas(1, 1)
    assert ready_count({"kind": "ConfigMap"}) is None


def test_an_unschedulable_pod_without_a_transition_time_counts_from_its_creation() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    waiting = pod(
        phase="Pending",
        scheduled={"type": "PodScheduled", "status": "False", "reason": "Unschedulable"},
    )
    waiting["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    assert pod_problem(waiting, now=created + timedelta(seconds=5)) is None
    assert pod_problem(waiting, now=created + timedelta(seconds=20)) == (
        "pod web-1 unschedulable for 15 s"
    )
