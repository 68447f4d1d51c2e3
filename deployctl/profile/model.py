"""The Profile type: where and how one environment is deployed, and its clusters'."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from deployctl.errors import ConfigError

DEFAULT_COMPONENT_TIMEOUT = 300.0
DEFAULT_UNSCHEDULABLE_GRACE = 15.0


@dataclass(frozen=True)
class SecretsSource:
    env_file: Path | None
    generate: bool


@dataclass(frozen=True)
class Source:
    """What renders the environment's objects: a Kustomize overlay, or a Helm chart
    with its values files (in order) and the release name it is rendered as."""

    path: Path
    values: tuple[Path, ...] = ()
    release: str | None = None  # set for a chart only

    @property
    def chart(self) -> bool:
        return self.release is not None


@dataclass(frozen=True)
class ClusterSpec:
    """One cluster of an environment that spans several: where, and how it differs."""

    name: str
    stage: int  # 1, 2, ...: the stage it deploys in
    context: str
    server: str | None = None
    namespace: str | None = None  # None: the environment's
    images: dict[str, str] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    source: Source
    context: str
    namespace: str
    server: str | None = None
    default: bool = False
    protected: bool = False
    component_timeout: float = DEFAULT_COMPONENT_TIMEOUT
    unschedulable_grace: float = DEFAULT_UNSCHEDULABLE_GRACE
    component_timeouts: dict[str, float] = field(default_factory=dict)
    restarts_allowed: dict[str, int] = field(default_factory=dict)  # component: restarts
    order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    secrets: SecretsSource = SecretsSource(None, False)
    keep_revisions: int = 10
    images: dict[str, str] = field(default_factory=dict)  # component: tag or reference
    replicas: dict[str, int] = field(default_factory=dict)  # component: replicas
    clusters: tuple[ClusterSpec, ...] = ()  # an environment across clusters, in stages
    cluster: str | None = None  # set on one cluster's profile of such an environment

    @property
    def fleet(self) -> bool:
        """Whether the environment spans several clusters (`stages:`)."""
        return bool(self.clusters)

    @property
    def where(self) -> str:
        """The environment, and its cluster when it spans several: for messages."""
        return f"{self.name}/{self.cluster}" if self.cluster else self.name

    def spec(self, name: str) -> ClusterSpec:
        """The cluster named `name` (--cluster) of an environment with stages."""
        for spec in self.clusters:
            if spec.name == name:
                return spec
        known = ", ".join(c.name for c in self.clusters)
        raise ConfigError(
            f'--cluster: environment {self.name} has no cluster "{name}" (it has: {known})'
        )

    def places(self) -> list[Profile]:
        """Where the environment deploys: itself, or each of its clusters' profiles."""
        return [self.for_cluster(c) for c in self.clusters] or [self]

    def for_cluster(self, spec: ClusterSpec) -> Profile:
        """The profile of one of the environment's clusters: a single-cluster profile."""
        return dataclasses.replace(
            self,
            context=spec.context,
            server=spec.server,
            namespace=spec.namespace or self.namespace,
            images={**self.images, **spec.images},
            replicas={**self.replicas, **spec.replicas},
            clusters=(),
            cluster=spec.name,
        )

    def timeout_for(self, component: str) -> float:
        return self.component_timeouts.get(component, self.component_timeout)

    def restarts_for(self, component: str) -> int:
        """How many restarts a container of the component may need before it runs."""
        return self.restarts_allowed.get(component, 0)

    def check_components(self, known: set[str]) -> None:
        """Every component the profile names must exist in the rendered manifests."""
        listing = ", ".join(sorted(known))
        for component, deps in self.order.items():
            if component not in known:
                raise self._error(
                    f"order.{component}", f'unknown component "{component}" (known: {listing})'
                )
            for dep in deps:
                if dep not in known:
                    raise self._error(
                        f"order.{component}", f'unknown component "{dep}" (known: {listing})'
                    )
        prefix = f"stages.{self.cluster}." if self.cluster else ""
        for where, named in (
            ("timeouts.components", self.component_timeouts),
            ("restartsAllowed", self.restarts_allowed),
            (f"{prefix}images", self.images),
            (f"{prefix}replicas", self.replicas),
        ):
            for component in named:
                if component not in known:
                    raise self._error(
                        f"{where}.{component}",
                        f'unknown component "{component}" (known: {listing})',
                    )

    def _error(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {message}")


def one_cluster(profile: Profile, name: str | None) -> Profile:
    """The profile of the cluster `name` (--cluster) of an environment with stages."""
    if not profile.fleet:
        if name:
            raise ConfigError(
                f"--cluster: environment {profile.name} deploys to one cluster; leave it out"
            )
        return profile
    if name is None:
        known = ", ".join(c.name for c in profile.clusters)
        raise ConfigError(
            f"environment {profile.name} spans clusters ({known}); choose one with --cluster"
        )
    return profile.for_cluster(profile.spec(name))
