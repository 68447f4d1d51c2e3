"""Environment profiles: where and how one environment is deployed.

A profile is ``environments/<env>.yaml`` in a deployctl project::

    overlay: manifests/overlays/staging   # the Kustomize overlay to render, or instead:
    # chart: charts/ai-agent-orchestrator # a Helm chart, rendered with `helm template`
    # values: [charts/.../values-staging.yaml]  # its values files, in order
    # release: ai-agent                   # the release name it is rendered as (default: env)
    context: staging-cluster              # kube context (never the current one silently)
    server: https://staging.example:6443  # optional: the URL that context must point at
    namespace: ai-agent-staging           # overrides the overlay's namespace
    default: false                        # exactly one profile is the default (dev)
    protected: false                      # true: changes need confirmation or --yes
    timeouts:
      component: 5m                       # how long to wait for each component
      unschedulable: 15s                  # grace before an unschedulable pod is a failure
      components: {postgresql: 10m}       # per-component overrides
    restartsAllowed: {orchestrator: 2}    # restarts a container may need before it runs (0)
    order:                                # component: [components it depends on]
      postgresql: []
      orchestrator: [postgresql]
    secrets:
      envFile: .env.staging               # KEY=value lines; environment variables win
      generate: false                     # dev: generate missing values once, keep them
    images: {orchestrator: v2.0.1}        # optional: a component's image (a tag or a reference)
    replicas: {worker: 4}                 # optional: a component's replicas

An environment across several clusters names no `context:`; it lists its
clusters in stages instead. A stage deploys only after the one before it is
wholly healthy; the clusters of a stage deploy in parallel::

    stages:
      - canary: {context: prod-canary}
      - eu-west: {context: prod-eu, server: https://eu.example:6443, replicas: {worker: 6}}
        us-east: {context: prod-us, namespace: ai-agent, images: {orchestrator: v2.0.1}}

Errors name the file and the field: ``environments/staging.yaml: order.worker:
unknown component "wrker" (known: ...)``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deployctl.errors import ConfigError
from deployctl.plan import find_cycle

PROFILE_DIR = "environments"
DEFAULT_COMPONENT_TIMEOUT = 300.0
DEFAULT_UNSCHEDULABLE_GRACE = 15.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_KEYS = {
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
_CLUSTER_KEYS = ("context", "server", "namespace", "images", "replicas")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def parse_duration(text: str | int | float) -> float:
    """'90s', '5m', '1h30m', '250ms' or a number of seconds -> seconds."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"{text!r} is negative")
        return float(text)
    text = str(text).strip()
    if not text or _DURATION.sub("", text):
        raise ValueError(f'"{text}" is not a duration (like 90s, 5m, 1h30m)')
    return sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))


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


class _Reader:
    """Reads one profile's mapping, turning every defect into a located ConfigError."""

    def __init__(self, path: Path, display: Path) -> None:
        self.display = display
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark else "YAML"
            raise ConfigError(f"{display}: {where}: not valid YAML ({error})") from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"{display}: expected a mapping of settings, got {type(data).__name__}"
            )
        self.data: dict[str, Any] = data

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.display}: {where}: {message}")

    def string(
        self, key: str, *, required: bool = True, data: dict | None = None, prefix: str = ""
    ) -> str | None:
        source = self.data if data is None else data
        value = source.get(key)
        if value is None:
            if required:
                raise self.fail(prefix + key, "missing; add it")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(prefix + key, f"expected a non-empty string, got {value!r}")
        return value

    def boolean(self, key: str, data: dict | None = None, prefix: str = "") -> bool:
        source = self.data if data is None else data
        value = source.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(prefix + key, f"expected true or false, got {value!r}")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.data.get(key) or {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {type(value).__name__}")
        return value

    def duration(self, where: str, value: Any) -> float:
        try:
            return parse_duration(value)
        except ValueError as error:
            raise self.fail(where, str(error)) from None


def load_profile(project: Path, env: str) -> Profile:
    """Load and validate environments/<env>.yaml of the project."""
    path = project / PROFILE_DIR / f"{env}.yaml"
    display = Path(PROFILE_DIR) / f"{env}.yaml"
    if not path.is_file():
        known = ", ".join(available_environments(project)) or "none"
        raise ConfigError(f'{display}: no such environment "{env}" (known: {known})')
    r = _Reader(path, display)

    unknown = sorted(set(r.data) - _KEYS)
    if unknown:
        raise r.fail(unknown[0], f"unknown setting (known: {', '.join(sorted(_KEYS))})")

    source = _source(r, project, env)
    clusters = _stages(r)
    namespace, server = _location(r)
    timeouts, per_component = _timeouts(r)
    order = _order(r)
    secrets_data, env_file = _secrets(r)
    keep = _keep_revisions(r)
    return Profile(
        name=env,
        keep_revisions=keep,
        path=display,
        source=source,
        context=r.string("context", required=not clusters) or "",
        namespace=namespace or "",  # required: never None here
        server=server,
        default=r.boolean("default"),
        protected=r.boolean("protected"),
        component_timeout=r.duration(
            "timeouts.component", timeouts.get("component", DEFAULT_COMPONENT_TIMEOUT)
        ),
        unschedulable_grace=r.duration(
            "timeouts.unschedulable", timeouts.get("unschedulable", DEFAULT_UNSCHEDULABLE_GRACE)
        ),
        component_timeouts={
            str(c): r.duration(f"timeouts.components.{c}", v) for c, v in per_component.items()
        },
        restarts_allowed=_restarts_allowed(r),
        order=order,
        secrets=SecretsSource(
            env_file=project / env_file if env_file else None,
            generate=r.boolean("generate", data=secrets_data, prefix="secrets."),
        ),
        images=_images(r, r.data, ""),
        replicas=_replicas(r, r.data, ""),
        clusters=clusters,
    )


def _source(r: _Reader, project: Path, env: str) -> Source:
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
    if not _NAME.match(release) or len(release) > 53:
        raise r.fail("release", f'"{release}" is not a valid release name')
    return Source(project / chart, tuple(project / v for v in listed), release)


def _location(
    r: _Reader, data: dict[str, Any] | None = None, prefix: str = "", required: bool = True
) -> tuple[str | None, str | None]:
    """The namespace to deploy to, and the server it must be on (the profile's, or with
    `data` and `prefix` one cluster's, whose namespace is optional)."""
    namespace = r.string("namespace", required=required, data=data, prefix=prefix)
    if namespace is not None and (not _NAME.match(namespace) or len(namespace) > 63):
        raise r.fail(f"{prefix}namespace", f'"{namespace}" is not a valid namespace name')
    server = r.string("server", required=False, data=data, prefix=prefix)
    if server is not None and not server.startswith("https://"):
        raise r.fail(f"{prefix}server", f'"{server}" must be an https:// URL')
    return namespace, server


def _stages(r: _Reader) -> tuple[ClusterSpec, ...]:
    """`stages:`, a list of stages, each a mapping of cluster name: its settings."""
    if "stages" not in r.data:
        return ()
    for key in ("context", "server"):
        if key in r.data:
            raise r.fail(key, "an environment with stages: names one per cluster; remove it")
    stages = r.data["stages"]
    if not isinstance(stages, list) or not stages:
        raise r.fail("stages", "expected a list of stages, each a mapping of cluster: settings")
    specs: list[ClusterSpec] = []
    for number, stage in enumerate(stages, start=1):
        if not isinstance(stage, dict) or not stage:
            raise r.fail(f"stages[{number - 1}]", "expected a mapping of cluster name: settings")
        for name, settings in stage.items():
            specs.append(_cluster(r, str(name), number, settings, {s.name for s in specs}))
    return tuple(specs)


def _cluster(r: _Reader, name: str, stage: int, settings: Any, taken: set[str]) -> ClusterSpec:
    where = f"stages.{name}"
    if not _NAME.match(name) or len(name) > 63:
        raise r.fail(where, f'"{name}" is not a valid cluster name (lowercase, digits, -)')
    if name in taken:
        raise r.fail(where, "named twice; give each cluster its own name")
    if not isinstance(settings, dict):
        raise r.fail(where, "expected a mapping with at least context:")
    unknown = sorted(set(settings) - set(_CLUSTER_KEYS))
    if unknown:
        raise r.fail(
            f"{where}.{unknown[0]}", f"unknown setting (known: {', '.join(_CLUSTER_KEYS)})"
        )
    prefix = f"{where}."
    namespace, server = _location(r, settings, prefix, required=False)
    return ClusterSpec(
        name=name,
        stage=stage,
        context=r.string("context", data=settings, prefix=prefix) or "",
        server=server,
        namespace=namespace,
        images=_images(r, settings, prefix),
        replicas=_replicas(r, settings, prefix),
    )


def _images(r: _Reader, data: dict[str, Any], prefix: str) -> dict[str, str]:
    """component: a tag (v2.0.1) or a whole image reference."""
    images = data.get("images") or {}
    if not isinstance(images, dict) or not all(
        isinstance(v, str) and v.strip() for v in images.values()
    ):
        raise r.fail(f"{prefix}images", "expected a mapping of component: tag or image")
    return {str(k): v for k, v in images.items()}


def _replicas(r: _Reader, data: dict[str, Any], prefix: str) -> dict[str, int]:
    replicas = data.get("replicas") or {}
    if not isinstance(replicas, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in replicas.values()
    ):
        raise r.fail(f"{prefix}replicas", "expected a mapping of component: a whole number")
    return {str(k): v for k, v in replicas.items()}


def _timeouts(r: _Reader) -> tuple[dict[str, Any], dict[str, Any]]:
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


def _restarts_allowed(r: _Reader) -> dict[str, int]:
    """component: how many restarts its containers may need; CrashLoopBackOff beyond fails."""
    allowed = r.mapping("restartsAllowed")
    for component, count in allowed.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            where = f"restartsAllowed.{component}"
            raise r.fail(where, f"expected a whole number of 0 or more, got {count!r}")
    return {str(c): n for c, n in allowed.items()}


def _order(r: _Reader) -> dict[str, tuple[str, ...]]:
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


def _secrets(r: _Reader) -> tuple[dict[str, Any], str | None]:
    """The `secrets` mapping and its envFile, if any."""
    secrets_data = r.mapping("secrets")
    for key in secrets_data:
        if key not in ("envFile", "generate"):
            raise r.fail(f"secrets.{key}", "unknown setting (known: envFile, generate)")
    env_file = r.string("envFile", required=False, data=secrets_data, prefix="secrets.")
    return secrets_data, env_file


def _keep_revisions(r: _Reader) -> int:
    keep = r.data.get("keepRevisions", 10)
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        raise r.fail("keepRevisions", f"expected a whole number of at least 1, got {keep!r}")
    return keep


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


def available_environments(project: Path) -> list[str]:
    folder = project / PROFILE_DIR
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_all(project: Path) -> list[Profile]:
    """Every profile, checked together: one default, no two on one cluster and namespace."""
    profiles = [load_profile(project, env) for env in available_environments(project)]
    defaults = [p for p in profiles if p.default]
    if len(defaults) > 1:
        names = ", ".join(str(p.path) for p in defaults)
        raise ConfigError(f"{names}: default: only one environment may be the default")
    if pair := shared_place(profiles):
        other, place = pair
        where = f"stages.{place.cluster}" if place.cluster else "namespace"
        raise ConfigError(
            f"{place.path}: {where}: {other.path}"
            + (f" (cluster {other.cluster})" if other.cluster else "")
            + f' deploys to the same cluster and namespace "{place.namespace}"; '
            "give each its own"
        )
    return profiles


def shared_place(profiles: list[Profile]) -> tuple[Profile, Profile] | None:
    """The first two places — profiles, or clusters of a profile with stages — that deploy
    to the same cluster (server, else context) and namespace."""
    seen: dict[tuple[str, str], Profile] = {}
    for place in (place for profile in profiles for place in profile.places()):
        key = (place.server or place.context, place.namespace)
        if key in seen:
            return seen[key], place
        seen[key] = place
    return None


def default_environment(project: Path) -> str:
    defaults = [p.name for p in load_all(project) if p.default]
    if not defaults:
        raise ConfigError(
            f"{PROFILE_DIR}/: no environment is marked `default: true`; "
            "name one with --env or DEPLOYCTL_ENV"
        )
    return defaults[0]
