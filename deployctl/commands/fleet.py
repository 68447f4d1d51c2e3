"""An environment across several clusters, in stages (`stages:` in its profile).

Every cluster gets the whole single-cluster deploy: validation, dependency
order, waits, prune, and its own revision record under its own lock. What the
fleet adds is the order between clusters:

1. every cluster is reached, locked and validated — every render, every
   context, a dry run in each — before the first write anywhere;
2. then stage after stage: the clusters of a stage in parallel, the next stage
   only once every cluster of this one is healthy;
3. a failure stops there. Later stages are not touched; the failed cluster is
   restored to the revision it ran before (unless `--no-rollback`); clusters
   of earlier stages keep the new version, or with `--all-or-nothing` every
   cluster that changed is restored as well.

The report says, cluster by cluster, what happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from deployctl import render as rendering
from deployctl.commands import Result
from deployctl.commands.restore import restore
from deployctl.commands.session import Change, Checked, Outcome, Session, hold, release
from deployctl.commands.target import Target, confirm_change
from deployctl.engine import connect
from deployctl.errors import ConfigError, DeployctlError, ExitStatus
from deployctl.kube import Cluster
from deployctl.kube.errors import Unreachable
from deployctl.present import Reporter
from deployctl.profile import ClusterSpec


class ClusterResult(StrEnum):
    """How one cluster's part of the run ended, as its report says it.

    Declared from the best to the worst: that order is its `severity`, never the
    strings' alphabetical one.
    """

    UNCHANGED = "unchanged"  # nothing to do there
    SKIPPED = "skipped"  # unreachable, left out (--skip-unreachable)
    DEPLOYED = "deployed"
    DOWN = "down"
    UNTOUCHED = "untouched"  # a failure elsewhere stopped the run before its stage
    ROLLED_BACK = "rolled-back"  # failed (or undone by --all-or-nothing), then restored
    FAILED = "failed"  # failed, and left as it is
    NOT_RESTORED = "not-restored"  # failed, and restoring it failed too

    @property
    def severity(self) -> int:
        return list(ClusterResult).index(self)

    @property
    def failure(self) -> bool:
        return self.severity >= ClusterResult.ROLLED_BACK.severity


def overall(results: Iterable[ClusterResult], done: ClusterResult) -> ClusterResult:
    """Pure: the environment's result. not-restored where any cluster is, failed where any
    other failed, else `done`."""
    worst = max(results, key=lambda result: result.severity, default=done)
    if worst is ClusterResult.NOT_RESTORED:
        return worst
    return ClusterResult.FAILED if worst.failure else done


class ClusterFailed(DeployctlError):
    """One cluster's error, named, with that error's exit status."""

    def __init__(self, cluster: str, error: DeployctlError) -> None:
        hint = ""
        if isinstance(error, Unreachable):
            hint = "; fix its context, or leave it out with --skip-unreachable"
        super().__init__(f"cluster {cluster}: {error}{hint}")
        self.exit_status = error.exit_status


@dataclass
class Leg:
    """One cluster of the run: its target, its session, and how it went."""

    spec: ClusterSpec
    target: Target
    reporter: Reporter
    session: Session | None = None
    change: Change | None = None
    checked: Checked | None = None
    outcome: Outcome | None = None
    result: ClusterResult = ClusterResult.UNTOUCHED
    status: ExitStatus = ExitStatus.OK
    note: str = ""
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def changed(self) -> bool:
        return self.outcome is not None and self.outcome.revision is not None

    def skip(self, error: Unreachable, reporter: Reporter) -> None:
        """--skip-unreachable: left out, and said so."""
        self.result, self.note = ClusterResult.SKIPPED, f"unreachable: {error}"
        reporter.info(f"{self.name}: skipped (--skip-unreachable): {error}")

    def report(self) -> dict[str, Any]:
        return {
            "stage": self.spec.stage,
            "context": self.target.profile.context,
            "namespace": self.target.profile.namespace,
            "result": self.result,
            "exit": int(self.status),
            "revision": self.document.get("revision"),
            "note": self.note,
            "report": self.document,
        }


def refuse_flags(target: Target, **flags: bool) -> None:
    """Flags that only mean something across clusters are an error on one cluster."""
    for name, given in flags.items():
        if given:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"{flag}: environment {target.profile.name} deploys to one cluster; "
                "the flag is for an environment with clusters in stages (stages: in its profile)"
            )


def legs(target: Target, reporter: Reporter, only: str | None = None) -> list[Leg]:
    """One leg per cluster of the environment (or only the one named), in stage order."""
    profile = target.profile
    specs = list(profile.clusters) if only is None else [profile.spec(only)]
    return [
        Leg(
            spec,
            replace(target, profile=profile.for_cluster(spec), yes=True),
            reporter.for_cluster(spec.name),
        )
        for spec in specs
    ]


def stages(all_legs: Iterable[Leg]) -> list[list[Leg]]:
    """Pure: the legs grouped by stage, in order."""
    grouped: dict[int, list[Leg]] = {}
    for leg in all_legs:
        grouped.setdefault(leg.spec.stage, []).append(leg)
    return [grouped[number] for number in sorted(grouped)]


def in_parallel(
    chosen: list[Leg], work: Callable[[Leg], None], stop: threading.Event | None = None
) -> dict[str, BaseException]:
    """Run `work` on every leg at once; the errors, by cluster. Ctrl-C (or SIGTERM) in
    the main thread sets `stop`, which each leg's session checks at its next step."""
    errors: dict[str, BaseException] = {}
    if not chosen:
        return errors
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        futures = {leg.name: pool.submit(work, leg) for leg in chosen}
        try:
            for name, future in futures.items():
                try:
                    future.result()
                except Exception as error:
                    errors[name] = error
        except BaseException:
            if stop is not None:
                stop.set()
            raise
    return errors


class Fleet:
    """One command's hold on every cluster of an environment."""

    def __init__(
        self, target: Target, reporter: Reporter, action: str, verb: str | None = None
    ) -> None:
        self.target = target
        self.reporter = reporter
        self.action = verb or action  # as consent and the lock's holder say it
        self.legs = legs(target, reporter, target.only_cluster)
        self.stop = threading.Event()

    @property
    def reached(self) -> list[Leg]:
        return [leg for leg in self.legs if leg.result is not ClusterResult.SKIPPED]

    def open(self, *, first_deploy: bool = False) -> None:
        """Reach every cluster, then validate the inputs of and lock each; any failure
        releases all of them and is raised (an unreachable cluster is skipped when asked).
        Nothing is written anywhere until every cluster has answered."""
        confirm_change(self.target, self.action)  # once, for every cluster
        for leg in self.legs:
            rendering.start_render(leg.target.profile)  # while the clusters are reached
        reached: dict[str, Cluster] = {}

        def reach(leg: Leg) -> None:
            reached[leg.name] = connect(leg.target.profile, leg.target.options)

        self._fail_together(in_parallel(self.legs, reach, self.stop))

        def one(leg: Leg) -> None:
            leg.session = hold(
                leg.target,
                leg.reporter,
                self.action,
                first_deploy=first_deploy,
                consent=False,
                cluster=reached[leg.name],
            )
            leg.session.stop = self.stop

        self._fail_together(in_parallel(self.reached, one, self.stop))

    def _fail_together(self, errors: dict[str, BaseException]) -> None:
        skip = self.target.skip_unreachable
        for leg in self.legs:
            error = errors.get(leg.name)
            if isinstance(error, Unreachable) and skip and leg.session is None:  # while reaching
                leg.skip(error, self.reporter)
                errors.pop(leg.name)
        if not errors:
            if not self.reached:
                raise ConfigError(f"environment {self.target.profile.name}: no cluster answered")
            return
        self.close(failed=True)
        first = next(leg for leg in self.legs if leg.name in errors)
        error = errors[first.name]
        if isinstance(error, DeployctlError):
            raise ClusterFailed(first.name, error) from None
        raise error

    def check(self, plan: Callable[[Session], Change | None]) -> None:
        """Work out and validate each cluster's change, the server's dry runs included."""

        def one(leg: Leg) -> None:
            assert leg.session is not None
            leg.change = plan(leg.session)
            if leg.change is None:
                leg.result = ClusterResult.UNCHANGED
                return
            leg.checked = leg.session.check(leg.change)

        self._fail_together(in_parallel(self.reached, one, self.stop))

    def close(self, failed: bool = False) -> None:
        """Release every lock; a cluster never written to loses the namespace that
        validation made for it."""
        for leg in self.legs:
            if leg.session is not None:
                try:
                    release(leg.session, failed=failed or leg.outcome is None)
                except DeployctlError as error:
                    self.reporter.info(f"{leg.name}: could not release: {error}")
                leg.session = None

    def run(self, work: Callable[[], Result], *, first_deploy: bool = False) -> Result:
        """Open every cluster, run `work`; however it ends (Ctrl-C while the locks are
        being taken included), every lock taken is released."""
        try:
            self.open(first_deploy=first_deploy)
            return work()
        finally:
            self.close()


def deploy(
    target: Target,
    reporter: Reporter,
    action: str,
    plan: Callable[[Session], Change | None],
    *,
    first_deploy: bool = False,
    no_rollback: bool = False,
    all_or_nothing: bool = False,
    verb: str | None = None,
) -> Result:
    """Lock and validate every cluster, then deploy stage by stage (see the module).
    `verb`: the action as consent and the lock say it ("deploy to" for up)."""
    fleet = Fleet(target, reporter, action, verb)

    def work() -> Result:
        fleet.check(plan)
        for stage in stages(fleet.reached):
            active = [leg for leg in stage if leg.checked is not None]
            numbers = ", ".join(leg.name for leg in stage)
            reporter.info(f"stage {stage[0].spec.stage}: {numbers}")
            for name, error in in_parallel(active, _apply, fleet.stop).items():
                leg = next(leg for leg in active if leg.name == name)  # a defect, not a verdict
                leg.result, leg.status = ClusterResult.FAILED, ExitStatus.FAILED
                leg.note = f"{type(error).__name__}: {error}"
                reporter.info(f"{name}: failed unexpectedly: {leg.note}")
            failed = [leg for leg in active if leg.result is not ClusterResult.DEPLOYED]
            if failed:
                _undo(fleet, failed, no_rollback, all_or_nothing)
                break
        return _report(fleet, action)

    return fleet.run(work, first_deploy=first_deploy)


def _apply(leg: Leg) -> None:
    assert leg.session is not None and leg.change is not None and leg.checked is not None
    try:
        leg.outcome = leg.session.apply(leg.change, leg.checked)
    except DeployctlError as error:
        leg.result, leg.status, leg.note = ClusterResult.FAILED, error.exit_status, str(error)
        if error.exit_status == ExitStatus.NOTHING_CHANGED:
            leg.status = ExitStatus.FAILED  # other clusters may have changed already
        if leg.session.recorded is not None:  # it failed after writing: restore from it
            leg.outcome = Outcome(ExitStatus.FAILED, {"result": "failed"}, {}, leg.session.recorded)
        return
    leg.document = {**leg.outcome.document, **leg.change.report}
    leg.result = ClusterResult(leg.document["result"])
    leg.status = leg.outcome.status
    if leg.outcome.status != ExitStatus.OK:
        leg.note = leg.outcome.failure
    leg.session.summary(leg.outcome)


def _undo(fleet: Fleet, failed: list[Leg], no_rollback: bool, all_or_nothing: bool) -> None:
    """Restore the failed clusters (and with all-or-nothing, every changed one)."""
    names = ", ".join(leg.name for leg in failed)
    undo = [] if no_rollback else [leg for leg in failed if _restorable(leg)]
    if all_or_nothing:
        undo += [
            leg for leg in fleet.reached if leg.changed and leg not in failed and _restorable(leg)
        ]
    for leg in failed:
        if no_rollback:
            leg.note += " (kept the failed state: --no-rollback)"

    def one(leg: Leg) -> None:
        assert leg.session is not None and leg.change is not None and leg.outcome is not None
        if leg.change.previous is None:
            leg.note += "; no earlier revision to restore: left as it is"
            return
        healthy = leg.result is ClusterResult.DEPLOYED
        reason = f"undone because {names} failed (--all-or-nothing)" if healthy else leg.note
        restored = restore(leg.session, leg.outcome, leg.change, reason)
        leg.document = restored.document
        leg.result = ClusterResult(restored.document["result"])
        leg.status = max(leg.status, restored.status, ExitStatus.FAILED)
        if healthy:
            leg.note = reason

    for name, error in in_parallel(undo, one, fleet.stop).items():
        leg = next(leg for leg in undo if leg.name == name)
        leg.result, leg.status = ClusterResult.NOT_RESTORED, ExitStatus.NOT_RESTORED
        leg.note = str(error)


def _restorable(leg: Leg) -> bool:
    """Only a cluster that was written to is restored, and never by a holder that lost
    its lock (it may write nothing more)."""
    assert leg.session is not None
    lock = leg.session.lock
    if lock is not None and lock.lost.is_set():
        leg.note += "; the lock was lost: not restored"
        return False
    return leg.outcome is not None


def _report(fleet: Fleet, action: str, done: ClusterResult = ClusterResult.DEPLOYED) -> Result:
    worst = max((leg.status for leg in fleet.legs), default=ExitStatus.OK)
    result = overall((leg.result for leg in fleet.legs), done)
    kept = [leg.name for leg in fleet.legs if leg.result is ClusterResult.DEPLOYED]
    if result is not done:
        untouched = [leg.name for leg in fleet.legs if leg.result is ClusterResult.UNTOUCHED]
        summary = f"{action} of {fleet.target.profile.name} failed"
        summary += "; " + "; ".join(
            f"{leg.name} {leg.result}" + (f": {leg.note}" if leg.note else "")
            for leg in fleet.legs
            if leg.result not in (done, ClusterResult.UNTOUCHED, ClusterResult.UNCHANGED)
        )
        if kept:
            summary += f"; kept the new version: {', '.join(kept)}"
        if untouched:
            summary += f"; not touched: {', '.join(untouched)}"
        fleet.reporter.info(summary)
    else:
        fleet.reporter.info(
            f"{fleet.target.profile.name}: {action} done on "
            + ", ".join(f"{leg.name} ({leg.result})" for leg in fleet.legs)
        )
    document = {
        "environment": fleet.target.profile.name,
        "action": action,
        "result": result,
        "stages": [[leg.name for leg in stage] for stage in stages(fleet.legs)],
        "clusters": {leg.name: leg.report() for leg in fleet.legs},
    }
    return Result(worst, document)


def down(target: Target, reporter: Reporter, take_down: Callable[[Session], Result]) -> Result:
    """Every cluster locked first; then the stages in reverse order (the canary last),
    the clusters of a stage in parallel. A failure stops before the next stage."""
    fleet = Fleet(target, reporter, "take down")

    def one(leg: Leg) -> None:
        assert leg.session is not None
        result = take_down(leg.session)
        leg.result, leg.status, leg.document = ClusterResult.DOWN, result.status, result.document

    def work() -> Result:
        for stage in reversed(stages(fleet.reached)):
            errors = in_parallel(stage, one, fleet.stop)
            for leg in stage:
                if error := errors.get(leg.name):
                    leg.result, leg.status = ClusterResult.FAILED, ExitStatus.FAILED
                    leg.note = str(error)
            if errors:
                break
        return _report(fleet, "down", done=ClusterResult.DOWN)

    return fleet.run(work)


def survey(
    target: Target,
    reporter: Reporter,
    look: Callable[[Target, Reporter], Result],
    combine: Callable[[dict[str, Any]], str],
) -> Result:
    """A read-only command on every cluster at once; one document, one text."""
    chosen = legs(target, reporter, target.only_cluster)
    found: dict[str, Result] = {}

    def one(leg: Leg) -> None:
        found[leg.name] = look(leg.target, leg.reporter)

    errors = in_parallel(chosen, one)
    clusters: dict[str, Any] = {}
    worst = ExitStatus.OK
    for leg in chosen:
        error = errors.get(leg.name)
        entry: dict[str, Any] = {"stage": leg.spec.stage, "context": leg.target.profile.context}
        if isinstance(error, Unreachable) and target.skip_unreachable:
            leg.skip(error, reporter)
            entry.update(result=leg.result, note=leg.note)
        elif isinstance(error, DeployctlError):
            raise ClusterFailed(leg.name, error) from None
        elif error is not None:
            raise error
        else:
            result = found[leg.name]
            worst = max(worst, result.status)
            entry.update(result.document, text=result.text or "")
        clusters[leg.name] = entry
    document = {"environment": target.profile.name, "clusters": clusters}
    text = combine(document)
    for entry in clusters.values():
        entry.pop("text", None)
    return Result(worst, document, text)
