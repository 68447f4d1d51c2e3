"""One deploy at a time per environment: a renewing coordination.k8s.io/v1 Lease.

The holder renews the Lease every RENEW seconds; every write it makes is an
update with the Lease's resourceVersion as precondition, so two processes can
never both believe they hold it. A waiter judges expiry on its own clock: a
Lease whose resourceVersion has not changed for its whole duration, as
measured locally, belongs to a dead holder and is taken over. A holder that
cannot renew within the duration marks itself lost and stops writing.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from deployctl.errors import DeployctlError, ExitStatus
from deployctl.kube import ApplyConflict, Cluster, KubeError, NotFound
from deployctl.releases import user_at_host

DURATION = 15
RENEW = 5
Obj = dict[str, Any]


class Locked(DeployctlError):
    exit_status = ExitStatus.LOCKED


class LockLost(DeployctlError):
    """This process no longer holds the lock: it must stop writing (exit 1)."""

    exit_status = ExitStatus.FAILED


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def identity(action: str) -> str:
    return f"{user_at_host()} pid {os.getpid()} ({action})"


class DeployLock:
    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        environment: str,
        action: str,
        say: Callable[[str], None],
        duration: int = DURATION,
        renew_every: float = RENEW,
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = f"deployctl-{environment}"
        self.holder = identity(action)
        self.say = say
        self.duration = duration
        self.renew_every = renew_every
        self.lease: Obj | None = None
        self.renewed_at = time.monotonic()
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._write = threading.Lock()

    # -- taking it -------------------------------------------------------------------

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, or exit 3 naming the holder.

        A held Lease is watched until it moves (its holder is alive: give up,
        or keep waiting up to `wait` seconds) or until it has not moved for its
        whole duration on this machine's clock (its holder is dead: take over).
        """
        deadline = time.monotonic() + wait
        first: str | None = None
        seen: tuple[str, float] | None = None  # (resourceVersion, when it was first seen)
        while True:
            lease = self.cluster.get("coordination.k8s.io/v1", "Lease", self.name, self.namespace)
            if lease is None:
                if self._create():
                    return
                continue
            spec = lease.get("spec") or {}
            version = lease["metadata"]["resourceVersion"]
            if not spec.get("holderIdentity"):
                if self._take(lease):
                    return
                continue
            now = time.monotonic()
            first = first or version
            if seen is None or seen[0] != version:
                seen = (version, now)
            duration = spec.get("leaseDurationSeconds") or self.duration
            if now - seen[1] >= duration:
                if self._take(lease):
                    self.say(
                        f"took over the lock from {spec['holderIdentity']}: its lease was not "
                        f"renewed for {duration} s"
                    )
                    return
                continue
            alive = version != first  # it was renewed while we watched
            if alive and now >= deadline:
                raise Locked(_locked_message(spec, self.name))
            time.sleep(0.5)

    def _create(self) -> bool:
        body = self._body(transitions=0, acquire=_now())
        try:
            self.lease = self.cluster.create(body)
        except (ApplyConflict, KubeError) as error:
            if getattr(error, "status", None) == 409:
                return False
            raise
        self._start_renewing()
        return True

    def _take(self, lease: Obj) -> bool:
        count = (lease.get("spec") or {}).get("leaseTransitions") or 0
        body = self._body(transitions=count + 1, acquire=_now())
        body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
        try:
            self.lease = self.cluster.replace(body)
        except KubeError as error:
            if error.status == 409:
                return False  # someone else moved first
            raise
        self._start_renewing()
        return True

    def _body(self, transitions: int, acquire: str) -> Obj:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "deployctl"},
            },
            "spec": {
                "holderIdentity": self.holder,
                "leaseDurationSeconds": self.duration,
                "acquireTime": acquire,
                "renewTime": _now(),
                "leaseTransitions": transitions,
            },
        }

    # -- keeping it ------------------------------------------------------------------

    def _start_renewing(self) -> None:
        self._thread = threading.Thread(target=self._renew_loop, name="lease-renew", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        last_success = self.renewed_at = time.monotonic()
        while not self._stop.wait(self.renew_every):
            try:
                with self._write:
                    if self._stop.is_set():
                        return
                    body = dict(self.lease or {})
                    body["spec"] = {**body["spec"], "renewTime": _now()}
                    self.lease = self.cluster.replace(body)
                last_success = self.renewed_at = time.monotonic()
            except KubeError as error:
                if error.status in (404, 409) or time.monotonic() - last_success >= self.duration:
                    self.say(f"lost the deploy lock {self.name}: {error}; stopping all writes")
                    self.lost.set()
                    return

    def check(self) -> None:
        """Raise LockLost when this process may no longer write.

        Judged on this clock before any waiter could judge it expired on theirs: a
        renewal that hangs must not let two deploys write at once.
        """
        stale = time.monotonic() - self.renewed_at >= self.duration - self.renew_every
        if self.lease is not None and stale:
            self.lost.set()
        if self.lost.is_set():
            raise LockLost(
                f"lost the deploy lock {self.name} (could not renew it); stopped writing — "
                "check the environment with `deployctl status`"
            )

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.renew_every + 2)
        if self.lease is None or self.lost.is_set():
            return
        with self._write, contextlib.suppress(NotFound, KubeError):
            self.cluster.delete(
                "coordination.k8s.io/v1",
                "Lease",
                self.name,
                self.namespace,
                preconditions={"resourceVersion": self.lease["metadata"]["resourceVersion"]},
            )
        self.lease = None


def _locked_message(spec: Obj, name: str) -> str:
    since = spec.get("acquireTime") or spec.get("renewTime") or "?"
    return (
        f"environment locked by {spec.get('holderIdentity')} since {since} (Lease {name}); "
        "wait for it, or rerun with --wait-lock[=DURATION]"
    )
