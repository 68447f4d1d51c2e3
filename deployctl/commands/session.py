"""The locked session that every changing command runs in, and the run inside it.

`locked()` connects, asks consent, makes the namespace the Lease lives in (a
first `up` only), takes the environment's lock, calls the command's work with
a `Session`, and always releases. `Session.run()` validates, records a pending
revision, applies in order, waits, prunes and settles the record.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from deployctl import releases
from deployctl import render as rendering
from deployctl.commands import Result
from deployctl.commands.target import Target, confirm_change, header
from deployctl.deploy import access
from deployctl.deploy.scaffold import wait_gone
from deployctl.engine import (
    ComponentResult,
    Deploy,
    DeployFailed,
    Executed,
    Prepared,
    connect,
    identify,
)
from deployctl.errors import ConfigError, DeployctlError, ExitStatus, Terminated
from deployctl.kube import Cluster
from deployctl.lock import DeployLock, Locked
from deployctl.model import ChangeAction, ComponentState, Obj, RevisionResult, ref
from deployctl.present import Reporter


@dataclass
class Outcome:
    """What one run did: its revision, results, and the document for --output json."""

    status: ExitStatus
    document: dict[str, Any]
    results: dict[str, ComponentResult]
    revision: releases.Revision | None

    @property
    def failure(self) -> str:
        failed = (r for r in self.results.values() if r.state == ComponentState.FAILED)
        return next((r.message for r in failed), "")


@dataclass
class Change:
    """What a command deploys to one cluster, and what to restore if that fails.

    `objects` and `pins` None: the manifests (up). `previous`: the revision the
    cluster ran before (None: nothing to restore, a first deploy). `what` names
    the change in messages: "rollout of api to v2".
    """

    action: str
    what: str
    objects: list[Obj] | None = None
    pins: dict[str, dict[str, str]] | None = None
    replace_stuck_pods: bool = False
    previous: releases.Revision | None = None
    component: str | None = None  # the one component a rollout changes
    keep_migrations: bool = False  # going back: migration Jobs are left as they are, not run
    report: dict[str, Any] = field(default_factory=dict)  # added to the run's JSON document


@dataclass
class Checked:
    """A change that passed validation: what to apply, and how long checking it took."""

    prepared: Prepared
    seconds: float


class Session:
    """One command's hold on one environment: its cluster, lock and deploy engine."""

    def __init__(self, target: Target, reporter: Reporter, cluster: Cluster) -> None:
        self.target = target
        self.profile = target.profile
        self.reporter = reporter
        self.cluster = cluster
        self.lock: DeployLock | None = None
        self.stop: threading.Event | None = None  # set: the whole run was interrupted
        self.recorded: releases.Revision | None = None  # the last run's pending record
        self.deploy = Deploy(
            target.project, self.profile, cluster, target.options, reporter, guard=self.guard
        )

    def guard(self) -> None:
        """Raises when this process may no longer write: a lost lock, or a run across
        clusters interrupted in another thread (Ctrl-C reaches the main thread only)."""
        if self.stop is not None and self.stop.is_set():
            raise KeyboardInterrupt
        if self.lock is not None:
            self.lock.check()

    def history(self) -> list[releases.Revision]:
        return releases.history(self.cluster, self.profile.namespace, self.profile.name)

    def save(self, revision: releases.Revision, known: list | None = None) -> None:
        self.guard()
        releases.save(
            self.cluster, self.profile.namespace, revision, self.profile.keep_revisions, known
        )

    def run(self, change: Change, *, record: bool = True) -> Outcome:
        """Check, apply, wait, prune and record one change under the held lock.
        `record=False`: a rollout's own restore, which settles the records itself."""
        return self.apply(change, self.check(change), record=record)

    def check(self, change: Change) -> Checked:
        """Every check, the server's dry runs included; nothing is written but scaffolding.
        An `up` learns here which revision it would restore."""
        origin = time.monotonic()
        prepared = self.deploy.prepare(
            objects=change.objects, pins=change.pins, keep_migrations=change.keep_migrations
        )
        if change.objects is not None:  # recorded objects (rollout, rollback): their kinds too
            access.check(self.cluster, self.profile.namespace, prepared.objects)
        if change.objects is None and change.previous is None:
            change.previous = releases.deployed(prepared.revisions)
        return Checked(prepared, time.monotonic() - origin)

    def apply(self, change: Change, checked: Checked, *, record: bool = True) -> Outcome:
        """Apply what `check` passed, wait, prune and settle the record: the writing half."""
        prepared = checked.prepared
        self.recorded = None
        origin = time.monotonic() - checked.seconds  # the time spent validating counts
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._settle_abandoned(prepared.revisions)
        self.deploy.keep_scaffolding()  # validation passed: a namespace made for it stays
        if not prepared.changed:
            self.reporter.info("no changes: the cluster already matches")
        recording = prepared.changed and record
        revision = self._record_pending(change.action, prepared) if recording else None
        self.reporter.start([name for wave in prepared.plan.waves for name in wave])
        try:
            executed = self.deploy.execute(prepared, replace_stuck_pods=change.replace_stuck_pods)
            self._settle(revision, executed, prepared, record)
        except (KeyboardInterrupt, Terminated):
            self._mark(revision, RevisionResult.INTERRUPTED)
            raise
        except DeployctlError as error:
            self._mark(revision, RevisionResult.FAILED)
            if error.exit_status == ExitStatus.NOTHING_CHANGED:
                # Objects were written already: exit 2 would promise that nothing changed.
                raise DeployFailed(
                    f"{error} — after changes were applied; "
                    f"see `deployctl status -e {self.profile.name}`"
                ) from None
            raise
        finally:
            self.reporter.close()
        self._report_failures(executed.results)
        document = {
            "environment": self.profile.name,
            "action": change.action,
            "context": self.cluster.context,
            "namespace": self.profile.namespace,
            "result": "deployed" if executed.healthy else "failed",
            "changed": prepared.changed,
            "revision": revision.number if revision else None,
            "started": started_at,
            "duration": round(time.monotonic() - origin, 3),
            "objects": changes_document(prepared),
            "dry_runs": prepared.dry_runs,
            "phases": {"validate": round(checked.seconds, 3), **executed.phases},
            "components": {n: _component_document(r, origin) for n, r in executed.results.items()},
        }
        status = ExitStatus.OK if executed.healthy else ExitStatus.FAILED
        return Outcome(status, document, executed.results, revision)

    def summary(self, outcome: Outcome, note: str = "") -> None:
        document = outcome.document
        number = document["revision"]
        self.reporter.info(
            f"{self.profile.name}: {document['result']}"
            + (f", revision {number}" if number else ", nothing changed")
            + f" in {document['duration']:.1f} s"
            + (f" — {note}" if note else "")
        )

    # -- the record ----------------------------------------------------------------------

    def _settle(
        self,
        revision: releases.Revision | None,
        executed: Executed,
        prepared: Prepared,
        record: bool,
    ) -> None:
        """The pending record becomes deployed or failed; an unchanged deploy refreshes the
        current record's fingerprints."""
        if revision is not None:
            self.guard()
            revision.result = RevisionResult.DEPLOYED if executed.healthy else RevisionResult.FAILED
            revision.fingerprints = executed.fingerprints
            try:
                releases.settle(
                    self.cluster,
                    self.profile.namespace,
                    revision,
                    self.profile.keep_revisions,
                    prepared.revisions,
                )
            except BaseException:
                revision.result = RevisionResult.PENDING  # not settled: _mark says how it ended
                raise
        elif record and executed.healthy:
            self._refresh_fingerprints(prepared)

    def _record_pending(self, action: str, prepared: Prepared) -> releases.Revision:
        """Written before the first apply: a run that dies leaves a trace to settle."""
        applied = [c.obj for c in prepared.changes]
        revision = releases.Revision(
            number=max((r.number for r in prepared.revisions), default=0) + 1,
            environment=self.profile.name,
            action=action,
            result=RevisionResult.PENDING,
            images=releases.images_by_component(applied),
            migrations=releases.migrations_run([(c.obj, c.action) for c in prepared.changes]),
            objects=applied,
            pins=prepared.pins,
            order={name: list(deps) for name, deps in self.profile.order.items()},
        )
        try:
            self.save(revision, prepared.revisions)
            self.recorded = revision
        except DeployctlError as error:
            # Its outcome is unknown (the write may have landed): exit 2 would promise
            # that nothing was written. A record left pending is settled by the next deploy.
            raise DeployFailed(
                f"could not record revision {revision.number} before deploying: {error}; "
                "nothing else was changed, and the next deploy settles the record"
            ) from None
        return revision

    def _settle_abandoned(self, revisions: list[releases.Revision]) -> None:
        """Records left pending belong to deploys that died: this one holds the lock, so no
        other runs. They become interrupted (their objects stay in the prune inventory).

        Each save may drop old records from `revisions`: the pending ones are chosen first,
        and one dropped meanwhile is gone from the cluster, not written again."""
        pending = [r for r in revisions if r.result == RevisionResult.PENDING]
        for revision in pending:
            if not any(r is revision for r in revisions):
                continue
            revision.result = RevisionResult.INTERRUPTED
            revision.note = revision.note or "its deploy stopped without settling it"
            self.save(revision, revisions)

    def _refresh_fingerprints(self, prepared: Prepared) -> None:
        """Nothing changed, but some objects had to be dry-run to know it (a status-only
        controller write, a restore): remember them as they are, so the next run need not."""
        current = prepared.current
        if current is None or current.result != RevisionResult.DEPLOYED:
            return
        if current.fingerprints == prepared.fingerprints or current.objects != prepared.objects:
            return
        current.fingerprints = prepared.fingerprints
        self.save(current)

    def _mark(self, revision: releases.Revision | None, result: RevisionResult) -> None:
        """Best effort: record how a run ended, even while it is failing."""
        if revision is None or revision.result != RevisionResult.PENDING:
            return
        if self.lock is not None and self.lock.lost.is_set():
            return  # a holder that lost the lock writes nothing more
        revision.result = result
        with contextlib.suppress(DeployctlError):
            self.save(revision)

    def _report_failures(self, results: dict[str, ComponentResult]) -> None:
        for result in results.values():
            if result.state == ComponentState.FAILED:
                self.reporter.info(f"FAILED {result.message}")
                for line in result.details:
                    self.reporter.info(f"  {line}")


def changes_document(prepared: Prepared) -> list[dict[str, Any]]:
    rows = [{"object": c.ref, "action": c.action} for c in prepared.changes]
    rows += [{"object": ref(o), "action": ChangeAction.PRUNE} for o in prepared.prune]
    return rows


def _component_document(result: ComponentResult, origin: float) -> dict[str, Any]:
    def at(moment: float | None) -> float | None:
        return None if moment is None else round(moment - origin, 3)

    duration = None
    if result.started is not None and result.finished is not None:
        duration = round(result.finished - result.started, 3)
    return {
        "state": result.state,
        "started": at(result.started),
        "finished": at(result.finished),
        "duration": duration,
        "message": result.message,
        "details": result.details,
    }


def locked(
    target: Target,
    reporter: Reporter,
    action: str,
    work: Callable[[Session], Result],
    *,
    first_deploy: bool = False,
) -> Result:
    """Connect, ask consent, take the environment's lock, run `work`, always release.

    The Lease lives in the environment's namespace. With `first_deploy` (up),
    every local check — render, profile, secret values — passes first; then a
    missing namespace is created before locking, and removed again if
    validation fails. Other commands need the environment deployed already.
    """
    session = hold(target, reporter, action, first_deploy=first_deploy)
    failed = True
    try:
        result = work(session)
        failed = False
    finally:
        release(session, failed)
    # What this run cost the API server, the lock's renewals and release included.
    result.document["requests"] = session.cluster.request_counts()
    return result


def hold(
    target: Target,
    reporter: Reporter,
    action: str,
    *,
    first_deploy: bool = False,
    consent: bool = True,
    cluster: Cluster | None = None,
) -> Session:
    """A session holding the environment's lock (see `locked`); `release` it.
    `consent=False`: the caller asked already (once for all of an environment's clusters);
    `cluster`: reached already."""
    profile = target.profile
    cluster = cluster or connect(profile, target.options)
    header(target, cluster.context, reporter)
    if consent:
        confirm_change(target, action)
    session = Session(target, reporter, cluster)
    objects = session.deploy.check_inputs() if first_deploy else []
    access.check(cluster, profile.namespace, objects)
    namespace = cluster.get("v1", "Namespace", profile.namespace)
    if namespace is not None and namespace["metadata"].get("deletionTimestamp"):
        wait_gone(cluster, namespace, reporter.info)  # an earlier failed validation's, say
        namespace = None
    if namespace is None and not first_deploy:
        raise ConfigError(
            f"environment {profile.where} is not deployed (namespace {profile.namespace} "
            f"does not exist); run `deployctl up {profile.name}` first"
        )
    lock = DeployLock(cluster, profile.namespace, profile.name, action, reporter.info)
    try:
        if namespace is None:
            session.deploy.ensure_namespace(_namespace_objects(target))
        lock.acquire(wait=target.options.wait_lock)
    except Locked:
        # Another deploy holds it: a namespace we both applied is its to use now.
        session.deploy.keep_scaffolding()
        raise
    except BaseException:
        release(session, failed=True)
        raise
    session.lock = lock
    return session


def release(session: Session, failed: bool) -> None:
    """Give the lock back; after a failure, first remove what validation made and did
    not keep (a namespace made for a first deploy's dry runs). The one place that does."""
    try:
        if failed:
            session.deploy.undo_scaffolding()
    finally:
        if session.lock is not None:
            session.lock.release()


def _namespace_objects(target: Target) -> list[Obj]:
    """The rendered Namespace (with its Pod Security labels), or a bare one."""
    try:
        objects = rendering.set_namespace(rendering.build(target.profile), target.profile.namespace)
    except ConfigError:
        objects = []
    found = [o for o in objects if o["kind"] == "Namespace"]
    bare = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target.profile.namespace}}
    return [identify(o, target.profile.name) for o in found or [bare]]
