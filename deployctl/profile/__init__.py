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

The package: the Profile type (`model`), reading one file (`reader`), its
settings (`settings`), `stages:` (`fleet`) and the checks across profiles
(`collisions`); loading is here.
"""

from __future__ import annotations

from pathlib import Path

from deployctl.errors import ConfigError
from deployctl.profile import fleet, settings
from deployctl.profile.collisions import check_together, shared_place
from deployctl.profile.model import (
    DEFAULT_COMPONENT_TIMEOUT,
    DEFAULT_UNSCHEDULABLE_GRACE,
    ClusterSpec,
    Profile,
    SecretsSource,
    Source,
    one_cluster,
)
from deployctl.profile.reader import Reader, parse_duration

__all__ = [
    "DEFAULT_COMPONENT_TIMEOUT",
    "DEFAULT_UNSCHEDULABLE_GRACE",
    "PROFILE_DIR",
    "ClusterSpec",
    "Profile",
    "SecretsSource",
    "Source",
    "available_environments",
    "default_environment",
    "load_all",
    "load_profile",
    "one_cluster",
    "parse_duration",
    "shared_place",
]

PROFILE_DIR = "environments"


def load_profile(project: Path, env: str) -> Profile:
    """Load and validate environments/<env>.yaml of the project."""
    path = project / PROFILE_DIR / f"{env}.yaml"
    display = Path(PROFILE_DIR) / f"{env}.yaml"
    if not path.is_file():
        known = ", ".join(available_environments(project)) or "none"
        raise ConfigError(f'{display}: no such environment "{env}" (known: {known})')
    r = Reader(path, display)

    unknown = sorted(set(r.data) - settings.KEYS)
    if unknown:
        raise r.fail(unknown[0], f"unknown setting (known: {', '.join(sorted(settings.KEYS))})")

    source = settings.source(r, project, env)
    clusters = fleet.stages(r)
    namespace, server = settings.location(r)
    timeouts, per_component = settings.timeouts(r)
    order = settings.order(r)
    secrets_data, env_file = settings.secrets(r)
    keep = settings.keep_revisions(r)
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
        restarts_allowed=settings.restarts_allowed(r),
        order=order,
        secrets=SecretsSource(
            env_file=project / env_file if env_file else None,
            generate=r.boolean("generate", data=secrets_data, prefix="secrets."),
        ),
        images=settings.images(r, r.data, ""),
        replicas=settings.replicas(r, r.data, ""),
        clusters=clusters,
    )


def available_environments(project: Path) -> list[str]:
    folder = project / PROFILE_DIR
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_all(project: Path) -> list[Profile]:
    """Every profile, checked together: one default, no two on one cluster and namespace."""
    profiles = [load_profile(project, env) for env in available_environments(project)]
    check_together(profiles)
    return profiles


def default_environment(project: Path) -> str:
    defaults = [p.name for p in load_all(project) if p.default]
    if not defaults:
        raise ConfigError(
            f"{PROFILE_DIR}/: no environment is marked `default: true`; "
            "name one with --env or DEPLOYCTL_ENV"
        )
    return defaults[0]
