"""Workload kinds: when a rollout is done (kstatus core.go, with kubectl rollout status's rules).

Each rule runs after the generic ones (generic.py), so the controller has
observed the latest spec by the time it reads the counts. `min_ready` is an
autoscaler's minReplicas: a new autoscaled workload is done once that many
replicas are up, whatever its spec says.
"""

from __future__ import annotations

from typing import NamedTuple

from .status import (
    HealthStatus,
    Obj,
    condition,
    condition_is,
    count,
    current,
    described,
    failed,
    in_progress,
    meta_of,
    spec_of,
    status_of,
)

NO_PROGRESS_DEADLINE = 2**31 - 1  # what the Deployment controller takes for "no deadline"


class Replicas(NamedTuple):
    ready: int
    desired: int


def check_deployment(obj: Obj, min_ready: int | None = None) -> HealthStatus:
    if stuck := _deployment_failure(obj):
        return stuck
    status = status_of(obj)
    replicas = count(spec_of(obj), "replicas", 1)
    wanted = max(replicas, min_ready or 0)
    updated = count(status, "updatedReplicas")
    available = count(status, "availableReplicas")
    total = count(status, "replicas")
    if updated < replicas:
        return in_progress(f"{updated}/{replicas} updated, {available} available")
    if total > updated:
        return in_progress(f"{total - updated} old replicas are pending termination")
    if total > replicas:
        return in_progress(f"{total - replicas} surplus replicas are pending termination")
    # kstatus also compares readyReplicas to spec.replicas: available pods are ready pods.
    if available < max(updated, wanted):
        return in_progress(f"{available}/{wanted} available")
    return _deployment_conditions(obj) or current(f"{available}/{wanted} available")


def _deployment_failure(obj: Obj) -> HealthStatus | None:
    progressing = condition(obj, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        message = f"progress deadline exceeded: {progressing.get('message', '')}".strip()
        return failed(message, "ProgressDeadlineExceeded")
    if replica_failure := condition_is(obj, "ReplicaFailure"):
        message = f"{replica_failure.get('reason', 'ReplicaFailure')}: "
        return failed(message + replica_failure.get("message", ""), "ReplicaFailure")
    return None


def _deployment_conditions(obj: Obj) -> HealthStatus | None:
    """The counts are there; the controller's conditions must agree.

    With a progress deadline, the controller reports a finished rollout as
    Progressing=True, reason NewReplicaSetAvailable. An Available condition
    that is not True means too few pods are available for its strategy.
    """
    deadline = count(spec_of(obj), "progressDeadlineSeconds", NO_PROGRESS_DEADLINE)
    progressing = condition(obj, "Progressing") or {}
    finished = progressing.get("status") == "True" and (
        progressing.get("reason") == "NewReplicaSetAvailable"
    )
    if deadline != NO_PROGRESS_DEADLINE and not finished:
        said = described(progressing, "no Progressing condition yet")
        return in_progress(f"rollout not reported complete ({said})", "ReplicaSetNotAvailable")
    available = condition(obj, "Available")
    if available and available.get("status") != "True":
        said = described(available, f"Available={available.get('status')}")
        return in_progress(f"not Available: {said}", "DeploymentNotAvailable")
    return None


def check_statefulset(obj: Obj, min_ready: int | None = None) -> HealthStatus:
    spec, status = spec_of(obj), status_of(obj)
    replicas = count(spec, "replicas", 1)
    wanted = max(replicas, min_ready or 0)
    ready = count(status, "readyReplicas")
    if ready < wanted:
        return in_progress(f"{ready}/{wanted} ready")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":  # pods change when someone deletes them
        return current(f"{ready}/{wanted} ready")
    total = count(status, "replicas")
    if total > replicas:
        return in_progress(f"{total - replicas} surplus replicas are pending termination")
    partition = count(strategy.get("rollingUpdate") or {}, "partition")
    updated = count(status, "updatedReplicas")
    if partition:
        if updated < replicas - partition:
            return in_progress(f"{updated}/{replicas - partition} updated (partition {partition})")
        return current(f"{ready}/{wanted} ready, partition {partition}")
    if status.get("updateRevision") != status.get("currentRevision"):
        return in_progress(f"{updated}/{replicas} pods on the new revision")
    if (on_current := count(status, "currentReplicas")) < replicas:
        return in_progress(f"{on_current}/{replicas} pods on the current revision")
    return current(f"{ready}/{wanted} ready")


DAEMONSET_COUNTS = (
    ("currentNumberScheduled", "scheduled"),
    ("updatedNumberScheduled", "updated"),
    ("numberAvailable", "available"),
    ("numberReady", "ready"),
)


def check_daemonset(obj: Obj) -> HealthStatus:
    status = status_of(obj)
    if meta_of(obj).get("generation") is None:
        return in_progress("no metadata.generation: not yet stored by the API server")
    if count(status, "desiredNumberScheduled", -1) < 0:
        return in_progress("waiting for the controller to count the nodes to run on")
    desired = count(status, "desiredNumberScheduled")
    for field, what in DAEMONSET_COUNTS:
        if (have := count(status, field)) < desired:
            return in_progress(f"{have}/{desired} {what}")
    return current(f"{count(status, 'numberAvailable')}/{desired} available")


def check_replicaset(obj: Obj) -> HealthStatus:
    status = status_of(obj)
    if failure := condition_is(obj, "ReplicaFailure"):  # kstatus: a cause to look at pods
        return in_progress(described(failure, "ReplicaFailure"), "ReplicaFailure")
    replicas = count(spec_of(obj), "replicas", 1)
    for field, what in (
        ("fullyLabeledReplicas", "labelled"),
        ("availableReplicas", "available"),
        ("readyReplicas", "ready"),
    ):
        if (have := count(status, field)) < replicas:
            return in_progress(f"{have}/{replicas} {what}")
    if (total := count(status, "replicas")) > replicas:
        return in_progress(f"{total - replicas} surplus replicas are pending termination")
    return current(f"{count(status, 'availableReplicas')}/{replicas} available")


def check_job(obj: Obj) -> HealthStatus:
    """Done when complete: a Job deployed is a task to finish (kstatus: Current once started)."""
    for kind in ("Failed", "FailureTarget"):
        if found := condition_is(obj, kind):
            return failed(described(found, "Failed"), "JobFailed")
    if condition_is(obj, "Complete"):
        return current("complete")
    suspend, suspended = spec_of(obj).get("suspend") is True, condition_is(obj, "Suspended")
    if suspend and suspended:
        return current("suspended")
    if suspend or suspended:
        return in_progress("being suspended" if suspend else "resuming")
    status = status_of(obj)
    if not status.get("startTime"):
        return in_progress("not started", "JobNotStarted")
    succeeded, active = count(status, "succeeded"), count(status, "active")
    completions = spec_of(obj).get("completions")
    done = f"{succeeded}/{completions}" if isinstance(completions, int) else f"{succeeded}"
    return in_progress(f"{done} succeeded, {active} active")


def replica_counts(obj: Obj) -> Replicas:
    """Deployment, StatefulSet, ReplicaSet: ready pods of spec.replicas."""
    return Replicas(count(status_of(obj), "readyReplicas"), count(spec_of(obj), "replicas", 1))


def daemonset_counts(obj: Obj) -> Replicas:
    status = status_of(obj)
    return Replicas(count(status, "numberReady"), count(status, "desiredNumberScheduled"))


def job_counts(obj: Obj) -> Replicas:
    """Succeeded pods of the completions wanted (1 for a work queue without completions)."""
    return Replicas(count(status_of(obj), "succeeded"), count(spec_of(obj), "completions", 1))
