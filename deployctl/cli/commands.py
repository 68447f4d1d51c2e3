"""The environment commands: render, plan, diff, up, rollout, rollback, history,
status, down, and init and completion."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from deployctl.cli.base import COMPLETE_VAR, app, finish, project_root, wants_json
from deployctl.cli.flags import (
    ALL_OR_NOTHING_OPT,
    CLUSTER_OPT,
    ENV_ARG,
    ENV_OPT,
    NO_ROLLBACK_OPT,
    PAST_MIGRATIONS_OPT,
    PROJECT,
    SHOW_SECRETS,
    TIMEOUT_OPT,
    WAIT_LOCK_OPT,
    YES_OPT,
    ClusterFlags,
    cluster_command,
    make_options,
    make_target,
)


@app.command()
def render(
    env: str = ENV_ARG,
    project: Path | None = PROJECT,
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", metavar="NAMESPACE", help="Namespace (default: the profile's)."
    ),
    show_secrets: bool = SHOW_SECRETS,
    cluster: str | None = CLUSTER_OPT,
) -> None:
    """Print the rendered objects as YAML, in apply order (Secret values masked)."""
    import dataclasses

    from deployctl import plan, profile, render, secrets

    root = project_root(project)
    prof = profile.load_profile(root, env)
    prof = profile.one_cluster(prof, cluster)
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


@cluster_command
def plan(flags: ClusterFlags, env: str = ENV_ARG) -> None:
    """Show the dependency graph and what would be created, changed or pruned."""
    from deployctl.commands import inspect as inspecting

    target = make_target(flags, env)
    finish(flags.output, lambda r: inspecting.plan(target, r), live=False)


@cluster_command
def diff(flags: ClusterFlags, env: str = ENV_ARG, show_secrets: bool = SHOW_SECRETS) -> None:
    """Show a unified diff of live against to-be-applied objects (exit 0 same, 1 differs)."""
    from deployctl.commands import inspect as inspecting

    target = make_target(flags, env)
    finish(flags.output, lambda r: inspecting.diff(target, r, show_secrets), live=False)


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
    no_rollback: bool = NO_ROLLBACK_OPT,
    all_or_nothing: bool = ALL_OR_NOTHING_OPT,
) -> None:
    """Validate, apply in dependency order, wait for health, prune, record a revision.

    An environment with clusters in stages deploys stage by stage; a cluster that
    fails is restored (see docs/clusters.md). How it decides and waits:
    docs/how-up-works.md.
    """
    from deployctl.commands.up import up as run_up

    options = make_options(flags, timeout, force_conflicts, adopt, wait_lock, reset_pins)
    target = make_target(flags, env, options, yes)
    finish(flags.output, lambda r: run_up(target, r, no_rollback, all_or_nothing))


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
    no_rollback: bool = NO_ROLLBACK_OPT,
    all_or_nothing: bool = ALL_OR_NOTHING_OPT,
    yes: bool = YES_OPT,
    past_migrations: bool = PAST_MIGRATIONS_OPT,
    timeout: str | None = TIMEOUT_OPT,
    wait_lock: str | None = WAIT_LOCK_OPT,
) -> None:
    """Set one component's image, wait, and roll back by itself if it fails.

    The new image sticks: later `up`s keep it (and say so) until the manifests
    change that image, or `deployctl up ENV --reset-pins` returns to the manifests.
    See docs/revisions.md.
    """
    from deployctl.commands.rollout import rollout as run_rollout

    options = make_options(flags, timeout, wait_lock=wait_lock)
    target = make_target(flags, env, options, yes)
    target.past_migrations = past_migrations
    finish(
        flags.output,
        lambda r: run_rollout(
            target, r, component, version, container, no_rollback, all_or_nothing
        ),
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
    no_rollback: bool = NO_ROLLBACK_OPT,
    all_or_nothing: bool = ALL_OR_NOTHING_OPT,
    yes: bool = YES_OPT,
    past_migrations: bool = PAST_MIGRATIONS_OPT,
    timeout: str | None = TIMEOUT_OPT,
    wait_lock: str | None = WAIT_LOCK_OPT,
) -> None:
    """Restore an earlier successful revision (of everything, or of one component).

    See docs/revisions.md.
    """
    from deployctl.commands.rollback import rollback as run_rollback

    options = make_options(flags, timeout, wait_lock=wait_lock)
    target = make_target(flags, env, options, yes)
    target.past_migrations = past_migrations
    finish(
        flags.output,
        lambda r: run_rollback(target, r, component, to_revision, no_rollback, all_or_nothing),
    )


@cluster_command
def history(flags: ClusterFlags, env: str | None = ENV_OPT) -> None:
    """List the recorded revisions, and what changed in each (images, by component)."""
    from deployctl.commands import inspect as inspecting

    target = make_target(flags, env)
    finish(flags.output, lambda r: inspecting.history(target, r), live=False)


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

    target = make_target(flags, env)

    def show(result) -> None:
        if wants_json(flags.output):
            present.emit_json(result.document)
        else:
            typer.echo(result.text)

    finish(flags.output, lambda r: run_status(target, r, watch, show), live=False)


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

    options = make_options(flags, wait_lock=wait_lock)
    target = make_target(flags, env, options, yes)
    finish(flags.output, lambda r: run_down(target, r, delete_volumes, delete_namespace))


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
