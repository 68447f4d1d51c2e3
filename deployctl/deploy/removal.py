"""Deleting in reverse dependency order, each group gone before the next: prune and `down`.

As cli-utils prunes, dependents go first: the components of the last wave,
then the waves before it, then the foundation (Services, ConfigMaps,
Secrets ...) they all used. Each group is deleted with foreground
propagation and waited for until the API server no longer has any of it —
a workload only disappears once its pods are gone — so no component is
still running while what it depends on is being removed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from deployctl.deploy.live import Obj
from deployctl.errors import DeployctlError, ExitStatus
from deployctl.kube import Cluster
from deployctl.model import ObjectRef
from deployctl.plan import WORKLOAD_KINDS, Plan, build_plan

GONE_TIMEOUT = 120.0  # seconds a group may take to go, beyond its pods' grace period
POLL = 0.5  # a deletion has no watchable end short of a 404


class StillDeleting(DeployctlError):
    """Deleted objects were still there after the wait (finalizers, pods that do not stop)."""

    exit_status = ExitStatus.FAILED


def removal_groups(plan: Plan) -> list[list[Obj]]:
    """Pure: the plan's objects in the groups they are deleted in, dependents first."""
    groups = [
        [o for name in wave for o in reversed(plan.components[name].objects)]
        for wave in reversed(plan.waves)
    ]
    return [g for g in [*groups, list(reversed(plan.foundation))] if g]


def prune_groups(objects: list[Obj], order: Mapping[str, Iterable[str]]) -> list[list[Obj]]:
    """Pure: objects to prune in their removal groups, by the profile's `order`."""
    return removal_groups(build_plan(objects, order))


def grace_of(objects: list[Obj]) -> float:
    """Pure: the longest termination grace period among the workloads' pod templates."""
    graces = [0.0]
    for obj in objects:
        if obj.get("kind") in WORKLOAD_KINDS:
            spec = obj.get("spec") or {}
            template = ((spec.get("jobTemplate") or {}).get("spec") or spec).get("template") or {}
            pod = template.get("spec") or {}
            graces.append(float(pod.get("terminationGracePeriodSeconds", 30)))
    return max(graces)


class Remover:
    """Deletes groups of objects, each waited for until gone, under the deploy's guard."""

    def __init__(
        self,
        cluster: Cluster,
        guard: Callable[[], None],
        deleted: Callable[[Obj], None],
        timeout: float = GONE_TIMEOUT,
    ) -> None:
        self.cluster = cluster
        self.guard = guard  # raises when this process may no longer write (lost lock)
        self.deleted = deleted  # told of each object deleted
        self.timeout = timeout

    def remove(self, group: list[Obj]) -> list[Obj]:
        """Delete the group and wait until it is gone; the objects that were deleted."""
        gone = []
        for obj in group:
            self.guard()
            if self.cluster.remove(obj, propagation="Foreground"):
                gone.append(obj)
                self.deleted(obj)
        self.wait_gone(gone, self.timeout + grace_of(gone))
        return gone

    def wait_gone(self, objects: list[Obj], timeout: float) -> None:
        """Until every deleted object is really gone (finalizers, foreground deletion):
        one list per kind each round, not one read per object."""
        deadline = time.monotonic() + timeout
        remaining = {ObjectRef.of(o) for o in objects}
        while remaining and time.monotonic() < deadline:
            self.guard()
            present = set()
            for api_version, kind, namespace in {
                (r.api_version, r.kind, r.namespace) for r in remaining
            }:
                items, _ = self.cluster.list(api_version, kind, namespace)
                present |= {ObjectRef.of(item) for item in items}
            remaining &= present
            if remaining:
                time.sleep(POLL)
        if remaining:
            names = ", ".join(str(r) for r in sorted(remaining))
            raise StillDeleting(
                f"still being deleted after {timeout:.0f} s: {names}; what they depend on was "
                "left in place. See `kubectl get <kind> <name> -o yaml` (finalizers, pods that "
                "do not stop), then run the command again"
            )
