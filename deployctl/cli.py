"""Command-line interface: parse, call one core function, print, exit.

Heavy modules (the kubernetes client above all, ~0.5 s to import) are imported
inside the commands that need them, so `deployctl --help` stays fast.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from deployctl import __version__
from deployctl.errors import DeployctlError, ExitStatus, Terminated

# What the terminal can do, read once at start (--no-color, NO_COLOR, -v fill it in).
ENVIRONMENT = None


def _plain_arguments() -> None:
    """Arguments read as kubectl's do: `up ENV`, with no `<str>` after a metavar that
    already says what it takes (typer adds both; it has no switch for them)."""
    from typer.core import TyperArgument

    def usage_name(self) -> str:
        name = self.display_name_raw
        return name if self.required or name.startswith("[") else f"[{name}]"

    TyperArgument.display_type_rich = lambda self, ctx: None
    TyperArgument._usage_display_name = usage_name


_plain_arguments()

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


@app.callback(
    epilog="Documentation: docs/README.md in the project (commands, profiles, "
    "how up works, revisions, the sandbox, troubleshooting)."
)
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    no_color: bool = typer.Option(
        False, "--no-color", help="No colour (also when NO_COLOR is set)."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="One line per changed object, also on a terminal."
    ),
) -> None:
    global ENVIRONMENT
    from deployctl.present import Environment

    ENVIRONMENT = Environment.detect(no_color=no_color, verbose=verbose)


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
    if not show_secrets:
        from deployctl.present import mask_secrets

        ordered = mask_secrets(ordered)
    typer.echo(render.to_yaml(ordered), nl=False)


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


@dataclass
class ClusterFlags:
    """The options every command that talks to a cluster takes, declared once."""

    project: Path | None = None
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    output: str = "text"


CLUSTER_FLAGS = {
    "project": (Path | None, PROJECT),
    "kubeconfig": (str | None, KUBECONFIG_OPT),
    "context": (str | None, CONTEXT_OPT),
    "namespace": (str | None, NAMESPACE_OPT),
    "output": (str, OUTPUT_OPT),
}


def cluster_command(func):
    """Register a command that takes `flags: ClusterFlags` in place of the five options."""
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


def _options(
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
            return parse_duration(text)
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


def _target(flags: ClusterFlags, env: str | None, options=None, yes: bool = False):
    from deployctl.commands.target import resolve_target

    _json(flags.output)  # a wrong --output is refused before anything else
    return resolve_target(
        _project(flags.project),
        env,
        options or _options(flags),
        flags.namespace,
        yes,
        environment=ENVIRONMENT,
        ask=lambda question: typer.confirm(question, err=True),
    )


def _json(output: str) -> bool:
    from deployctl.errors import ConfigError

    if output not in ("text", "json"):
        raise ConfigError(f"--output: {output!r} is not text or json")
    return output == "json"


@cluster_command
def plan(flags: ClusterFlags, env: str = ENV_ARG) -> None:
    """Show the dependency graph and what would be created, changed or pruned."""
    from deployctl.commands import inspect as inspecting

    target = _target(flags, env)
    _finish(flags.output, lambda r: inspecting.plan(target, r), live=False)


@cluster_command
def diff(flags: ClusterFlags, env: str = ENV_ARG, show_secrets: bool = SHOW_SECRETS) -> None:
    """Unified diff, live vs. to-be-applied (exit 0 no change, 1 changes, 2 error)."""
    from deployctl.commands import inspect as inspecting

    target = _target(flags, env)
    _finish(flags.output, lambda r: inspecting.diff(target, r, show_secrets), live=False)


@cluster_command
def up(
    flags: ClusterFlags,
    env: str = ENV_ARG,
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
    """Validate, apply in dependency order, wait for health, prune, record a revision.

    How it decides and waits: docs/how-up-works.md.
    """
    from deployctl.commands.up import up as run_up

    options = _options(flags, timeout, force_conflicts, adopt, wait_lock, reset_pins)
    target = _target(flags, env, options, yes)
    _finish(flags.output, lambda reporter: run_up(target, reporter))


@cluster_command
def rollout(
    flags: ClusterFlags,
    component: str = typer.Argument(
        ..., metavar="COMPONENT", help="Component whose image changes.", show_default=False
    ),
    version: str = typer.Argument(
        ..., metavar="VERSION", help="A tag (v2.0.1) or a full image reference.", show_default=False
    ),
    env: str | None = ENV_OPT,
    container: str | None = typer.Option(
        None, "--container", metavar="NAME", help="The container, when the component has several."
    ),
    no_rollback: bool = typer.Option(
        False, "--no-rollback", help="On failure keep the failed state, for debugging."
    ),
    yes: bool = YES_OPT,
    timeout: str | None = TIMEOUT_OPT,
    wait_lock: str | None = WAIT_LOCK_OPT,
) -> None:
    """Set one component's image, wait, and roll back by itself if it fails.

    The new image sticks: later `up`s keep it (and say so) until the manifests
    change that image, or `deployctl up ENV --reset-pins` returns to the manifests.
    See docs/revisions.md.
    """
    from deployctl.commands.rollout import rollout as run_rollout

    options = _options(flags, timeout, wait_lock=wait_lock)
    target = _target(flags, env, options, yes)
    _finish(
        flags.output,
        lambda r: run_rollout(target, r, component, version, container, no_rollback),
    )


@cluster_command
def rollback(
    flags: ClusterFlags,
    component: str | None = typer.Argument(None, metavar="COMPONENT", help="Only this component."),
    env: str | None = ENV_OPT,
    to_revision: int | None = typer.Option(
        None,
        "--to-revision",
        metavar="N",
        help="Restore this revision (default: the newest that differs).",
    ),
    yes: bool = YES_OPT,
    timeout: str | None = TIMEOUT_OPT,
    wait_lock: str | None = WAIT_LOCK_OPT,
) -> None:
    """Restore an earlier successful revision (of everything, or of one component).

    See docs/revisions.md.
    """
    from deployctl.commands.rollback import rollback as run_rollback

    options = _options(flags, timeout, wait_lock=wait_lock)
    target = _target(flags, env, options, yes)
    _finish(flags.output, lambda r: run_rollback(target, r, component, to_revision))


@cluster_command
def history(flags: ClusterFlags, env: str | None = ENV_OPT) -> None:
    """List the recorded revisions, and what changed in each (images, by component)."""
    from deployctl.commands import inspect as inspecting

    target = _target(flags, env)
    _finish(flags.output, lambda r: inspecting.history(target, r), live=False)


@cluster_command
def status(
    flags: ClusterFlags,
    env: str | None = ENV_OPT,
    watch: bool = typer.Option(
        False, "--watch", "-w", help="Follow until every component is healthy (Ctrl-C stops)."
    ),
) -> None:
    """Show every component's health; exit 1 when anything is unhealthy."""
    from deployctl import present
    from deployctl.commands.status import status as run_status

    target = _target(flags, env)

    def show(result) -> None:
        if _json(flags.output):
            present.emit_json(result.document)
        else:
            typer.echo(result.text)

    _finish(flags.output, lambda r: run_status(target, r, watch, show), live=False)


@cluster_command
def down(
    flags: ClusterFlags,
    env: str = ENV_ARG,
    delete_volumes: bool = typer.Option(
        False, "--delete-volumes", help="Also delete the stores' PersistentVolumeClaims."
    ),
    delete_namespace: bool = typer.Option(
        False, "--delete-namespace", help="Also delete the namespace and deployctl's records."
    ),
    yes: bool = YES_OPT,
    wait_lock: str | None = WAIT_LOCK_OPT,
) -> None:
    """Delete the workloads in reverse dependency order (keeps volumes, secrets, records)."""
    from deployctl.commands.down import down as run_down

    options = _options(flags, wait_lock=wait_lock)
    target = _target(flags, env, options, yes)
    _finish(flags.output, lambda r: run_down(target, r, delete_volumes, delete_namespace))


def _finish(output: str, run, live: bool = True) -> None:
    """Run a command with the right reporter, print its JSON (or its text), exit with its
    status. `live`: progress as a live table on a terminal."""
    from deployctl import present
    from deployctl.errors import Interrupted

    as_json = _json(output)
    reporter = present.make_reporter(as_json, ENVIRONMENT) if live else present.Reporter()
    try:
        result = run(reporter)
    except KeyboardInterrupt:
        raise Interrupted("interrupted: stopped cleanly, lock released") from None
    except Terminated:
        raise Interrupted(
            "terminated: stopped cleanly, lock released", ExitStatus.TERMINATED
        ) from None
    finally:
        reporter.close()
    if as_json:
        present.emit_json(result.document)
    elif result.text:
        typer.echo(result.text, nl=not result.text.endswith("\n"))
    raise typer.Exit(int(result.status))


@app.command()
def init(
    directory: Path = typer.Argument(
        Path("."),
        metavar="DIR",
        help="Where to write the project (default: here).",
        show_default=False,
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite files that exist."),
) -> None:
    """Write a minimal project: a profile for the local sandbox and a two-component app.

    Then `deployctl cluster up && deployctl up dev` in DIR deploys it.
    """
    from deployctl.init import write_project

    for path in write_project(directory, force=force):
        typer.echo(str(path))
    typer.echo(f"next: cd {directory} && deployctl cluster up && deployctl up dev", err=True)


SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_DEPLOYCTL_COMPLETE"


@app.command()
def completion(
    shell: str = typer.Argument(..., metavar="bash|zsh|fish", show_default=False),
) -> None:
    """Print the shell completion script: `source <(deployctl completion bash)`."""
    from typer._completion_shared import get_completion_script

    from deployctl.errors import ConfigError

    if shell not in SHELLS:
        raise ConfigError(f"completion: {shell!r} is not one of {', '.join(SHELLS)}")
    script = get_completion_script(prog_name="deployctl", complete_var=COMPLETE_VAR, shell=shell)
    typer.echo(script)


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
    if COMPLETE_VAR in os.environ:  # the shell asks for completions (`deployctl completion`)
        from typer._completion_classes import completion_init

        completion_init()
    try:
        app(args=_bare_wait_lock(sys.argv[1:]), prog_name="deployctl")
    except DeployctlError as error:
        coloured = not (os.environ.get("NO_COLOR") or "--no-color" in sys.argv)
        typer.secho(f"error: {error}", err=True, fg="red" if coloured else None)
        if _wants_json(sys.argv[1:]):
            # CI reads one JSON document on stdout, failures included.
            import json

            document = {"result": "error", "error": str(error), "exit": int(error.exit_status)}
            print(json.dumps(document, indent=2))
        sys.exit(int(error.exit_status))
    except Terminated:  # outside a deploy (render, diff, cluster ...): nothing to clean up
        typer.secho("terminated", err=True)
        sys.exit(int(ExitStatus.TERMINATED))
