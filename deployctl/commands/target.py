"""Where a command points: the project, the environment's profile, the flags, and
the terminal it runs on. Consent for protected environments is asked here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deployctl import profile as profiles
from deployctl.engine import Options, connect
from deployctl.errors import ConfigError
from deployctl.kube import Cluster
from deployctl.present import Environment, Reporter


def _never(question: str) -> bool:
    return False


@dataclass
class Target:
    project: Path
    profile: profiles.Profile
    options: Options
    yes: bool = False
    environment: Environment = field(default_factory=Environment)
    ask: Callable[[str], bool] = _never  # a yes/no question on the terminal
    only_cluster: str | None = None  # --cluster: one cluster of an environment with stages
    skip_unreachable: bool = False  # --skip-unreachable: leave such clusters out, say so
    past_migrations: bool = False  # --past-migrations: roll code back past migrations, unasked


def resolve_target(
    project: Path,
    env: str | None,
    options: Options,
    namespace: str | None = None,
    yes: bool = False,
    environment: Environment | None = None,
    ask: Callable[[str], bool] = _never,
    only_cluster: str | None = None,
    skip_unreachable: bool = False,
) -> Target:
    everyone = {p.name: p for p in profiles.load_all(project)}  # also checks they don't collide
    name = env or profiles.default_environment(project)
    if name not in everyone:
        known = ", ".join(sorted(everyone)) or "none"
        raise ConfigError(f'environments/: no environment "{name}" (known: {known})')
    profile = everyone[name]
    if only_cluster and not profile.fleet:
        raise ConfigError(
            f"--cluster: environment {name} names one context ({profile.context}), "
            "not clusters in stages; leave --cluster out"
        )
    if profile.fleet and options.context:
        raise ConfigError(
            f"--context: environment {name} names a context per cluster ({profile.path}, "
            "stages:); choose one with --cluster NAME instead"
        )
    if skip_unreachable and not profile.fleet:
        raise ConfigError(
            f"--skip-unreachable: environment {name} deploys to one cluster; leave it out"
        )
    if namespace:
        clusters = tuple(dataclasses.replace(c, namespace=None) for c in profile.clusters)
        profile = dataclasses.replace(profile, namespace=namespace, clusters=clusters)
        _one_namespace_per_cluster(profile, only_cluster)
    environment = environment or Environment()
    return Target(project, profile, options, yes, environment, ask, only_cluster, skip_unreachable)


def _one_namespace_per_cluster(profile: profiles.Profile, only: str | None) -> None:
    """-n puts every cluster in one namespace: two clusters of the environment on one
    API server would then share it (and its lock)."""
    if only or not (pair := profiles.shared_place([profile])):
        return
    first, second = pair
    raise ConfigError(
        f"-n: clusters {first.cluster} and {second.cluster} of environment {profile.name} "
        f"are on one cluster ({second.server or second.context}) and would share namespace "
        f"{profile.namespace}; choose one with --cluster"
    )


def confirm_change(target: Target, action: str) -> None:
    """Protected environments (or a context other than the profile's) need consent."""
    profile = target.profile
    other_context = target.options.context and target.options.context != profile.context
    if other_context and profile.protected and not target.yes:
        raise ConfigError(
            f"{profile.path}: environment {profile.name} is protected and --context "
            f"{target.options.context} is not its context ({profile.context}); add --yes to confirm"
        )
    if not profile.protected or target.yes:
        return
    _consent(
        target,
        action,
        f"{action} needs confirmation; add --yes",
        f"{action} protected environment {profile.name}?",
    )


def _consent(target: Target, action: str, needs: str, question: str) -> None:
    """Ask on the terminal; without one, refuse, saying what the flag is (exit 2)."""
    name = target.profile.name
    if not target.environment.stdin_tty:
        raise ConfigError(f"environment {name} is protected: {needs} (no terminal to ask on)")
    if not target.ask(question):
        raise ConfigError(f"{action} of {name} not confirmed; nothing was changed")


def confirm_past_migrations(
    target: Target, reporter: Reporter, action: str, migrations: list[tuple[int, dict]]
) -> None:
    """Going back to code older than migrations already run: say so; on a protected
    environment, ask (or, without a terminal, refuse unless --past-migrations)."""
    if not migrations:
        return
    names = ", ".join(f"Job {m['job']} of {m['component']} (revision {n})" for n, m in migrations)
    reporter.info(
        f"{action} returns to code older than migration {names}: nothing undoes a schema, "
        "so only the application goes back (docs/revisions.md, expand and contract)"
    )
    if not target.profile.protected or target.past_migrations:
        return
    _consent(
        target,
        action,
        f"{action} past migration {names} needs consent; add --past-migrations",
        f"{action} of {target.profile.name} past migration {names}?",
    )


def header(target: Target, context: str, reporter: Reporter) -> None:
    reporter.info(
        f"environment {target.profile.name}, context {context}, "
        f"namespace {target.profile.namespace}"
    )


def connect_read_only(target: Target, reporter: Reporter) -> Cluster:
    """Read-only commands may look at any context, with a warning when it is not the profile's."""
    chosen = target.options.context
    if chosen and chosen != target.profile.context:
        reporter.info(
            f"warning: context {chosen} is not environment {target.profile.name}'s "
            f"({target.profile.context})"
        )
    return connect(target.profile, target.options)
