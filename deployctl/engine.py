"""Runs a deploy: validate everything, apply in dependency order, wait, prune.

The work is split by job, in `deployctl.deploy`:

- `prepare`: every check before the first write, ending in a `Prepared`
  (what would be created, changed, left alone, pruned);
- `live`: the live objects, read in bulk, their keys and fingerprints;
- `carryover`: what a deploy carries over from earlier revisions (pins, prune);
- `scaffold`: the namespaces and CRDs validation creates, and removes if it fails;
- `scheduler`: the dependency graph as a small state machine;
- `judge`: a pure verdict on one workload from the watch caches;
- `actions`: the writes (apply, initial replicas, stuck pods, prune);
- `removal`: deleting in reverse dependency order, each group gone before the next;
- `execute`: the one loop that drives them.

`Deploy` ties them to one cluster, profile and reporter for the commands.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from deployctl.deploy.actions import Actions
from deployctl.deploy.carryover import inventory, pin_key
from deployctl.deploy.execute import ComponentResult, Executed, Execution
from deployctl.deploy.live import Obj, object_key
from deployctl.deploy.prepare import (
    ObjectChange,
    Options,
    Prepared,
    Validation,
    identify,
    normalized,
)
from deployctl.deploy.scaffold import Scaffold
from deployctl.errors import ConfigError, DeployctlError, ExitStatus
from deployctl.kube import Cluster
from deployctl.present import Reporter
from deployctl.profile import Profile

__all__ = [
    "ComponentResult",
    "Deploy",
    "DeployFailed",
    "Executed",
    "ObjectChange",
    "Options",
    "Prepared",
    "connect",
    "identify",
    "inventory",
    "normalized",
    "object_key",
    "pin_key",
]


class DeployFailed(DeployctlError):
    """The cluster was changed and then something failed (exit 1)."""

    exit_status = ExitStatus.FAILED


def connect(profile: Profile, options: Options) -> Cluster:
    """The profile's context (or --context); refuse a context pointing elsewhere."""
    context = options.context or profile.context
    cluster = Cluster.connect(context, options.kubeconfig)
    if profile.server and cluster.server.rstrip("/") != profile.server.rstrip("/"):
        raise ConfigError(
            f"{profile.path}: server: context {context} points at {cluster.server}, "
            f"not {profile.server}; use the right context or fix the profile"
        )
    cluster.resource("v1", "Namespace")  # discovery: reachable and answering, or exit 2
    return cluster


class Deploy:
    def __init__(
        self,
        project: Path,
        profile: Profile,
        cluster: Cluster,
        options: Options,
        reporter: Reporter,
        environ: dict[str, str] | None = None,
        guard: Callable[[], None] = lambda: None,
    ) -> None:
        self.project = project
        self.profile = profile
        self.cluster = cluster
        self.options = options
        self.reporter = reporter
        self.environ = dict(os.environ if environ is None else environ)
        self.guard = guard  # raises when this process may no longer write (lost lock)
        self.scaffold = Scaffold(cluster, reporter.info)

    def check_inputs(self) -> list[Obj]:
        """Every check that needs no write: render, profile, secret values (exit 2)."""
        return self._validation().check_inputs()

    def _validation(self) -> Validation:
        return Validation(
            self.project,
            self.profile,
            self.cluster,
            self.options,
            self.reporter.info,
            self.environ,
            self.scaffold,
        )

    def prepare(
        self,
        *,
        read_only: bool = False,
        objects: list[Obj] | None = None,
        pins: dict[str, dict[str, str]] | None = None,
        keep_migrations: bool = False,
    ) -> Prepared:
        """Validate everything. `read_only` (plan, diff): write nothing, work without values.

        `objects` (rollout, rollback): deploy these recorded objects instead of
        rendering the manifests; `pins` are the image pins they carry. What it scaffolds
        (a namespace, CRDs) stays until `keep_scaffolding` or `undo_scaffolding`.
        `keep_migrations` (going back): migration Jobs are neither written nor run.
        """
        return self._validation().run(read_only, objects, pins, keep_migrations)

    def ensure_namespace(self, objects: list[Obj]) -> None:
        """A namespaced dry run (and the lock) needs its namespace: create it now,
        remove it again if validation fails."""
        self.scaffold.ensure(objects)

    def keep_scaffolding(self) -> None:
        self.scaffold.keep()

    def undo_scaffolding(self) -> None:
        self.scaffold.undo()

    def execute(self, prepared: Prepared, *, replace_stuck_pods: bool = False) -> Executed:
        """Apply in order, wait, prune. `replace_stuck_pods`: a restore's StatefulSet pods
        stuck on a failed revision are deleted, so their controller makes them anew."""
        actions = Actions(self.cluster, self.profile.namespace, self.reporter, self.guard)
        execution = Execution(
            prepared,
            self.cluster,
            self.profile,
            self.reporter,
            actions,
            timeout=self.options.timeout,
            replace_stuck_pods=replace_stuck_pods,
        )
        return execution.run()
