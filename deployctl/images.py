"""Image references, as `rollout` reads them: pure, no I/O."""

from __future__ import annotations

import re

from deployctl.errors import ConfigError
from deployctl.model import Obj
from deployctl.plan import containers_of, is_migration

TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
REFERENCE = re.compile(
    r"^(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)


def check_version(version: str) -> None:
    """Refuse a VERSION that is neither a tag nor an image reference (exit 2)."""
    if not (TAG.match(version) or REFERENCE.match(version)):
        new_image("", version)


def repository(image: str) -> str:
    """The image without its tag or digest: `reg:5000/team/api:v1` -> `reg:5000/team/api`."""
    name = image.split("@", 1)[0]
    return name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name


def new_image(current: str, version: str) -> str:
    """A tag replaces the current image's tag; a full reference replaces the image."""
    if TAG.match(version) and "/" not in version and ":" not in version:
        return f"{repository(current)}:{version}"
    if REFERENCE.match(version) and (":" in version or "@" in version):
        return version
    raise ConfigError(
        f'VERSION "{version}" is neither a tag (like v2.0.1) nor a full image reference '
        "(like registry.example.com/team/app:v2.0.1)"
    )


def pick_container(workloads: list[Obj], component: str, container: str | None):
    """The (workload, container) pairs whose image a rollout changes: the component's
    container (`pick_app_container`) and its migration Jobs' containers of the same image
    repository, which run the new version's migration first."""
    picked = pick_app_container([w for w in workloads if not is_migration(w)], component, container)
    repositories = {repository(c["image"]) for _, c in picked}
    migrations = [
        (w, c)
        for w in workloads
        if is_migration(w)
        for c in containers_of(w)
        if repository(c["image"]) in repositories
    ]
    return [*migrations, *picked]


def pick_app_container(workloads: list[Obj], component: str, container: str | None):
    """The (workload, container) pairs of the component's application a rollout changes."""
    candidates = [(w, c) for w in workloads for c in containers_of(w)]
    if container is not None:
        chosen = [(w, c) for w, c in candidates if c["name"] == container]
        if not chosen:
            names = ", ".join(sorted({c["name"] for _, c in candidates}))
            raise ConfigError(
                f'--container: component {component} has no container "{container}" '
                f"(it has: {names})"
            )
        return chosen
    if len(candidates) == 1:
        return candidates
    named = [(w, c) for w, c in candidates if c["name"] == component]
    if named:
        return named
    names = ", ".join(sorted({c["name"] for _, c in candidates}))
    raise ConfigError(
        f"component {component} has several containers ({names}); name one with --container"
    )
