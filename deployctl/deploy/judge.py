"""The judge: is a workload healthy, still progressing, or failed — and why.

A pure function of (workload, snapshot of the cluster, what this deploy
expects, now) → Verdict. It reads; it never writes. What should be done about
a verdict (delete a stuck pod, stop the deploy) is the executor's business:
the verdict only names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from deployctl import health
from deployctl.health.pods import restarts_note, revision_hash
from deployctl.model import Obj

# How long an unschedulable pod may wait once the cluster autoscaler is adding nodes.
SCALE_UP_GRACE = 600.0
# How long a pod may wait for its claims to be bound: a provisioner creating a disk,
# or a control plane catching up after a restart. A provisioner that reports a
# failure (event ProvisioningFailed) ends the wait at the usual grace.
VOLUME_BINDING_GRACE = 120.0
# The scheduler's reasons that mean "the claims are not bound yet", not "no node fits".
VOLUME_BINDING_REASONS = (
    "unbound immediate PersistentVolumeClaims",
    "waiting for first consumer",
    "persistentvolumeclaim",
)


class Snapshot(Protocol):
    """What the judge reads: the watch caches (observe.ClusterView) or plain dicts in tests."""

    def get(self, api_version: str, kind: str, name: str) -> Obj | None: ...

    def owned_by(self, api_version: str, kind: str, owner_uid: str) -> list[Obj]: ...

    def events_about(self, name: str) -> list[Obj]: ...


@dataclass(frozen=True)
class Expectations:
    """What this deploy knows that the cluster's objects don't say."""

    applied_generation: int = 0  # the generation our apply produced: older status is stale
    applied_uid: str = ""  # the object our apply created (a replaced Job): another is the old one
    min_replicas: int | None = None  # the HPA's minReplicas, for an autoscaled workload
    unschedulable_grace: float = 15.0
    since: datetime | None = None  # events from before this deploy are not about it
    replace_stuck_pods: bool = False  # rollback: StatefulSet pods stuck on a failed revision
    restarts_allowed: int = 0  # per container: restarts waited out before CrashLoopBackOff fails


@dataclass(frozen=True)
class Verdict:
    status: health.HealthStatus
    pod: Obj | None = None  # the pod a failure is about: its events and logs are shown
    replace: tuple[tuple[str, str], ...] = field(default=())  # (name, uid) of pods to delete

    @property
    def healthy(self) -> bool:
        return self.status.healthy

    @property
    def failed(self) -> bool:
        return self.status.failed

    @property
    def message(self) -> str:
        return self.status.message


def judge(workload: Obj, snapshot: Snapshot, expect: Expectations, now: datetime) -> Verdict:
    """The verdict on one workload of the manifests, from the live state in `snapshot`."""
    kind, name = workload["kind"], workload["metadata"]["name"]
    live = snapshot.get(workload["apiVersion"], kind, name)
    if live is None or (expect.applied_uid and live["metadata"].get("uid") != expect.applied_uid):
        return Verdict(health.in_progress(f"{kind} {name} not seen yet"))
    if (live["metadata"].get("generation") or 0) < expect.applied_generation:
        return Verdict(health.in_progress(f"{kind} {name}: waiting for the update"))
    status = health.object_health(live, expect.min_replicas)
    replace = stuck_pods(live, snapshot) if expect.replace_stuck_pods else ()
    if refused := creation_refused(live, snapshot, expect.since):
        return Verdict(health.failed(f"{kind} {name}: {refused}"), replace=replace)
    if status.reason in (health.GENERATION_NOT_OBSERVED, health.NO_OBSERVED_GENERATION):
        return Verdict(status, replace=replace)  # pods are judged once the spec is seen
    pods = health.workload_pods(live, snapshot.owned_by)
    for pod in pods:
        grace = expect.unschedulable_grace
        if scale_up_triggered(pod, snapshot):
            grace = max(grace, SCALE_UP_GRACE)  # nodes are on their way
        elif binding_volumes(pod, snapshot):
            grace = max(grace, VOLUME_BINDING_GRACE)  # its disks are on their way
        if problem := health.pod_problem(
            pod, now=now, unschedulable_grace=grace, restarts_allowed=expect.restarts_allowed
        ):
            return Verdict(health.failed(f"{kind} {name}: {problem}"), pod, replace)
    if status.failed:
        # A failed Job (no pod problem above: its pods ran and failed): the newest pod's
        # events and last log lines say why.
        newest = max(pods, key=_created, default=None) if kind == "Job" else None
        return Verdict(health.failed(f"{kind} {name}: {status.message}"), newest, replace)
    if status.healthy:
        return Verdict(status, replace=replace)
    not_ready = [health.not_ready_reason(p) for p in pods if not health.is_ready(p)]
    restarted = [note for p in pods if (note := restarts_note(p, expect.restarts_allowed))]
    message = f"{kind} {name}: {status.message}"
    if not_ready:
        message += "; " + "; ".join(not_ready[:3])
    if restarted:
        message += "; " + "; ".join(restarted[:3])
    return Verdict(health.in_progress(message), replace=replace)


def stuck_pods(statefulset: Obj, snapshot: Snapshot) -> tuple[tuple[str, str], ...]:
    """StatefulSet pods left broken on an older revision.

    The StatefulSet controller waits for them to become Ready before it rolls
    them, which they never will: Kubernetes does not replace them by itself.
    """
    if statefulset["kind"] != "StatefulSet":
        return ()
    update = (statefulset.get("status") or {}).get("updateRevision")
    return tuple(
        (pod["metadata"]["name"], pod["metadata"].get("uid", ""))
        for pod in snapshot.owned_by("v1", "Pod", statefulset["metadata"].get("uid", ""))
        if revision_hash(pod) not in (None, update)
        and not pod["metadata"].get("deletionTimestamp")
        and not health.is_ready(pod)
    )


def scale_up_triggered(pod: Obj, snapshot: Snapshot) -> bool:
    """The cluster autoscaler reported a scale-up for this pod (event TriggeredScaleUp)."""
    return any(
        event.get("reason") == "TriggeredScaleUp"
        for event in snapshot.events_about(pod["metadata"]["name"])
    )


def binding_volumes(pod: Obj, snapshot: Snapshot) -> bool:
    """The pod waits for its PersistentVolumeClaims to be bound, and no provisioner said
    it cannot: the scheduler retries once they are."""
    scheduled = health.condition(pod, "PodScheduled") or {}
    message = (scheduled.get("message") or "").lower()
    if not any(reason.lower() in message for reason in VOLUME_BINDING_REASONS):
        return False
    claims = [
        volume["persistentVolumeClaim"]["claimName"]
        for volume in (pod.get("spec") or {}).get("volumes") or []
        if volume.get("persistentVolumeClaim")
    ]
    return not any(
        event.get("reason") == "ProvisioningFailed"
        for claim in claims
        for event in snapshot.events_about(claim)
    )


def creation_refused(workload: Obj, snapshot: Snapshot, since: datetime | None) -> str | None:
    """A controller's FailedCreate event for the workload: admission or quota refused its pods.

    Deployments report this as a ReplicaFailure condition; StatefulSets,
    DaemonSets and Jobs only as an event.
    """
    for event in snapshot.events_about(workload["metadata"]["name"]):
        involved = event.get("involvedObject") or {}
        if event.get("reason") != "FailedCreate" or involved.get("kind") != workload["kind"]:
            continue
        stamp = event.get("lastTimestamp") or event.get("eventTime") or ""
        if stamp and (since is None or _parse(stamp) >= since):
            return f"FailedCreate: {event.get('message', '').strip()}"
    return None


def _created(obj: Obj) -> str:
    return obj["metadata"].get("creationTimestamp") or ""


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
