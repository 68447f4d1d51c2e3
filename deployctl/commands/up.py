"""`deployctl up ENV`: validate, apply in dependency order, wait, prune, record."""

from __future__ import annotations

from deployctl import render as rendering
from deployctl.commands import Result, fleet
from deployctl.commands.session import Change, Session, locked
from deployctl.commands.target import Target
from deployctl.present import Reporter


def up(
    target: Target, reporter: Reporter, no_rollback: bool = False, all_or_nothing: bool = False
) -> Result:
    if target.profile.fleet:
        return fleet.deploy(
            target,
            reporter,
            "up",
            lambda session: Change("up", f"up of {session.profile.where}"),
            first_deploy=True,
            no_rollback=no_rollback,
            all_or_nothing=all_or_nothing,
            verb="deploy to",
        )
    fleet.refuse_flags(target, no_rollback=no_rollback, all_or_nothing=all_or_nothing)
    rendering.start_render(target.profile)  # while the cluster is being reached

    def work(session: Session) -> Result:
        outcome = session.run(Change("up", f"up of {session.profile.where}"))
        session.summary(outcome)
        return Result(outcome.status, outcome.document)

    return locked(target, reporter, "deploy to", work, first_deploy=True)
