"""The settings of a profile, each read and checked (component names are checked once the
manifests are rendered: Profile.check_components)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deployctl.plan import find_cycle
from deployctl.profile.model import Source
from deployctl.profile.reader import NAME, Reader

KEYS = {
    "keepRevisions",
    "overlay",
    "chart",
    "values",
    "release",
    "context",
    "server",
    "namespace",
    "default",
    "protected",
    "timeouts",
    "restartsAllowed",
    "order",
    "secrets",
    "images",
    "replicas",
    "stages",
}


def source(r: Reader, project: Path, env: str) -> Source:
    """The overlay, or the chart with its values files, that renders the environment."""
    if "chart" not in r.data:
        if "values" in r.data or "release" in r.data:
            key = "values" if "values" in r.data else "release"
            raise r.fail(key, "only for a chart: add chart: or remove it")
        overlay = Path(r.string("overlay") or "")
        if not (project / overlay / "kustomization.yaml").is_file():
            raise r.fail("overlay", f'"{overlay}" has no kustomization.yaml')
        return Source(project / overlay)
    if "overlay" in r.data:
        raise r.fail("chart", "give overlay: or chart:, not both")
    chart = Path(r.string("chart") or "")
    if not (project / chart / "Chart.yaml").is_file():
        raise r.fail("chart", f'"{chart}" has no Chart.yaml')
    listed = r.data.get("values") or []
    listed = [listed] if isinstance(listed, str) else listed
    if not isinstance(listed, list) or not all(isinstance(v, str) for v in listed):
        raise r.fail("values", "expected a file or a list of files")
    for value in listed:
        if not (project / value).is_file():
            raise r.fail("values", f'"{value}" is not a file')
    release = r.string("release", required=False) or env
    if not NAME.match(release) or len(release) > 53:
        raise r.fail("release", f'"{release}" is not a valid release name')
    return Source(project / chart, tuple(project / v for v in listed), release)


def location(
    r: Reader, data: dict[str, Any] | None = None, prefix: str = "", required: bool = True
) -> tuple[str | None, str | None]:
    """The namespace to deploy to, and the server it must be on (the profile's, or with
    `data` and `prefix` one cluster's, whose namespace is optional)."""
    namespace = r.string("namespace", required=required, data=data, prefix=prefix)
    if namespace is not None and (not NAME.match(namespace) or len(namespace) > 63):
        raise r.fail(f"{prefix}namespace", f'"{namespace}" is not a valid namespace name')
    server = r.string("server", required=False, data=data, prefix=prefix)
    if server is not None and not server.startswith("https://"):
        raise r.fail(f"{prefix}server", f'"{server}" must be an https:// URL')
    return namespace, server


def images(r: Reader, data: dict[str, Any], prefix: str) -> dict[str, str]:
    """component: a tag (v2.0.1) or a whole image reference."""
    images = data.get("images") or {}
    if not isinstance(images, dict) or not all(
        isinstance(v, str) and v.strip() for v in images.values()
    ):
        raise r.fail(f"{prefix}images", "expected a mapping of component: tag or image")
    return {str(k): v for k, v in images.items()}


def replicas(r: Reader, data: dict[str, Any], prefix: str) -> dict[str, int]:
    replicas = data.get("replicas") or {}
    if not isinstance(replicas, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in replicas.values()
    ):
        raise r.fail(f"{prefix}replicas", "expected a mapping of component: a whole number")
    return {str(k): v for k, v in replicas.items()}


def timeouts(r: Reader) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `timeouts` mapping and its per-component one (durations are read later)."""
    timeouts = r.mapping("timeouts")
    for key in timeouts:
        if key not in ("component", "unschedulable", "components"):
            raise r.fail(
                f"timeouts.{key}", "unknown setting (known: component, unschedulable, components)"
            )
    per_component = timeouts.get("components") or {}
    if not isinstance(per_component, dict):
        raise r.fail("timeouts.components", "expected a mapping of component: duration")
    return timeouts, per_component


def restarts_allowed(r: Reader) -> dict[str, int]:
    """component: how many restarts its containers may need; CrashLoopBackOff beyond fails."""
    allowed = r.mapping("restartsAllowed")
    for component, count in allowed.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            where = f"restartsAllowed.{component}"
            raise r.fail(where, f"expected a whole number of 0 or more, got {count!r}")
    return {str(c): n for c, n in allowed.items()}


def order(r: Reader) -> dict[str, tuple[str, ...]]:
    """component: the components it depends on; a cycle is an error."""
    order_data = r.mapping("order")
    order: dict[str, tuple[str, ...]] = {}
    for component, deps in order_data.items():
        if deps is None:
            deps = []
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise r.fail(f"order.{component}", "expected a list of component names")
        order[str(component)] = tuple(deps)
    if cycle := find_cycle(order):
        raise r.fail(
            f"order.{cycle[0]}",
            f"dependency cycle {' -> '.join(cycle)}; remove one of these dependencies",
        )
    return order


def secrets(r: Reader) -> tuple[dict[str, Any], str | None]:
    """The `secrets` mapping and its envFile, if any."""
    secrets_data = r.mapping("secrets")
    for key in secrets_data:
        if key not in ("envFile", "generate"):
            raise r.fail(f"secrets.{key}", "unknown setting (known: envFile, generate)")
    env_file = r.string("envFile", required=False, data=secrets_data, prefix="secrets.")
    return secrets_data, env_file


def keep_revisions(r: Reader) -> int:
    keep = r.data.get("keepRevisions", 10)
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        raise r.fail("keepRevisions", f"expected a whole number of at least 1, got {keep!r}")
    return keep
