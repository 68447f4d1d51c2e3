"""Putting a cluster back on the revision it ran before a change failed: what
`rollout` does by itself, and what a deploy across clusters does to the failed one."""

from __future__ import annotations

import dataclasses

from deployctl import releases
from deployctl.commands import Result
from deployctl.commands.session import Change, Outcome, Session
from deployctl.commands.target import confirm_past_migrations
from deployctl.errors import DeployctlError, ExitStatus
from deployctl.model import Obj, ObjectRef
from deployctl.plan import containers_of


class NotRestored(DeployctlError):
    """A rollout failed and its automatic rollback did not restore the cluster (exit 4)."""

    exit_status = ExitStatus.NOT_RESTORED


def restore(session: Session, outcome: Outcome, change: Change, reason: str = "") -> Result:
    """Deploy the revision the change started from again, and say how that went: exit 1
    when it is healthy again, 4 (or NotRestored) when it is not."""
    current = change.previous
    assert current is not None, "restore needs the revision to restore"
    reason = reason or outcome.failure
    if outcome.status == ExitStatus.OK:  # healthy, but undone for another cluster's failure
        what = f"{change.what} is undone"
        session.reporter.info(
            f"{change.what}: undoing it ({reason}); restoring revision {current.number}"
        )
    else:
        what = f"{change.what} failed"
        session.reporter.info(f"{what}; restoring revision {current.number}")

    def running() -> str:
        if change.component is None:
            return ""
        found = running_images(session, change.objects or [], change.component)
        return f"; {change.component} runs {found}"

    ran = outcome.revision.migrations if outcome.revision is not None else []
    number = outcome.revision.number if outcome.revision is not None else 0
    try:
        confirm_past_migrations(
            session.target, session.reporter, "the rollback", [(number, m) for m in ran]
        )
        restored = session.run(
            Change(
                change.action,
                f"restore of revision {current.number}",
                current.objects,
                current.pins,
                replace_stuck_pods=True,
                keep_migrations=True,
            ),
            record=False,
        )
    except DeployctlError as error:
        raise NotRestored(
            f"{what} ({reason}), and restoring revision {current.number} "
            f"failed too: {error}{running()} "
            f"— see `deployctl status -e {session.profile.name}`"
        ) from None
    if restored.status != ExitStatus.OK:
        session.reporter.info(
            f"{what}: {reason}; restoring revision {current.number} "
            f"did not become healthy either: {restored.failure}{running()}"
        )
        document = {**outcome.document, "result": "not-restored", "restored": restored.document}
        return Result(ExitStatus.NOT_RESTORED, document)
    if outcome.revision is not None:
        outcome.revision.result = releases.RevisionResult.ROLLED_BACK
        outcome.revision.note = reason
        session.save(outcome.revision)
        current.result = releases.RevisionResult.DEPLOYED  # the cluster runs it again
        session.save(current)
    session.reporter.info(
        f"{what}: {reason}; rolled back to revision {current.number}, which is healthy again"
    )
    document = {**outcome.document, "result": "rolled-back", "restored": restored.document}
    return Result(ExitStatus.FAILED, document)


def running_images(session: Session, objects: list[Obj], component: str) -> str:
    """What the component's workloads run now, as the cluster says (for the on-call)."""
    found = []
    for obj in releases.component_objects(objects, component):
        if not containers_of(obj):
            continue
        try:
            where = dataclasses.replace(ObjectRef.of(obj), namespace=session.profile.namespace)
            live = session.cluster.read(where)
        except DeployctlError:
            live = None
        running = [c["image"] for c in containers_of(live or {})] or ["(unknown)"]
        found.append(f"{obj['metadata']['name']}={','.join(running)}")
    return "; ".join(found) or "(nothing)"
