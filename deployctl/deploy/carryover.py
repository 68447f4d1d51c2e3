"""What a deploy carries over from the revisions before it, on plain dicts (no cluster).

The image pins `rollout` set that still hold, the inventory of what earlier
runs may have left in the cluster, and which of it to prune.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from deployctl import model, releases
from deployctl.deploy.live import Key, Obj, object_key
from deployctl.model import ENV_LABEL
from deployctl.plan import containers_of, find_cycle


def pin_key(obj: Obj, container: str) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}/{container}"


def apply_pins(
    objects: list[Obj], pins: dict[str, dict[str, str]], say: Callable[[str], None]
) -> dict[str, dict[str, str]]:
    """Keep images set by `rollout` while the manifests still say what they said then.

    Mutates the rendered workloads in place (they are this run's own copies) and
    returns the pins that still hold.
    """
    kept: dict[str, dict[str, str]] = {}
    for obj in objects:
        for container in containers_of(obj):
            key = pin_key(obj, container["name"])
            pin = pins.get(key)
            if pin is None:
                continue
            if container["image"] == pin["manifest"]:
                container["image"] = pin["image"]
                kept[key] = pin
                say(
                    f"keeping {key} at {pin['image']} (set by rollout; the manifests say "
                    f"{pin['manifest']}; `deployctl up --reset-pins` returns to them)"
                )
            else:
                say(
                    f"the manifests now set {key} to {container['image']}: "
                    f"the rollout pin {pin['image']} no longer applies"
                )
    return kept


def inventory(revisions: list[releases.Revision], previous: releases.Revision | None) -> list[Obj]:
    """What deployctl may have left in the cluster: the deployed revision, and whatever
    failed, interrupted or pending runs after it applied."""
    after = previous.number if previous else 0
    partial = [
        r
        for r in revisions
        if r.number > after and r.result in ("failed", "interrupted", "pending")
    ]
    return [o for r in ([previous] if previous else []) + partial for o in r.objects]


def prune_choice(
    objects: list[Obj],
    old_objects: list[Obj],
    live: Callable[[Obj], Obj | None],
    environment: str,
) -> list[Obj]:
    """Pure: the live objects to prune — recorded before, no longer rendered, not of a
    kept kind, and still there marked as this environment's (deployctl made them)."""
    wanted = {object_key(o) for o in objects}
    candidates: list[Obj] = []
    seen: set[Key] = set()
    for old in old_objects:
        key = object_key(old)
        if key in wanted or key in seen or old["kind"] in model.KEPT_KINDS:
            continue
        seen.add(key)
        current = live(old)
        labels = ((current or {}).get("metadata") or {}).get("labels") or {}
        if current is not None and labels.get(ENV_LABEL) == environment:
            candidates.append(current)
    return candidates


def dependencies(
    revisions: list[releases.Revision], order: Mapping[str, Iterable[str]]
) -> dict[str, list[str]]:
    """Pure: the profile's `order`, and for components it no longer has, the dependencies
    the newest record of them was deployed with (prune deletes dependents first). Should
    the two together form a cycle, the profile's alone."""
    merged: dict[str, list[str]] = {}
    for revision in sorted(revisions, key=lambda r: r.number):
        merged.update(revision.order)
    merged.update({name: list(deps) for name, deps in order.items()})
    if find_cycle(merged):
        return {name: list(deps) for name, deps in order.items()}
    return merged
