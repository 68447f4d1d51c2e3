"""The writes a deploy makes: apply, bootstrap autoscaled replicas, replace stuck pods, prune.

Each checks the guard first (a deploy that lost its lock stops writing) and
reports what it did. They remember what they need for later judgements: the
generation each apply produced, and the live object it returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from deployctl.deploy.live import Key, object_key
from deployctl.deploy.prepare import ObjectChange
from deployctl.deploy.removal import Remover
from deployctl.errors import DeployctlError, ExitStatus
from deployctl.kube import Cluster, KubeError, ref
from deployctl.model import ChangeAction, Obj
from deployctl.present import Reporter

INITIAL_REPLICAS_MANAGER = "deployctl-initial-replicas"


class Halted(DeployctlError):
    """A write was attempted after the deploy stopped (interrupt, lost lock)."""

    exit_status = ExitStatus.FAILED


class Actions:
    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        reporter: Reporter,
        guard: Callable[[], None],
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.reporter = reporter
        self._guard = guard  # raises when this process may no longer write (lost lock)
        self._halted = threading.Event()
        self.applied: dict[Key, Obj] = {}  # what each apply returned
        self.replaced: set[str] = set()
        self._lock = threading.Lock()

    def guard(self) -> None:
        """Raise unless this deploy may still write."""
        if self._halted.is_set():
            raise Halted("the deploy stopped: no more writes")
        self._guard()

    def halt(self) -> None:
        """Refuse every later write (applies still queued on the pool included)."""
        self._halted.set()

    def apply(self, change: ObjectChange) -> None:
        if change.action in (ChangeAction.UNCHANGED, ChangeAction.UNKNOWN):
            return
        self.guard()
        if change.action == ChangeAction.REPLACE and change.live is not None:
            # A Job's template cannot change in place: the old run goes first, its pods
            # too (foreground), and is waited for until gone.
            Remover(self.cluster, self.guard, lambda obj: None).remove([change.live])
        result = self.cluster.apply(change.obj, force=change.force)
        with self._lock:
            self.applied[object_key(change.obj)] = result
        self.reporter.object(change.ref, change.action)

    def applied_uid(self, obj: Obj) -> str:
        applied = self.applied.get(object_key(obj))
        return (applied or {}).get("metadata", {}).get("uid") or ""

    def applied_generation(self, obj: Obj) -> int:
        applied = self.applied.get(object_key(obj))
        return (applied or {}).get("metadata", {}).get("generation") or 0

    def bootstrap_replicas(self, workload: Obj, hpa: Obj) -> None:
        """A new autoscaled workload starts at its HPA's minReplicas.

        Written by a separate field manager, so `deployctl` never owns
        spec.replicas and later applies never reset the running count.
        """
        scale = {
            "apiVersion": workload["apiVersion"],
            "kind": workload["kind"],
            "metadata": {"name": workload["metadata"]["name"], "namespace": self.namespace},
            "spec": {"replicas": hpa["spec"].get("minReplicas", 1)},
        }
        self.guard()
        self.cluster.apply(scale, manager=INITIAL_REPLICAS_MANAGER)

    def replace_pod(self, name: str, uid: str) -> None:
        """Delete a pod stuck on a failed revision, once: its controller makes a new one.

        The uid precondition keeps a retried delete off the replacement, which
        has the same name. Said only when this delete removed it.
        """
        with self._lock:
            if name in self.replaced:
                return
            self.replaced.add(name)
        self.guard()
        try:
            deleted = self.cluster.delete(
                "v1", "Pod", name, self.namespace, preconditions={"uid": uid}
            )
        except KubeError as error:
            if error.status == 409:
                # The uid precondition failed: the name is a newer pod's now, so the stuck
                # one is gone already, replaced by its controller, not by this delete.
                return
            with self._lock:
                self.replaced.discard(name)  # judged again, tried again
            self.reporter.info(f"could not replace pod {name}: {error}")
            return
        if deleted:  # False: already gone (404), nothing replaced
            self.reporter.info(f"replaced pod {name}, stuck on a failed revision")

    def prune(self, groups: list[list[Obj]]) -> None:
        """Delete what the environment no longer has, group by group, dependents first,
        each group gone before the next is deleted (removal.py)."""
        remover = Remover(
            self.cluster, self.guard, lambda obj: self.reporter.object(ref(obj), "prune")
        )
        for group in groups:
            remover.remove(group)
