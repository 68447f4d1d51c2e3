"""`deployctl rollout COMPONENT VERSION`: one image changes; a failure restores the
revision before it by itself (exit 1), or says it could not (exit 4)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from deployctl import images, releases
from deployctl.commands import Result, fleet
from deployctl.commands.restore import restore
from deployctl.commands.session import Change, Session, locked
from deployctl.commands.target import Target
from deployctl.engine import pin_key
from deployctl.errors import ConfigError, ExitStatus
from deployctl.model import Obj
from deployctl.plan import containers_of
from deployctl.present import Reporter


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
    all_or_nothing: bool = False,
) -> Result:
    images.check_version(version)  # before connecting: bad input is exit 2 at once
    if target.profile.fleet:
        return fleet.deploy(
            target,
            reporter,
            "rollout",
            lambda session: rollout_change(session, component, version, container),
            no_rollback=no_rollback,
            all_or_nothing=all_or_nothing,
        )
    fleet.refuse_flags(target, all_or_nothing=all_or_nothing)

    def work(session: Session) -> Result:
        change = rollout_change(session, component, version, container)
        if change is None:
            unchanged = {"result": "unchanged", "changed": False, "revision": None}
            return Result(ExitStatus.OK, unchanged)
        outcome = session.run(change)
        if outcome.status == ExitStatus.OK:
            session.summary(outcome)
            return Result(outcome.status, outcome.document)
        if no_rollback:
            session.summary(outcome, "kept the failed state (--no-rollback)")
            return Result(ExitStatus.FAILED, outcome.document)
        return restore(session, outcome, change)

    return locked(target, reporter, "rollout", work)


def rollout_change(
    session: Session, component: str, version: str, container: str | None = None
) -> Change | None:
    """The recorded revision with the new image; None when it runs that image already."""
    profile = session.profile
    current = releases.deployed(session.history())
    if current is None:
        raise ConfigError(
            f"environment {profile.where} has no deployed revision to roll out from; "
            f"run `deployctl up {profile.name}` first"
        )
    change = retarget(current, component, version, container)
    if not change.changes:
        session.reporter.info(f"{component} already runs {version}; nothing to do")
        return None
    session.reporter.info("rolling out " + "; ".join(change.changes))
    return Change(
        "rollout",
        f"rollout of {component} to {version}",
        change.objects,
        change.pins,
        previous=current,
        component=component,
    )
