"""The options every command that talks to a cluster takes, declared once."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from pathlib import Path

import typer

from deployctl.cli import base
from deployctl.cli.base import DEFAULT_LOCK_WAIT, app, is_number, project_root, wants_json

ENV_ARG = typer.Argument(
    ..., metavar="ENV", help="Environment to deploy (a profile in environments/)."
)
ENV_OPT = typer.Option(
    None, "--env", "-e", envvar="DEPLOYCTL_ENV", metavar="ENV", help="Environment."
)


PROJECT = typer.Option(
    None,
    "--project",
    metavar="DIR",
    help="The deployctl project (a folder with environments/); default: the nearest one above.",
)
SHOW_SECRETS = typer.Option(
    False, "--show-secrets", help="Print Secret values instead of masking them."
)


KUBECONFIG_OPT = typer.Option(
    None,
    "--kubeconfig",
    envvar="KUBECONFIG",
    metavar="FILE",
    help="Kubeconfig file(s), as kubectl.",
)
CONTEXT_OPT = typer.Option(
    None, "--context", metavar="NAME", help="Kube context (default: the one the profile names)."
)
NAMESPACE_OPT = typer.Option(
    None, "--namespace", "-n", metavar="NAMESPACE", help="Namespace (default: the profile's)."
)
OUTPUT_OPT = typer.Option(
    "text", "--output", "-o", metavar="text|json", help="text, or json: one report on stdout."
)
CLUSTER_OPT = typer.Option(
    None,
    "--cluster",
    metavar="NAME",
    help="Only this cluster of an environment with clusters in stages.",
)
SKIP_UNREACHABLE_OPT = typer.Option(
    False,
    "--skip-unreachable",
    help="Leave out (and report) clusters that do not answer, instead of failing.",
)
NO_ROLLBACK_OPT = typer.Option(
    False, "--no-rollback", help="On failure keep the failed state, for debugging."
)
ALL_OR_NOTHING_OPT = typer.Option(
    False,
    "--all-or-nothing",
    help="Across clusters: when one fails, restore every cluster that changed.",
)
YES_OPT = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
PAST_MIGRATIONS_OPT = typer.Option(
    False,
    "--past-migrations",
    help="Going back to code older than a migration already run: do it without asking "
    "(protected environments ask, or refuse without a terminal). Only the application "
    "goes back; nothing undoes a schema.",
)
TIMEOUT_OPT = typer.Option(
    None,
    "--timeout",
    metavar="DURATION",
    help="How long to wait for each component (e.g. 90s, 5m).",
)
WAIT_LOCK_OPT = typer.Option(
    None,
    "--wait-lock",
    metavar="[DURATION]",
    help=f"Wait for another deploy's lock (alone: up to {DEFAULT_LOCK_WAIT}; or a duration).",
)


@dataclass
class ClusterFlags:
    """The options every command that talks to a cluster takes, declared once."""

    project: Path | None = None
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    output: str = "text"
    cluster: str | None = None
    skip_unreachable: bool = False


CLUSTER_FLAGS = {
    "project": (Path | None, PROJECT),
    "kubeconfig": (str | None, KUBECONFIG_OPT),
    "context": (str | None, CONTEXT_OPT),
    "namespace": (str | None, NAMESPACE_OPT),
    "output": (str, OUTPUT_OPT),
    "cluster": (str | None, CLUSTER_OPT),
    "skip_unreachable": (bool, SKIP_UNREACHABLE_OPT),
}


def cluster_command(func):
    """Register a command that takes `flags: ClusterFlags` in place of its options."""
    signature = inspect.signature(func, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "flags"]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, (kind, option) in CLUSTER_FLAGS.items()
    ]

    @functools.wraps(func)
    def command(**kwargs):
        flags = ClusterFlags(**{name: kwargs.pop(name) for name in CLUSTER_FLAGS})
        return func(flags=flags, **kwargs)

    parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + shared
    command.__signature__ = signature.replace(parameters=parameters)
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    return app.command()(command)


def make_options(
    flags: ClusterFlags,
    timeout: str | None = None,
    force_conflicts: bool = False,
    adopt: bool = False,
    wait_lock: str | None = None,
    reset_pins: bool = False,
):
    from deployctl.engine import Options
    from deployctl.errors import ConfigError
    from deployctl.profile import parse_duration

    def duration(flag: str, text: str | None) -> float | None:
        if text is None:
            return None
        try:
            return parse_duration(float(text) if is_number(text) else text)
        except ValueError as error:
            raise ConfigError(f"{flag}: {error}") from None

    return Options(
        context=flags.context,
        kubeconfig=flags.kubeconfig,  # several paths (a:b) are merged as kubectl does
        timeout=duration("--timeout", timeout),
        force_conflicts=force_conflicts,
        adopt=adopt,
        wait_lock=duration("--wait-lock", wait_lock) or 0.0,
        reset_pins=reset_pins,
    )


def make_target(flags: ClusterFlags, env: str | None, options=None, yes: bool = False):
    from deployctl.commands.target import resolve_target

    wants_json(flags.output)  # a wrong --output is refused before anything else
    return resolve_target(
        project_root(flags.project),
        env,
        options or make_options(flags),
        flags.namespace,
        yes,
        environment=base.ENVIRONMENT,
        ask=lambda question: typer.confirm(question, err=True),
        only_cluster=flags.cluster,
        skip_unreachable=flags.skip_unreachable,
    )
