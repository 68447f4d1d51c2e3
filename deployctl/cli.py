"""Command-line interface: parse, call one core function, print, exit.

Heavy modules (the kubernetes client above all, ~0.5 s to import) are imported
inside the commands that need them, so `deployctl --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from deployctl import __version__
from deployctl.errors import DeployctlError, ExitStatus, Terminated

app = typer.Typer(
    name="deployctl",
    help="Deploy an application stack to Kubernetes in dependency order, "
    "wait until each part is healthy, and keep every deploy reversible.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's formatter doubles the time `--help` takes
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


def _project(explicit: Path | None) -> Path:
    from deployctl.errors import ConfigError

    if explicit is not None:
        if not (explicit / "environments").is_dir():
            raise ConfigError(f"{explicit}: not a deployctl project (it has no environments/)")
        return explicit
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "environments").is_dir():
            return folder
    raise ConfigError(
        f"{here}: no environments/ folder here or above; run inside a deployctl project "
        "or pass --project"
    )


@app.command()
def render(
    env: str = ENV_ARG,
    project: Path | None = PROJECT,
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", metavar="NAMESPACE", help="Namespace (default: the profile's)."
    ),
    show_secrets: bool = SHOW_SECRETS,
) -> None:
    """Print the rendered objects as YAML, in apply order (Secret values masked)."""
    import dataclasses

    from deployctl import plan, profile, render, secrets

    root = _project(project)
    prof = profile.load_profile(root, env)
    if namespace:
        prof = dataclasses.replace(prof, namespace=namespace)
    values = None
    if show_secrets:
        specs = secrets.load_specs(root)
        values, _ = secrets.resolve(specs, prof, os.environ, offline=True)
    objects = render.render_environment(root, prof, values)
    ordered = plan.build_plan(objects, prof.order).apply_order()
    typer.echo(render.to_yaml(ordered if show_secrets else render.mask_secrets(ordered)), nl=False)


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
YES_OPT = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
TIMEOUT_OPT = typer.Option(
    None,
    "--timeout",
    metavar="DURATION",
    help="How long to wait for each component (e.g. 90s, 5m).",
)
DEFAULT_LOCK_WAIT = "10m"
WAIT_LOCK_OPT = typer.Option(
    None,
    "--wait-lock",
    metavar="[DURATION]",
    help=f"Wait for another deploy's lock (alone: up to {DEFAULT_LOCK_WAIT}; or a duration).",
)


def _options(
    kubeconfig: str | None,
    context: str | None,
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
            return parse_duration(text)
        except ValueError as error:
            raise ConfigError(f"{flag}: {error}") from None

    return Options(
        context=context,
        kubeconfig=kubeconfig,  # several paths (a:b) are merged as kubectl does
        timeout=duration("--timeout", timeout),
        force_conflicts=force_conflicts,
        adopt=adopt,
        wait_lock=duration("--wait-lock", wait_lock) or 0.0,
        reset_pins=reset_pins,
    )


def _json(output: str) -> bool:
    from deployctl.errors import ConfigError

    if output not in ("text", "json"):
        raise ConfigError(f"--output: {output!r} is not text or json")
    return output == "json"


@app.command()
def plan(
    env: str = ENV_ARG,
    project: Path | None = PROJECT,
    kubeconfig: str | None = KUBECONFIG_OPT,
    context: str | None = CONTEXT_OPT,
    namespace: str | None = NAMESPACE_OPT,
    output: str = OUTPUT_OPT,
) -> None:
    """Show the dependency graph and what would be created, changed or pruned."""
    from deployctl import operations

    target = operations.resolve_target(
        _project(project), env, _options(kubeconfig, context), namespace
    )
    _finish(output, lambda r: operations.plan(target, r), text=operations.format_plan, live=False)


@app.command()
def diff(
    env: str = ENV_ARG,
    project: Path | None = PROJECT,
    kubeconfig: str | None = KUBECONFIG_OPT,
    context: str | None = CONTEXT_OPT,
    namespace: str | None = NAMESPACE_OPT,
    show_secrets: bool = SHOW_SECRETS,
) -> None:
    """Unified diff, live vs. to-be-applied (exit 0 no change, 1 changes, 2 error)."""
    from deployctl import operations, report

    target = operations.resolve_target(
        _project(project), env, _options(kubeconfig, context), namespace
    )
    status, text = operations.diff(target, report.Reporter(), show_secrets=show_secrets)
    typer.echo(text, nl=False)
    raise typer.Exit(int(status))


@app.command()
def up(
    env: str = ENV_ARG,
    project: Path | None = PROJECT,
    kubeconfig: str | None = KUBECONFIG_OPT,
    context: str | None = CONTEXT_OPT,
    namespace: str | None = NAMESPACE_OPT,
    output: str = OUTPUT_OPT,
    yes: bool = YES_OPT,
    timeout: str | None = TIMEOUT_OPT,
    force_conflicts: bool = typer.Option(
        False, "--force-conflicts", help="Take fields that another field manager owns."
    ),
    adopt: bool = typer.Option(
        False, "--adopt", help="Take over existing objects that deployctl did not create."
    ),
    reset_pins: bool = typer.Option(
        False, "--reset-pins", help="Drop images set by `rollout`: deploy the manifests' images."
    ),
    wait_lock: str | None = WAIT_LOCK_OPT,
) -> None:
    """Validate, apply in dependency order, wait for health, prune, record a revision."""
    from deployctl import operations

    options = _options(kubeconfig, context, timeout, force_conflicts, adopt, wait_lock, reset_pins)
    target = operations.resolve_target(_project(project), env, options, namespace, yes)
    _finish(output, lambda reporter: operations.up(target, reporter))


@app.command()
def rollout(
    component: str = typer.Argument(
        ..., metavar="COMPONENT", help="Component whose image changes."
    ),
    version: str = typer.Argument(
        ..., metavar="VERSION", help="A tag (v2.0.1) or a full image reference."
    ),
    env: str | None = ENV_OPT,
    container: str | None = typer.Option(
        None, "--container", metavar="NAME", help="The container, when the component has several."
    ),
    no_rollback: bool = typer.Option(
        False, "--no-rollback", help="On failure keep the failed state, for debugging."
    ),
    project: Path | None = PROJECT,
    kubeconfig: str | None = KUBECONFIG_OPT,
    context: str | None = CONTEXT_OPT,
    namespace: str | None = NAMESPACE_OPT,
    output: str = OUTPUT_OPT,
    yes: bool = YES_OPT,
    timeout: str | None = TIMEOUT_OPT,
    wait_lock: str | None = WAIT_LOCK_OPT,
) -> None:
    """Set one component's image, wait, and roll back by itself if it fails.

    The new image sticks: later `up`s keep it (and say so) until the manifests
    change that image, or `deployctl up ENV --reset-pins` returns to the manifests.
    """
    from deployctl import operations

    options = _options(kubeconfig, context, timeout, wait_lock=wait_lock)
    target = operations.resolve_target(_project(project), env, options, namespace, yes)
    _finish(
        output,
        lambda reporter: operations.rollout(
            target, reporter, component, version, container, no_rollback
        ),
    )


@app.command()
def rollback(
    component: str | None = typer.Argument(None, metavar="COMPONENT", help="Only this component."),
    env: str | None = ENV_OPT,
    to_revision: int | None = typer.Option(
        None,
        "--to-revision",
        metavar="N",
        help="Restore this revision (default: the newest that differs).",
    ),
    project: Path | None = PROJECT,
    kubeconfig: str | None = KUBECONFIG_OPT,
    context: str | None = CONTEXT_OPT,
    namespace: str | None = NAMESPACE_OPT,
    output: str = OUTPUT_OPT,
    yes: bool = YES_OPT,
    timeout: str | None = TIMEOUT_OPT,
    wait_lock: str | None = WAIT_LOCK_OPT,
) -> None:
    """Restore an earlier successful revision (of everything, or of one component)."""
    from deployctl import operations

    options = _options(kubeconfig, context, timeout, wait_lock=wait_lock)
    target = operations.resolve_target(_project(project), env, options, namespace, yes)
    _finish(output, lambda reporter: operations.rollback(target, reporter, component, to_revision))


@app.command()
def history(
    env: str | None = ENV_OPT,
    project: Path | None = PROJECT,
    kubeconfig: str | None = KUBECONFIG_OPT,
    context: str | None = CONTEXT_OPT,
    namespace: str | None = NAMESPACE_OPT,
    output: str = OUTPUT_OPT,
) -> None:
    """List the recorded revisions: number, time, who, action, result, images."""
    from deployctl import operations

    options = _options(kubeconfig, context)
    target = operations.resolve_target(_project(project), env, options, namespace)
    _finish(output, lambda r: operations.history(target, r), text=operations.format_history)


@app.command()
def status(
    env: str | None = ENV_OPT,
    project: Path | None = PROJECT,
    kubeconfig: str | None = KUBECONFIG_OPT,
    context: str | None = CONTEXT_OPT,
    namespace: str | None = NAMESPACE_OPT,
    output: str = OUTPUT_OPT,
) -> None:
    """Show every component's health; exit 1 when anything is unhealthy."""
    from deployctl import operations

    options = _options(kubeconfig, context)
    target = operations.resolve_target(_project(project), env, options, namespace)
    _finish(output, lambda r: operations.status(target, r), text=operations.format_status)


@app.command()
def down(
    env: str = ENV_ARG,
    delete_volumes: bool = typer.Option(
        False, "--delete-volumes", help="Also delete the stores' PersistentVolumeClaims."
    ),
    delete_namespace: bool = typer.Option(
        False, "--delete-namespace", help="Also delete the namespace and deployctl's records."
    ),
    project: Path | None = PROJECT,
    kubeconfig: str | None = KUBECONFIG_OPT,
    context: str | None = CONTEXT_OPT,
    namespace: str | None = NAMESPACE_OPT,
    output: str = OUTPUT_OPT,
    yes: bool = YES_OPT,
    wait_lock: str | None = WAIT_LOCK_OPT,
) -> None:
    """Delete the workloads in reverse dependency order (keeps volumes, secrets, records)."""
    from deployctl import operations

    options = _options(kubeconfig, context, wait_lock=wait_lock)
    target = operations.resolve_target(_project(project), env, options, namespace, yes)
    _finish(
        output,
        lambda reporter: operations.down(target, reporter, delete_volumes, delete_namespace),
    )


def _finish(output: str, run, text=None, live: bool = True) -> None:
    """Run an operation with the right reporter, print its JSON (or `text` of it), exit
    with its status. `live`: progress as a live table on a terminal."""
    from deployctl import report
    from deployctl.errors import Interrupted

    as_json = _json(output)
    reporter = report.make_reporter(as_json) if live else report.Reporter()
    try:
        code, document = run(reporter)
    except KeyboardInterrupt:
        raise Interrupted("interrupted: stopped cleanly, lock released") from None
    except Terminated:
        raise Interrupted(
            "terminated: stopped cleanly, lock released", ExitStatus.TERMINATED
        ) from None
    if as_json:
        report.emit_json(document)
    elif text is not None:
        typer.echo(text(document))
    raise typer.Exit(int(code))


CLUSTER_NAME = typer.Option(
    "deployctl", "--name", metavar="NAME", help="Name of the local cluster."
)
KUBECONFIG = typer.Option(
    None,
    "--kubeconfig",
    metavar="FILE",
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
        1.0,
        "--pod-ready-delay",
        min=0.0,
        metavar="SECONDS",
        help="Seconds before a started pod turns Ready.",
    ),
    pods_per_node: int = typer.Option(
        110, "--pods-per-node", min=1, metavar="N", help="Pod capacity of each of the three nodes."
    ),
) -> None:
    """Start the local cluster (building its binaries on first use); print its context."""
    from deployctl.cluster import sandbox

    context = sandbox.up(
        name, pod_ready_delay=pod_ready_delay, kubeconfig=kubeconfig, pods_per_node=pods_per_node
    )
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


def _wants_json(args: list[str]) -> bool:
    pairs = zip(args, [*args[1:], ""], strict=False)
    return any(a in ("-o", "--output") and b == "json" for a, b in pairs) or "--output=json" in args


def _bare_wait_lock(args: list[str]) -> list[str]:
    """`--wait-lock` without a duration means the default wait."""
    if "--wait-lock" not in args:
        return args
    from deployctl.profile import parse_duration

    result = []
    for index, arg in enumerate(args):
        if arg == "--wait-lock":
            following = args[index + 1] if index + 1 < len(args) else ""
            try:
                parse_duration(following)
            except ValueError:
                result.append(f"--wait-lock={DEFAULT_LOCK_WAIT}")
                continue
        result.append(arg)
    return result


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main() -> None:
    """Entry point: the one place that turns domain errors into messages and exit codes."""
    import signal

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        app(args=_bare_wait_lock(sys.argv[1:]), prog_name="deployctl")
    except DeployctlError as error:
        typer.secho(f"error: {error}", err=True, fg="red")
        if _wants_json(sys.argv[1:]):
            # CI reads one JSON document on stdout, failures included.
            import json

            document = {"result": "error", "error": str(error), "exit": int(error.exit_status)}
            print(json.dumps(document, indent=2))
        sys.exit(int(error.exit_status))
    except Terminated:  # outside a deploy (render, diff, cluster ...): nothing to clean up
        typer.secho("terminated", err=True, fg="red")
        sys.exit(int(ExitStatus.TERMINATED))
