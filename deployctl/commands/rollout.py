"""`deployctl rollout COMPONENT VERSION`: one image changes; a failure restores the
revision before it by itself (exit 1), or says it could not (exit 4)."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from deployctl import images, releases
from deployctl.commands import Result
from deployctl.commands.session import Outcome, Session, locked
from deployctl.commands.target import Target
from deployctl.engine import pin_key
from deployctl.errors import ConfigError, DeployctlError, ExitStatus
from deployctl.model import ObjectRef
from deployctl.plan import containers_of
from deployctl.present import Reporter

Obj = dict[str, Any]


class NotRestored(DeployctlError):
    """A rollout failed and its automatic rollback did not restore the cluster (exit 4)."""

    exit_status = ExitStatus.NOT_RESTORED


@dataclass
class Retarget:
    """The recorded objects with the new image, the pins that keep it, and what changed."""

    objects: list[Obj]
    pins: dict[str, dict[str, str]]
    changes: list[str] = field(default_factory=list)


def retarget(
    current: releases.Revision, component: str, version: str, container: str | None = None
) -> Retarget:
    """Pure: the deployed revision with one component's image set to `version`.

    The pin remembers the manifests' image at the time, so a later `up` keeps
    the rolled-out image until the manifests change that image.
    """
    objects = copy.deepcopy(current.objects)
    workloads = [o for o in releases.component_objects(objects, component) if containers_of(o)]
    if not workloads:
        known = sorted(releases.images_by_component(objects))
        raise ConfigError(f'unknown component "{component}" (known: {", ".join(known)})')
    result = Retarget(objects, dict(current.pins))
    for workload, spec in images.pick_container(workloads, component, container):
        key = pin_key(workload, spec["name"])
        manifest = (current.pins.get(key) or {}).get("manifest", spec["image"])
        image = images.new_image(spec["image"], version)
        if image != spec["image"]:
            result.changes.append(f"{key}: {spec['image']} -> {image}")
        spec["image"] = image
        result.pins[key] = {"image": image, "manifest": manifest}
    return result


def rollout(
    target: Target,
    reporter: Reporter,
    component: str,
    version: str,
    container: str | None = None,
    no_rollback: bool = False,
) -> Result:
    images.check_version(version)  # before connecting: bad input is exit 2 at once

    def work(session: Session) -> Result:
        profile = target.profile
        current = releases.deployed(session.history())
        if current is None:
            raise ConfigError(
                f"environment {profile.name} has no deployed revision to roll out from; "
                f"run `deployctl up {profile.name}` first"
            )
        change = retarget(current, component, version, container)
        if not change.changes:
            reporter.info(f"{component} already runs {version}; nothing to do")
            unchanged = {"result": "unchanged", "changed": False, "revision": None}
            return Result(ExitStatus.OK, unchanged)
        reporter.info("rolling out " + "; ".join(change.changes))
        outcome = session.run("rollout", objects=change.objects, pins=change.pins)
        if outcome.status == ExitStatus.OK:
            session.summary(outcome)
            return Result(outcome.status, outcome.document)
        if no_rollback:
            session.summary(outcome, "kept the failed state (--no-rollback)")
            return Result(ExitStatus.FAILED, outcome.document)
        return _restore(session, outcome, current, change.objects, f"{component} to {version}")

    return locked(target, reporter, "rollout", work)


def _restore(
    session: Session,
    outcome: Outcome,
    current: releases.Revision,
    objects: list[Obj],
    what: str,
) -> Result:
    """Deploy the revision the rollout started from again, and say how that went."""
    component = what.split(" ", 1)[0]
    failure = outcome.failure
    session.reporter.info(f"rollout failed; restoring revision {current.number}")
    try:
        restored = session.run(
            "rollout",
            objects=current.objects,
            pins=current.pins,
            replace_stuck_pods=True,
            record=False,
        )
    except DeployctlError as error:
        running = running_images(session, objects, component)
        raise NotRestored(
            f"rollout of {what} failed ({failure}), and restoring revision {current.number} "
            f"failed too: {error}; {component} runs {running} "
            f"— see `deployctl status -e {session.profile.name}`"
        ) from None
    if restored.status != ExitStatus.OK:
        running = running_images(session, objects, component)
        session.reporter.info(
            f"rollout of {what} failed: {failure}; restoring revision {current.number} "
            f"did not become healthy either: {restored.failure}; {component} runs {running}"
        )
        document = {**outcome.document, "result": "not-restored", "restored": restored.document}
        return Result(ExitStatus.NOT_RESTORED, document)
    if outcome.revision is not None:
        outcome.revision.result = releases.RevisionResult.ROLLED_BACK
        outcome.revision.note = failure
        session.save(outcome.revision)
        current.result = releases.RevisionResult.DEPLOYED  # the cluster runs it again
        session.save(current)
    session.reporter.info(
        f"rollout of {what} failed: {failure}; rolled back to revision {current.number}, "
        "which is healthy again"
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
