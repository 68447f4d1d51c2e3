"""`deployctl rollback [COMPONENT]`: restore an earlier successful revision, of the
whole environment or of one component."""

from __future__ import annotations

import copy

from deployctl import releases
from deployctl.commands import Result, fleet
from deployctl.commands.session import Change, Outcome, Session, locked
from deployctl.commands.target import Target, confirm_past_migrations
from deployctl.errors import ConfigError, ExitStatus
from deployctl.model import ComponentState, Obj
from deployctl.present import Reporter

Pins = dict[str, dict[str, str]]


def choose(
    revisions: list[releases.Revision], component: str | None, to_revision: int | None
) -> tuple[releases.Revision, releases.Revision]:
    """Pure: (the revision the cluster runs now, the revision to restore)."""
    current = releases.current_state(revisions)
    if current is None:
        raise ConfigError("no revision to roll back from")
    if to_revision is not None:
        chosen = next((r for r in revisions if r.number == to_revision), None)
        if chosen is None or not chosen.successful:
            kept = ", ".join(str(r.number) for r in revisions if r.successful)
            raise ConfigError(
                f"--to-revision {to_revision}: not a kept successful revision (kept: {kept})"
            )
        return current, chosen
    chosen = releases.rollback_target(revisions, current, component)
    if chosen is None:
        what = f"component {component}" if component else "the environment"
        raise ConfigError(
            f"nothing to roll back to: no earlier successful revision of {what} "
            f"differs from the current one (revision {current.number})"
        )
    return current, chosen


def merge(
    current: releases.Revision, chosen: releases.Revision, component: str | None
) -> tuple[list[Obj], Pins]:
    """Pure: the objects and pins to deploy. One component comes from `chosen`, with its
    pins; everything else stays as `current` has it."""
    if component is None:
        return copy.deepcopy(chosen.objects), dict(chosen.pins)
    mine = releases.component_objects(current.objects, component)
    if not mine:
        raise ConfigError(f'unknown component "{component}" in revision {current.number}')
    objects = [o for o in current.objects if o not in mine]
    objects += releases.component_objects(chosen.objects, component)
    pins = {k: v for k, v in current.pins.items() if not _pin_of(k, objects, component)}
    pins.update({k: v for k, v in chosen.pins.items() if _pin_of(k, objects, component)})
    return copy.deepcopy(objects), pins


def _pin_of(key: str, objects: list[Obj], component: str) -> bool:
    kind, name, _ = key.split("/", 2)
    return any(
        o["kind"] == kind and o["metadata"]["name"] == name
        for o in releases.component_objects(objects, component)
    )


def rollback(
    target: Target,
    reporter: Reporter,
    component: str | None = None,
    to_revision: int | None = None,
    no_rollback: bool = False,
    all_or_nothing: bool = False,
) -> Result:
    if target.profile.fleet:
        if to_revision is not None and not target.only_cluster:
            raise ConfigError(
                f"--to-revision: each cluster of {target.profile.name} numbers its own "
                "revisions; choose one with --cluster NAME"
            )
        return fleet.deploy(
            target,
            reporter,
            "rollback",
            lambda session: rollback_change(session, component, to_revision),
            no_rollback=no_rollback,
            all_or_nothing=all_or_nothing,
        )
    fleet.refuse_flags(target, no_rollback=no_rollback, all_or_nothing=all_or_nothing)

    def work(session: Session) -> Result:
        change = rollback_change(session, component, to_revision)
        outcome = session.run(change)
        session.summary(outcome, restored_note(outcome, change.report["target"]))
        return Result(outcome.status, {**outcome.document, **change.report})

    return locked(target, reporter, "rollback", work)


def restored_note(outcome: Outcome, number: int) -> str:
    """Pure: what the summary says of the revision a rollback went back to."""
    if outcome.status == ExitStatus.OK:
        return f"restored revision {number}"
    failed = [n for n, r in outcome.results.items() if r.state == ComponentState.FAILED]
    return f"revision {number} not restored: {', '.join(failed) or 'the deploy'} failed"


def rollback_change(session: Session, component: str | None, to_revision: int | None) -> Change:
    """What rolling back means on this cluster: its own earlier revision."""
    try:
        current, chosen = choose(session.history(), component, to_revision)
    except ConfigError as error:
        raise ConfigError(f"environment {session.profile.where}: {error}") from None
    objects, pins = merge(current, chosen, component)
    what = f"{component} " if component else ""
    session.reporter.info(f"rolling back {what}to revision {chosen.number}")
    passed = releases.migrations_between(
        session.history(), chosen.number, current.number, component
    )
    confirm_past_migrations(session.target, session.reporter, "rollback", passed)
    return Change(
        "rollback",
        f"rollback {what}to revision {chosen.number}",
        objects,
        pins,
        replace_stuck_pods=True,
        keep_migrations=True,
        previous=current if current.successful else None,  # never back onto a failure
        report={"target": chosen.number},
    )
