"""`stages:`: an environment across several clusters, deployed stage by stage."""

from __future__ import annotations

from typing import Any

from deployctl.profile.model import ClusterSpec
from deployctl.profile.reader import NAME, Reader
from deployctl.profile.settings import images, location, replicas

CLUSTER_KEYS = ("context", "server", "namespace", "images", "replicas")


def stages(r: Reader) -> tuple[ClusterSpec, ...]:
    """`stages:`, a list of stages, each a mapping of cluster name: its settings."""
    if "stages" not in r.data:
        return ()
    for key in ("context", "server"):
        if key in r.data:
            raise r.fail(key, "an environment with stages: names one per cluster; remove it")
    listed = r.data["stages"]
    if not isinstance(listed, list) or not listed:
        raise r.fail("stages", "expected a list of stages, each a mapping of cluster: settings")
    specs: list[ClusterSpec] = []
    for number, stage in enumerate(listed, start=1):
        if not isinstance(stage, dict) or not stage:
            raise r.fail(f"stages[{number - 1}]", "expected a mapping of cluster name: settings")
        for name, settings in stage.items():
            specs.append(cluster(r, str(name), number, settings, {s.name for s in specs}))
    return tuple(specs)


def cluster(r: Reader, name: str, stage: int, settings: Any, taken: set[str]) -> ClusterSpec:
    """One cluster of stage `stage`: its name, unique among `taken`, and its settings."""
    where = f"stages.{name}"
    if not NAME.match(name) or len(name) > 63:
        raise r.fail(where, f'"{name}" is not a valid cluster name (lowercase, digits, -)')
    if name in taken:
        raise r.fail(where, "named twice; give each cluster its own name")
    if not isinstance(settings, dict):
        raise r.fail(where, "expected a mapping with at least context:")
    unknown = sorted(set(settings) - set(CLUSTER_KEYS))
    if unknown:
        raise r.fail(f"{where}.{unknown[0]}", f"unknown setting (known: {', '.join(CLUSTER_KEYS)})")
    prefix = f"{where}."
    namespace, server = location(r, settings, prefix, required=False)
    return ClusterSpec(
        name=name,
        stage=stage,
        context=r.string("context", data=settings, prefix=prefix) or "",
        server=server,
        namespace=namespace,
        images=images(r, settings, prefix),
        replicas=replicas(r, settings, prefix),
    )
