"""Health of one object, as a pure function of the object: kstatus / kubectl semantics.

`object_health(obj)` returns a HealthStatus (CURRENT, IN_PROGRESS, FAILED,
TERMINATING) with the message a user reads. One small function per kind,
behind a table, as kubectl's polymorphichelpers do. `pod_problem(pod)` says
why a pod will not become Ready by itself — the fail-fast rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

Obj = dict[str, Any]

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


class State(Enum):
    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    TERMINATING = "Terminating"


@dataclass(frozen=True)
class HealthStatus:
    state: State
    message: str = ""

    @property
    def healthy(self) -> bool:
        return self.state is State.CURRENT

    @property
    def failed(self) -> bool:
        return self.state is State.FAILED


def current(message: str = "") -> HealthStatus:
    return HealthStatus(State.CURRENT, message)


def in_progress(message: str) -> HealthStatus:
    return HealthStatus(State.IN_PROGRESS, message)


def failed(message: str) -> HealthStatus:
    return HealthStatus(State.FAILED, message)


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def condition(obj: Obj, kind: str) -> Obj | None:
    return next((c for c in _status(obj).get("conditions") or [] if c.get("type") == kind), None)


def _generation_pending(obj: Obj) -> HealthStatus | None:
    generation = (obj.get("metadata") or {}).get("generation")
    observed = _status(obj).get("observedGeneration")
    if generation is not None and (observed is None or observed < generation):
        return in_progress("waiting for the controller to observe the latest spec")
    return None


def deployment_health(obj: Obj, min_ready: int | None = None) -> HealthStatus:
    if pending := _generation_pending(obj):
        return pending
    status = _status(obj)
    progressing = condition(obj, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return failed(f"progress deadline exceeded: {progressing.get('message', '')}".strip())
    replica_failure = condition(obj, "ReplicaFailure")
    if replica_failure and replica_failure.get("status") == "True":
        return failed(
            f"{replica_failure.get('reason', 'ReplicaFailure')}: "
            f"{replica_failure.get('message', '')}"
        )
    replicas = obj["spec"].get("replicas", 1)
    wanted = max(replicas, min_ready or 0)
    updated = status.get("updatedReplicas", 0)
    available = status.get("availableReplicas", 0)
    total = status.get("replicas", 0)
    if updated < replicas:
        return in_progress(f"{updated}/{replicas} updated, {available} available")
    if total > updated:
        return in_progress(f"{total - updated} old replicas are pending termination")
    if available < max(updated, wanted):
        return in_progress(f"{available}/{wanted} available")
    return current(f"{available}/{wanted} available")


def statefulset_health(obj: Obj) -> HealthStatus:
    if pending := _generation_pending(obj):
        return pending
    status = _status(obj)
    replicas = obj["spec"].get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if ready < replicas:
        return in_progress(f"{ready}/{replicas} ready")
    strategy = obj["spec"].get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return current(f"{ready}/{replicas} ready")
    partition = (strategy.get("rollingUpdate") or {}).get("partition") or 0
    if partition:
        updated = status.get("updatedReplicas", 0)
        if updated < replicas - partition:
            return in_progress(f"{updated}/{replicas - partition} updated (partition {partition})")
        return current(f"{ready}/{replicas} ready, partition {partition}")
    if status.get("updateRevision") != status.get("currentRevision"):
        updated = status.get("updatedReplicas", 0)
        return in_progress(f"{updated}/{replicas} pods on the new revision")
    return current(f"{ready}/{replicas} ready")


def daemonset_health(obj: Obj) -> HealthStatus:
    if pending := _generation_pending(obj):
        return pending
    status = _status(obj)
    desired = status.get("desiredNumberScheduled", 0)
    updated = status.get("updatedNumberScheduled", 0)
    available = status.get("numberAvailable", 0)
    if updated < desired or available < desired:
        return in_progress(f"{available}/{desired} available, {updated} updated")
    return current(f"{available}/{desired} available")


def job_health(obj: Obj) -> HealthStatus:
    for kind in ("Failed", "FailureTarget"):
        found = condition(obj, kind)
        if found and found.get("status") == "True":
            return failed(f"{found.get('reason', 'Failed')}: {found.get('message', '')}".strip())
    complete = condition(obj, "Complete")
    if complete and complete.get("status") == "True":
        return current("complete")
    status = _status(obj)
    return in_progress(f"{status.get('succeeded', 0)} succeeded, {status.get('active', 0)} active")


def pvc_health(obj: Obj) -> HealthStatus:
    phase = _status(obj).get("phase")
    if phase == "Bound":
        return current("Bound")
    if phase == "Lost":
        return failed("the claim lost its volume")
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if "volume.kubernetes.io/selected-node" not in annotations:
        # On a WaitForFirstConsumer class a claim binds only when a pod needs it.
        return current("Pending until its first consumer is scheduled")
    return in_progress("waiting for the volume to be provisioned")


def pod_health(obj: Obj) -> HealthStatus:
    if problem := pod_problem(obj):
        return failed(problem)
    ready = condition(obj, "Ready")
    if _status(obj).get("phase") == "Succeeded":
        return current("Succeeded")
    if ready and ready.get("status") == "True":
        return current("Ready")
    return in_progress(f"phase {_status(obj).get('phase', 'Pending')}, not Ready")


def crd_health(obj: Obj) -> HealthStatus:
    established = condition(obj, "Established")
    if established and established.get("status") == "True":
        return current("Established")
    return in_progress("not Established yet")


def service_health(obj: Obj) -> HealthStatus:
    is_balancer = (obj.get("spec") or {}).get("type") == "LoadBalancer"
    if is_balancer and not (_status(obj).get("loadBalancer") or {}).get("ingress"):
        return in_progress("waiting for a load balancer address")
    return current()


def namespace_health(obj: Obj) -> HealthStatus:
    if _status(obj).get("phase") == "Terminating":
        return HealthStatus(State.TERMINATING, "namespace is terminating")
    return current()


def pdb_health(obj: Obj) -> HealthStatus:
    return _generation_pending(obj) or current()


HEALTH_BY_KIND: dict[str, Callable[[Obj], HealthStatus]] = {
    "Deployment": deployment_health,
    "StatefulSet": statefulset_health,
    "DaemonSet": daemonset_health,
    "Job": job_health,
    "PersistentVolumeClaim": pvc_health,
    "Pod": pod_health,
    "CustomResourceDefinition": crd_health,
    "Service": service_health,
    "Namespace": namespace_health,
    "PodDisruptionBudget": pdb_health,
}


def object_health(obj: Obj) -> HealthStatus:
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return HealthStatus(State.TERMINATING, "being deleted")
    return HEALTH_BY_KIND.get(obj.get("kind", ""), lambda _: current())(obj)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def pod_problem(
    pod: Obj, now: datetime | None = None, unschedulable_grace: float = 15.0
) -> str | None:
    """Why this pod cannot become Ready without a change, or None."""
    name = (pod.get("metadata") or {}).get("name", "?")
    status = _status(pod)
    for statuses in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(statuses) or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            if reason in FATAL_WAITING_REASONS:
                restarts = container.get("restartCount", 0)
                detail = f": {waiting['message']}" if waiting.get("message") else ""
                tail = f" (restarted {restarts} times)" if restarts else ""
                return f"pod {name}: container {container.get('name')}: {reason}{detail}{tail}"
    if status.get("phase") == "Failed" and (pod.get("spec") or {}).get("restartPolicy") != "Always":
        return f"pod {name} failed: {status.get('reason') or status.get('message') or 'Failed'}"
    scheduled = condition(pod, "PodScheduled")
    if (
        scheduled
        and scheduled.get("status") == "False"
        and scheduled.get("reason") == "Unschedulable"
    ):
        since = _parse_time(scheduled.get("lastTransitionTime"))
        now = now or datetime.now(UTC)
        if since is not None and (now - since).total_seconds() >= unschedulable_grace:
            message = scheduled.get("message", "")
            return f"pod {name} unschedulable for {unschedulable_grace:.0f} s: {message}"
    return None


def not_ready_reason(pod: Obj) -> str:
    """One line on why a pod is not Ready, for timeout messages."""
    name = (pod.get("metadata") or {}).get("name", "?")
    ready = condition(pod, "Ready") or {}
    phase = _status(pod).get("phase", "Pending")
    for container in _status(pod).get("containerStatuses") or []:
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
