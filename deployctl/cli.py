"""Command-line interface: parse, call one core function, print, exit.

Heavy modules (the kubernetes client above all, ~0.5 s to import) are imported
inside the commands that need them, so `deployctl --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import typer

from deployctl import __version__
from deployctl.errors import DeployctlError, ExitStatus, NotYetImplemented

app = typer.Typer(
    name="deployctl",
    help="Deploy an application stack to Kubernetes in dependency order, "
    "wait until each part is healthy, and keep every deploy reversible.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cluster_app = typer.Typer(
    help="A local sandbox cluster (real control plane, kwok-simulated nodes) for dev and tests.",
    no_args_is_help=True,
)
app.add_typer(cluster_app, name="cluster")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"deployctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    pass


def _not_yet(command: str, issue: int) -> NoReturn:
    raise NotYetImplemented(
        f"deployctl {command} is not implemented yet (tracked in issue #{issue}); "
        "nothing was changed"
    )


ENV_ARG = typer.Argument(..., help="Environment to deploy (a profile in environments/).")
ENV_OPT = typer.Option(None, "--env", "-e", envvar="DEPLOYCTL_ENV", help="Environment.")


@app.command()
def render(env: str = ENV_ARG) -> None:
    """Print the rendered objects as YAML, in apply order (Secret values masked)."""
    _not_yet("render", 4)


@app.command()
def plan(env: str = ENV_ARG) -> None:
    """Show the dependency graph and what would be created, changed or pruned."""
    _not_yet("plan", 4)


@app.command()
def diff(env: str = ENV_ARG) -> None:
    """Unified diff, live vs. to-be-applied (exit 0 no change, 1 changes, 2 error)."""
    _not_yet("diff", 4)


@app.command()
def up(env: str = ENV_ARG) -> None:
    """Validate, apply in dependency order, wait for health, prune, record a revision."""
    _not_yet("up", 4)


@app.command()
def rollout(
    component: str = typer.Argument(..., help="Component whose image changes."),
    version: str = typer.Argument(..., help="A tag (v2.0.1) or a full image reference."),
    env: str | None = ENV_OPT,
) -> None:
    """Set one component's image, wait, and roll back by itself if it fails."""
    _not_yet("rollout", 5)


@app.command()
def rollback(
    component: str | None = typer.Argument(None, help="Only this component."),
    env: str | None = ENV_OPT,
) -> None:
    """Restore an earlier successful revision."""
    _not_yet("rollback", 5)


@app.command()
def history(env: str | None = ENV_OPT) -> None:
    """List the recorded revisions."""
    _not_yet("history", 5)


@app.command()
def status(env: str | None = ENV_OPT) -> None:
    """Show every component's health; exit 1 when anything is unhealthy."""
    _not_yet("status", 5)


@app.command()
def down(env: str = ENV_ARG) -> None:
    """Delete the workloads in reverse dependency order (keeps volumes and records)."""
    _not_yet("down", 5)


CLUSTER_NAME = typer.Option("deployctl", "--name", help="Name of the local cluster.")
KUBECONFIG = typer.Option(
    None,
    "--kubeconfig",
    help="Kubeconfig file to add the cluster's context to (default: as kubectl does).",
)


@cluster_app.command("build")
def cluster_build() -> None:
    """Build the local cluster's binaries from source into the cache (no-op when cached)."""
    from deployctl.cluster import binaries

    tools = binaries.ensure_binaries()
    typer.echo(str(tools.root))


@cluster_app.command("up")
def cluster_up(
    name: str = CLUSTER_NAME,
    kubeconfig: Path | None = KUBECONFIG,
    pod_ready_delay: float = typer.Option(
        1.0, "--pod-ready-delay", min=0.0, help="Seconds before a started pod turns Ready."
    ),
) -> None:
    """Start the local cluster (building its binaries on first use); print its context."""
    from deployctl.cluster import sandbox

    context = sandbox.up(name, pod_ready_delay=pod_ready_delay, kubeconfig=kubeconfig)
    typer.echo(context)


@cluster_app.command("down")
def cluster_down(name: str = CLUSTER_NAME, kubeconfig: Path | None = KUBECONFIG) -> None:
    """Stop the local cluster and remove everything it started."""
    from deployctl.cluster import sandbox

    sandbox.down(name, kubeconfig=kubeconfig)


@cluster_app.command("status")
def cluster_status(name: str = CLUSTER_NAME, kubeconfig: Path | None = KUBECONFIG) -> None:
    """Say whether the local cluster runs; exit 1 when it does not."""
    from deployctl.cluster import sandbox

    state = sandbox.status(name, kubeconfig=kubeconfig)
    typer.echo(state.describe())
    if not state.running:
        raise typer.Exit(ExitStatus.FAILED)


def main() -> None:
    """Entry point: the one place that turns domain errors into messages and exit codes."""
    try:
        app()
    except DeployctlError as error:
        typer.secho(f"error: {error}", err=True, fg="red")
        sys.exit(int(error.exit_status))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(int(ExitStatus.INTERRUPTED))
