"""Pods: their health, why one will not become Ready by itself, and which pods a workload has.

`pod_problem(pod)` holds the fail-fast rules the deploy judge applies to a
workload's pods; `check_pod` is a pod's own verdict. The `*_pods` functions
pick the pods of a workload's newest revision from an owner index, so old,
failing pods never fail a fix.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .status import (
    HealthStatus,
    Obj,
    condition,
    condition_is,
    current,
    failed,
    in_progress,
    meta_of,
    parse_time,
    status_of,
)

# (apiVersion, kind, owner uid) -> the objects with that owner: the watch caches' index.
OwnedBy = Callable[[str, str, str], list[Obj]]

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_LABEL = "controller-revision-hash"

# Container waiting reasons that never resolve by waiting.
FATAL_WAITING_REASONS = (
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "RunContainerError",
)


def check_pod(obj: Obj) -> HealthStatus:
    """A pod's own verdict: Failed on a fail-fast problem or a failed run, Current once
    Ready or Succeeded. (kstatus calls a pod that ran and failed Current.)"""
    if problem := pod_problem(obj):
        return failed(problem)
    phase = status_of(obj).get("phase")
    if phase == "Succeeded":
        return current("Succeeded")
    if is_ready(obj):
        return current("Ready")
    if not phase:
        return in_progress("not scheduled or not yet seen by the kubelet")
    return in_progress(f"phase {phase}, not Ready")


def is_ready(pod: Obj) -> bool:
    return condition_is(pod, "Ready") is not None


def pod_problem(
    pod: Obj,
    now: datetime | None = None,
    unschedulable_grace: float = 15.0,
    restarts_allowed: int = 0,
) -> str | None:
    """Why this pod cannot become Ready without a change, or None.

    `now` is the API server's time; without it a pod unschedulable since a known time is
    not judged (this machine's clock is no measure of the cluster's stamps). A container
    in CrashLoopBackOff with fewer than `restarts_allowed` restarts is waited out: the
    restart the kubelet backs off before is still allowed.
    """
    name = meta_of(pod).get("name", "?")
    status = status_of(pod)
    for statuses in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(statuses) or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            restarts = container.get("restartCount", 0)
            if reason == "CrashLoopBackOff" and restarts < restarts_allowed:
                continue
            if reason == "RunContainerError" and not restarts:
                # The runtime failed its first start (on a busy node, runc can fail to set a
                # container up): the kubelet tries again. A start that keeps failing shows a
                # restart, then CrashLoopBackOff, and is judged then.
                continue
            if reason in FATAL_WAITING_REASONS:
                detail = f": {waiting['message']}" if waiting.get("message") else ""
                tail = f" (restarted {restarts} times)" if restarts else ""
                return f"pod {name}: container {container.get('name')}: {reason}{detail}{tail}"
    if status.get("phase") == "Failed" and (pod.get("spec") or {}).get("restartPolicy") != "Always":
        return f"pod {name} failed: {status.get('reason') or status.get('message') or 'Failed'}"
    scheduled = condition_is(pod, "PodScheduled", "False")
    if scheduled and scheduled.get("reason") == "Unschedulable":
        # Since the condition changed; kstatus counts from the pod's creation. Neither known:
        # long ago, as kstatus takes a missing creationTimestamp. Both stamps are the API
        # server's, so `now` must be too (Cluster.server_now), never this machine's clock.
        since = parse_time(scheduled.get("lastTransitionTime")) or parse_time(
            meta_of(pod).get("creationTimestamp")
        )
        if since is None or (
            now is not None and (now - since).total_seconds() >= unschedulable_grace
        ):
            detail = f": {scheduled['message']}" if scheduled.get("message") else ""
            return f"pod {name} unschedulable for {unschedulable_grace:.0f} s{detail}"
    return None


def restarts_note(pod: Obj, restarts_allowed: int) -> str | None:
    """While restarts are allowed: how often the pod's containers restarted, for progress."""
    if not restarts_allowed:
        return None
    name = meta_of(pod).get("name", "?")
    status = status_of(pod)
    notes = [
        f"pod {name}: container {container.get('name')} restarted {restarts} "
        f"time{'s' if restarts != 1 else ''} ({restarts_allowed} allowed)"
        for statuses in ("initContainerStatuses", "containerStatuses")
        for container in status.get(statuses) or []
        if (restarts := container.get("restartCount", 0))
    ]
    return "; ".join(notes) or None


def not_ready_reason(pod: Obj) -> str:
    """One line on why a pod is not Ready, for timeout messages."""
    name = meta_of(pod).get("name", "?")
    ready = condition(pod, "Ready") or {}
    phase = status_of(pod).get("phase", "Pending")
    for container in status_of(pod).get("containerStatuses") or []:
        state = container.get("state") or {}
        which = f"container {container['name']}"
        if "waiting" in state:
            return f"pod {name} {phase}: {which} waiting ({state['waiting'].get('reason')})"
        if "running" in state and not container.get("ready"):
            return f"pod {name} Ready=False ({which} running, readiness probe not passing)"
    scheduled = condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        return f"pod {name} not scheduled: {scheduled.get('message', scheduled.get('reason', ''))}"
    reason = ready.get("reason") or phase
    return f"pod {name} Ready={ready.get('status', 'False')} ({reason})"


def owned_pods(workload: Obj, owned_by: OwnedBy) -> list[Obj]:
    """Every pod the workload owns directly (DaemonSet, Job, ReplicaSet, a custom resource)."""
    return owned_by("v1", "Pod", meta_of(workload).get("uid", ""))


def deployment_pods(deployment: Obj, owned_by: OwnedBy) -> list[Obj]:
    """The pods of the ReplicaSet of the Deployment's current revision."""
    revision = (meta_of(deployment).get("annotations") or {}).get(REVISION_ANNOTATION)
    return [
        pod
        for rs in owned_by("apps/v1", "ReplicaSet", meta_of(deployment).get("uid", ""))
        if (meta_of(rs).get("annotations") or {}).get(REVISION_ANNOTATION) == revision
        for pod in owned_by("v1", "Pod", meta_of(rs).get("uid", ""))
    ]


def statefulset_pods(statefulset: Obj, owned_by: OwnedBy) -> list[Obj]:
    """The StatefulSet's pods of its update revision."""
    update = status_of(statefulset).get("updateRevision")
    return [p for p in owned_pods(statefulset, owned_by) if revision_hash(p) == update]


def no_pods(_workload: Obj, _owned_by: OwnedBy) -> list[Obj]:
    """A CronJob's pods belong to its Jobs: none of them is its rollout."""
    return []


def revision_hash(pod: Obj) -> str | None:
    return (meta_of(pod).get("labels") or {}).get(REVISION_LABEL)
