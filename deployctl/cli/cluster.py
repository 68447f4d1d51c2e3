"""`deployctl cluster ...`: the local sandbox cluster."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from deployctl.cli.base import cluster_app
from deployctl.errors import ExitStatus

CLUSTER_NAME = typer.Option(
    "deployctl", "--name", metavar="NAME", help="Name of the local cluster."
)
KUBECONFIG = typer.Option(
    None,
    "--kubeconfig",
    metavar="FILE",
    help="Kubeconfig file to add the cluster's context to (default: as kubectl does).",
)


class Provider(StrEnum):
    sandbox = "sandbox"
    kind = "kind"


PROVIDER = typer.Option(
    Provider.sandbox,
    "--provider",
    help="sandbox: kwok's simulated nodes (seconds, no Docker); "
    "kind: real nodes in Docker containers (docs/kind.md).",
)
KUBECONFIG_OF_CLUSTER = typer.Option(
    None,
    "--kubeconfig",
    metavar="FILE",
    help="Kubeconfig file that holds the cluster's context (default: as kubectl does).",
)


@cluster_app.command("build")
def cluster_build(
    provider: Provider = PROVIDER,
    stores: bool = typer.Option(
        False,
        "--stores",
        help="kind only: also the stores' images (PostgreSQL, Redis, RabbitMQ, their "
        "exporters) from Debian's packages (docs/kind.md).",
    ),
) -> None:
    """Build the local cluster's binaries from source into the cache (no-op when cached).

    With --provider kind: also kind and an offline kind node image (needs Docker and
    debootstrap; several minutes the first time); prints the image's reference.
    With --stores also the stores' images, one reference a line.
    """
    from deployctl.cluster import binaries

    if stores and provider is not Provider.kind:
        raise typer.BadParameter("--stores needs --provider kind", param_hint="--stores")
    tools = binaries.ensure_binaries()
    if provider is Provider.kind:
        from deployctl.cluster import kind

        typer.echo(kind.build_node_image())
        if stores:
            from deployctl.cluster.kind import stores as store_images

            for ref in store_images.build_stores():
                typer.echo(ref)
        return
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
    provider: Provider = PROVIDER,
    node_image: str | None = typer.Option(
        None,
        "--node-image",
        metavar="IMAGE",
        help="kind only: the node image (default: the one `cluster build --provider kind` "
        "built, else kind's published image).",
    ),
) -> None:
    """Start the local cluster (building its binaries on first use); print its context."""
    if provider is Provider.kind:
        from deployctl.cluster import kind

        typer.echo(kind.up(name, kubeconfig=kubeconfig, node_image=node_image))
        return
    from deployctl.cluster import sandbox

    context = sandbox.up(
        name, pod_ready_delay=pod_ready_delay, kubeconfig=kubeconfig, pods_per_node=pods_per_node
    )
    typer.echo(context)


@cluster_app.command("down")
def cluster_down(
    name: str = CLUSTER_NAME,
    kubeconfig: Path | None = KUBECONFIG_OF_CLUSTER,
    provider: Provider = PROVIDER,
) -> None:
    """Stop the local cluster and remove everything it started."""
    if provider is Provider.kind:
        from deployctl.cluster import kind

        kind.down(name, kubeconfig=kubeconfig)
        return
    from deployctl.cluster import sandbox

    sandbox.down(name, kubeconfig=kubeconfig)


@cluster_app.command("status")
def cluster_status(
    name: str = CLUSTER_NAME,
    kubeconfig: Path | None = KUBECONFIG_OF_CLUSTER,
    provider: Provider = PROVIDER,
) -> None:
    """Say whether the local cluster runs; exit 1 when it does not."""
    from deployctl.cluster import kind, sandbox

    if provider is Provider.kind:
        state = kind.status(name)
    else:
        state = sandbox.status(name, kubeconfig=kubeconfig)
    typer.echo(state.describe())
    if not state.running:
        raise typer.Exit(ExitStatus.FAILED)
