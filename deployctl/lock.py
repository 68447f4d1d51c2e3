"""One deploy at a time per environment: a renewing coordination.k8s.io/v1 Lease.

The holder renews the Lease every RENEW seconds; every write it makes is an
update with the Lease's resourceVersion as precondition, so two processes can
never both believe they hold it. A conflict on one of its own writes is
settled by reading the Lease again: a write whose answer was lost and that was
sent again meets itself, and the Lease still names this holder.

A second deploy finds a live Lease exit 3 at once, and takes over a dead
one; when a Lease is live, and when its holder must stop writing, is stated
once, in `lease_expired`.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from deployctl import model
from deployctl.errors import DeployctlError, ExitStatus
from deployctl.kube import Cluster, KubeError
from deployctl.model import Obj
from deployctl.releases import user_at_host

DURATION = 15
RENEW = 5
SKEW = 2  # seconds a renewTime may run ahead of the server's clock and still be judged by it
# Leases this process could not release: an interrupted run must not say "lock released".
UNRELEASED: set[str] = set()


class Locked(DeployctlError):
    exit_status = ExitStatus.LOCKED


class LockLost(DeployctlError):
    """This process no longer holds the lock: it must stop writing (exit 1)."""

    exit_status = ExitStatus.FAILED


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def identity(action: str) -> str:
    """Who holds the lock; the token tells apart two pid 1s of containers on one host."""
    return f"{user_at_host()} pid {os.getpid()}.{uuid.uuid4().hex[:6]} ({action})"


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
        """Take the lock, or exit 3 naming the holder: at once, or once `wait` runs out.

        A Lease held by another deploy is judged live or dead as `lease_expired` says.
        """
        deadline = time.monotonic() + wait
        first: str | None = None  # the resourceVersion first read: a change means a live holder
        seen: tuple[str, float] | None = None  # (resourceVersion, when it was first seen)
        while True:
            lease = self._read()
            if lease is None:
                if self._create():
                    return
                continue
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity")
            if holder == self.holder:  # a write of ours whose answer was lost: ours
                self._hold(lease)
                return
            if not holder:
                if self._take(lease):
                    return
                continue
            version = lease["metadata"]["resourceVersion"]
            now = time.monotonic()
            first = first or version
            if seen is None or seen[0] != version:
                seen = (version, now)
            duration = spec.get("leaseDurationSeconds") or self.duration
            expired = lease_expired(spec, duration, self.cluster.server_time())
            if expired is not False and now - seen[1] >= duration:  # dead (see lease_expired)
                if self._take(lease):
                    self.say(
                        f"took over the lock from {holder}: its lease was not renewed for "
                        f"{duration} s"
                    )
                    return
                continue
            # Live, seen renewed, or not to be told: exit 3 (see lease_expired).
            if (expired is not True or version != first) and now >= deadline:
                raise Locked(_locked_message(spec, self.name))
            time.sleep(0.5)

    def _read(self) -> Obj | None:
        return self.cluster.get("coordination.k8s.io/v1", "Lease", self.name, self.namespace)

    def _create(self) -> bool:
        """False when a Lease exists already (maybe our own, created by a lost answer)."""
        body = self._body(transitions=0, acquire=self._now())
        try:
            lease = self.cluster.create(body)
        except KubeError as error:
            if error.status == 409:
                return False
            raise
        self._hold(lease)
        return True

    def _take(self, lease: Obj) -> bool:
        """False when the Lease moved meanwhile (maybe by our own write, answer lost)."""
        count = (lease.get("spec") or {}).get("leaseTransitions") or 0
        body = self._body(transitions=count + 1, acquire=self._now())
        body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
        try:
            taken = self.cluster.replace(body)
        except KubeError as error:
            if error.status == 409:
                return False
            raise
        self._hold(taken)
        return True

    def _hold(self, lease: Obj) -> None:
        self.lease = lease
        self.renewed_at = time.monotonic()
        self._start_renewing()

    def _body(self, transitions: int, acquire: str) -> Obj:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {model.MANAGED_BY_LABEL: model.MANAGED_BY},
            },
            "spec": {
                "holderIdentity": self.holder,
                "leaseDurationSeconds": self.duration,
                "acquireTime": acquire,
                "renewTime": self._now(),
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
                    self.lease = self._renew()
                last_success = self.renewed_at
            except KubeError as error:
                if error.status == 404 or time.monotonic() - last_success >= self.duration:
                    self.say(f"lost the deploy lock {self.name}: {error}; stopping all writes")
                    self.lost.set()
                    return

    def _renew(self) -> Obj:
        """Renew; a conflict is settled by reading the Lease: is it still ours?

        A renewal whose answer was lost and that the client sent again meets
        its own first write as a conflict; the Lease then still names us.
        """
        body = dict(self.lease or {})
        body["spec"] = {**body["spec"], "renewTime": self._now()}
        sent = time.monotonic()  # fresh from when it was stamped, not from when it landed
        try:
            renewed = self.cluster.replace(body)
            self.renewed_at = sent
            return renewed
        except KubeError as error:
            if error.status != 409:
                raise
            current = self._read()
            if current is None or (current.get("spec") or {}).get("holderIdentity") != self.holder:
                raise KubeError(
                    f"Lease {self.name} now belongs to "
                    f"{((current or {}).get('spec') or {}).get('holderIdentity') or 'nobody'}",
                    404,
                ) from None
            self.renewed_at = sent
            return current

    def check(self) -> None:
        """Raise LockLost when this process may no longer write (see `lease_expired`)."""
        stale = time.monotonic() - self.renewed_at >= self.duration - self.renew_every
        if self.lease is not None and stale:
            self.lost.set()
        if self.lost.is_set():
            raise LockLost(
                f"lost the deploy lock {self.name} (could not renew it); stopped writing — "
                "check the environment with `deployctl status`"
            )

    def _now(self) -> str:
        """Acquire and renew times on the API server's clock, as every waiter judges them."""
        return _stamp(self.cluster.server_now())

    def stop_renewing(self) -> None:
        """Renew no more: the Lease is about to go with its namespace (`down
        --delete-namespace`); still held until it expires or `release` deletes it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.renew_every + 2)

    def release(self) -> None:
        """Delete the Lease while it is ours; one that cannot be is said, never raised."""
        self.stop_renewing()
        if self.lease is None or self.lost.is_set():
            return
        with self._write:
            try:
                self._delete()
            except KubeError as error:
                self.say(self._unreleased(str(error)))
        self.lease = None

    def _delete(self) -> None:
        """Delete the Lease, preconditioned on its resourceVersion; a conflict reads it
        again, and deletes only while it is still ours."""
        for _ in range(3):
            try:
                self.cluster.delete(
                    "coordination.k8s.io/v1",
                    "Lease",
                    self.name,
                    self.namespace,
                    preconditions={"resourceVersion": self.lease["metadata"]["resourceVersion"]},
                )
                return
            except KubeError as error:
                if error.status != 409:
                    raise
                current = self._read()
                spec = (current or {}).get("spec") or {}
                if current is None or spec.get("holderIdentity") != self.holder:
                    return
                self.lease = current
        raise KubeError("it kept changing (3 conflicts)", 409)

    def _unreleased(self, error: str) -> str:
        UNRELEASED.add(f"{self.namespace}/{self.name}")
        return (
            f"warning: could not release the deploy lock (Lease {self.namespace}/{self.name}): "
            f"{error}; the next deploy finds it held until it expires (up to {self.duration} s; "
            f"--wait-lock waits), or delete it now: kubectl --context {self.cluster.context} "
            f"-n {self.namespace} delete lease {self.name}"
        )


def lease_expired(spec: Obj, duration: float, server_now: datetime | None) -> bool | None:
    """The lock's expiry rule, stated once: has the Lease expired by the API server's clock?

    A Lease is live until its renewTime (else acquireTime) plus its duration, judged
    by the server's clock (the Date of the answer that read it). None when that
    cannot be told: no server time, no stamp, or a stamp more than SKEW seconds
    ahead of the server (the holder's clock runs ahead).

    What a second deploy does with the answer (`DeployLock.acquire`): False is exit 3
    at once. True or None is not enough to take the Lease over (a holder whose clock
    runs behind stamps renewals that look old): the waiter must also have watched it
    not move for its whole duration, on its own clock. Meanwhile True is waited out
    unless the Lease moves; None is exit 3 unless --wait-lock gives it time.

    The holder stops writing once it has not renewed for its duration less one
    renewal interval, on its own clock, before any waiter can judge it dead
    (`DeployLock.check`).
    """
    stamp = spec.get("renewTime") or spec.get("acquireTime")
    if server_now is None or not stamp:
        return None
    try:
        renewed = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    age = (server_now - renewed).total_seconds()
    if age < -SKEW:
        return None
    return age >= duration


def _locked_message(spec: Obj, name: str) -> str:
    since = spec.get("acquireTime") or spec.get("renewTime") or "?"
    return (
        f"environment locked by {spec.get('holderIdentity')} since {since} (Lease {name}); "
        "wait for it, or rerun with --wait-lock[=DURATION]"
    )
