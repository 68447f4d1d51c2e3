"""Scaffolding for validation: the Namespaces and CRDs a dry run needs before it can run.

Only a new namespace (or CRD) is created during validation, because a
namespaced dry run needs it; `Scaffold` removes it again if validation fails,
and `wait_gone` waits until a deleted one no longer exists.
"""

from __future__ import annotations

from collections.abc import Callable

from deployctl import health
from deployctl.deploy.live import LiveState, Obj
from deployctl.errors import ConfigError, DeployctlError, Terminated
from deployctl.kube import Cluster, ref

GONE_TIMEOUT = 120.0  # seconds a namespace may take to be deleted
UNDO_WAIT = 10.0  # seconds an undo waits for each: the error on its way out waits with it


class Scaffold:
    """Namespaces and CRDs created so that validation can run; removed if it fails."""

    def __init__(self, cluster: Cluster, say: Callable[[str], None]) -> None:
        self.cluster = cluster
        self.say = say
        self.created: list[Obj] = []

    def ensure(self, objects: list[Obj], live: LiveState | None = None) -> None:
        """Create the Namespaces and CRDs among `objects` that do not exist (`live` knows)."""
        for obj in objects:
            if obj["kind"] not in ("Namespace", "CustomResourceDefinition"):
                continue
            if live is not None:
                exists = live.get(obj) is not None
            else:
                exists = self.cluster.read(obj) is not None
            if not exists:
                self.cluster.apply(obj)
                self.say(f"created {ref(obj)} (needed to validate the rest)")
                self.created.append(obj)
                if obj["kind"] == "CustomResourceDefinition":
                    self._wait_established(obj)

    def _wait_established(self, crd: Obj, timeout: float = 30) -> None:
        """A new CRD serves its kind only once Established; then discovery must be redone."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = self.cluster.read(crd)
            if live and health.crd_health(live).healthy:
                self.cluster.forget_discovery()
                return
            time.sleep(0.2)  # validation scaffolding: seconds at most, before any deploy
        raise ConfigError(f"{ref(crd)} was not Established within {timeout:.0f} s")

    def keep(self) -> None:
        self.created.clear()

    def undo(self) -> None:
        """Remove what validation created, and wait a little until it is gone.

        Never raises: it runs while another error is on its way out, and that
        error is the one the user needs. Each object is waited for UNDO_WAIT at
        most (a namespace still terminating is waited for by the next deploy);
        a Ctrl-C here (a second one, often) stops at once, saying what is left.
        """
        try:
            while self.created:
                obj = self.created[-1]
                self._remove(obj)
                self.created.pop()
        except (KeyboardInterrupt, Terminated):
            left = ", ".join(ref(o) for o in reversed(self.created))
            self.say(f"stopped removing what validation created; left: {left}")
        finally:
            self.created.clear()

    def _remove(self, obj: Obj) -> None:
        try:
            self.cluster.remove(obj)
        except DeployctlError as error:
            self.say(f"could not remove {ref(obj)}: {error}")
            return
        try:
            wait_gone(self.cluster, obj, lambda _: None, timeout=UNDO_WAIT)
        except DeployctlError:
            self.say(f"removing {ref(obj)} again: still being deleted (the next deploy waits)")
            return
        self.say(f"removed {ref(obj)} again: validation failed")


def wait_gone(
    cluster: Cluster, obj: Obj, say: Callable[[str], None], timeout: float = GONE_TIMEOUT
) -> None:
    """Wait until a deleted cluster-scoped object (a namespace, a CRD) no longer exists."""
    import time

    deadline = time.monotonic() + timeout
    said = False
    while cluster.read(obj) is not None:
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"{ref(obj)} is still being deleted after {timeout:.0f} s; "
                f"see `kubectl get {obj['kind'].lower()} {obj['metadata']['name']} -o yaml` "
                "(finalizers), then deploy again"
            )
        if not said:
            say(f"{ref(obj)} is being deleted; waiting until it is gone")
            said = True
        time.sleep(0.5)  # a namespace's deletion has no watchable end short of a 404
