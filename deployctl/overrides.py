"""A profile's `images:` and `replicas:`, applied to the rendered objects: how one
cluster (or one environment) differs from its manifests without an overlay of its own.
Pure, no I/O."""

from __future__ import annotations

import copy

from deployctl import images as imaging
from deployctl.errors import ConfigError
from deployctl.model import Obj
from deployctl.plan import component_objects, containers_of

SCALED_KINDS = ("Deployment", "StatefulSet")


def apply(
    objects: list[Obj], images: dict[str, str], replicas: dict[str, int], where: str
) -> list[Obj]:
    """The objects with each named component's image and replicas set.

    An image is a tag (the workload's repository keeps) or a whole reference, as
    `rollout` takes it. `where` names the profile setting in errors.
    """
    if not images and not replicas:
        return objects
    objects = copy.deepcopy(objects)
    for component, version in images.items():
        workloads = [o for o in component_objects(objects, component) if containers_of(o)]
        try:
            for _, container in imaging.pick_container(workloads, component, None):
                container["image"] = imaging.new_image(container["image"], version)
        except ConfigError as error:
            raise ConfigError(f"{where}images.{component}: {error}") from None
    for component, count in replicas.items():
        mine = component_objects(objects, component)
        scaled = [o for o in mine if o["kind"] in SCALED_KINDS]
        if not scaled:
            raise ConfigError(
                f"{where}replicas.{component}: the component has no Deployment or StatefulSet"
            )
        autoscaled = {
            ((o.get("spec") or {}).get("scaleTargetRef") or {}).get("name")
            for o in mine
            if o["kind"] == "HorizontalPodAutoscaler"
        }
        for workload in scaled:
            if workload["metadata"]["name"] in autoscaled:
                raise ConfigError(
                    f"{where}replicas.{component}: {workload['kind']}/"
                    f"{workload['metadata']['name']} is scaled by a HorizontalPodAutoscaler; "
                    "set its minReplicas in the manifests instead"
                )
            workload.setdefault("spec", {})["replicas"] = count
    return objects
