"""The application: its global flags, running one command, and the entry point,
the one place that turns domain errors into messages and exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from deployctl import __version__
from deployctl.errors import DeployctlError, ExitStatus, Terminated

# What the terminal can do, read once at start (--no-color, NO_COLOR, -v fill it in).
ENVIRONMENT = None
DEFAULT_LOCK_WAIT = "10m"
COMPLETE_VAR = "_DEPLOYCTL_COMPLETE"


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


def project_root(explicit: Path | None) -> Path:
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


def wants_json(output: str) -> bool:
    from deployctl.errors import ConfigError

    if output not in ("text", "json"):
        raise ConfigError(f"--output: {output!r} is not text or json")
    return output == "json"


def finish(output: str, run, live: bool = True) -> None:
    """Run a command with the right reporter, print its JSON (or its text), exit with its
    status. `live`: progress as a live table on a terminal."""
    from deployctl import present
    from deployctl.errors import Interrupted

    as_json = wants_json(output)
    reporter = present.make_reporter(as_json, ENVIRONMENT) if live else present.Reporter()
    try:
        result = run(reporter)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {_stopped(live)}") from None
    except Terminated:
        raise Interrupted(f"terminated: {_stopped(live)}", ExitStatus.TERMINATED) from None
    finally:
        reporter.close()
    if as_json:
        present.emit_json(result.document)
    elif result.text:
        typer.echo(result.text, nl=not result.text.endswith("\n"))
    raise typer.Exit(int(result.status))


def _stopped(live: bool) -> str:
    """How an interrupted run ended; `live` commands may hold the lock."""
    from deployctl import lock

    if not live:
        return "stopped"
    if lock.UNRELEASED:
        return "stopped cleanly, but the lock could not be released (see the warning above)"
    return "stopped cleanly, lock released"


def _wants_json(args: list[str]) -> bool:
    pairs = zip(args, [*args[1:], ""], strict=False)
    glued = ("--output=json", "-ojson", "-o=json")
    return any(a in ("-o", "--output") and b == "json" for a, b in pairs) or any(
        a in glued for a in args
    )


def is_number(text: str) -> bool:
    """A bare number of seconds, as `--timeout 90` or `--wait-lock 30`."""
    return text.replace(".", "", 1).isdigit()


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
                parse_duration(float(following) if is_number(following) else following)
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
        from deployctl.present import Environment

        # Read by the root callback, unless the error came first (a bad flag, say).
        environment = ENVIRONMENT or Environment.detect(no_color="--no-color" in sys.argv)
        typer.secho(f"error: {error}", err=True, fg="red" if environment.color else None)
        if _wants_json(sys.argv[1:]):
            # CI reads one JSON document on stdout, failures included.
            import json

            document = {"result": "error", "error": str(error), "exit": int(error.exit_status)}
            print(json.dumps(document, indent=2))
        sys.exit(int(error.exit_status))
    except Terminated:  # outside a deploy (render, diff, cluster ...): nothing to clean up
        typer.secho("terminated", err=True)
        sys.exit(int(ExitStatus.TERMINATED))
