"""`deployctl up ENV`: validate, apply in dependency order, wait, prune, record."""

from __future__ import annotations

from deployctl import render as rendering
from deployctl.commands import Result
from deployctl.commands.session import Session, locked
from deployctl.commands.target import Target
from deployctl.present import Reporter


def up(target: Target, reporter: Reporter) -> Result:
    rendering.start_render(target.profile)  # while the cluster is being reached

    def work(session: Session) -> Result:
        outcome = session.run("up")
        session.summary(outcome)
        return Result(outcome.status, outcome.document)

    return locked(target, reporter, "deploy to", work, first_deploy=True)
