"""Where the end-to-end suite gets its cluster.

sandbox  the local kwok cluster (`deployctl cluster up`); the default, and
         the only provider this project's CI can run (it has no Docker).
kind     a kind cluster for a developer's machine with Docker: stand-in
         application images are built and loaded with `kind load`, and the
         failure markers are real there (see tests/e2e/standin/Dockerfile).

Either provider is skipped when DEPLOYCTL_TEST_CONTEXT names a running
cluster to reuse (with DEPLOYCTL_TEST_KUBECONFIG, else the default kubeconfig).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubetest import Cluster

from deployctl.cluster import sandbox

# DEPLOYCTL_TEST_CLUSTER names the cluster, so that two suites can run side by side.
TEST_CLUSTER = os.environ.get("DEPLOYCTL_TEST_CLUSTER", "deployctl-test")
STANDIN_REPOSITORY = "deployctl.local/standin"
STANDIN_DIR = Path(__file__).parent / "standin"
# Tags the suite uses; a -pullerror tag is never built, so pulling it fails for real.
STANDIN_TAGS = {"v1": "ok", "v2": "ok", "v1-crashloop": "crashloop", "v1-unready": "unready"}


def standin_image(tag: str) -> str:
    return f"{STANDIN_REPOSITORY}:{tag}"


@contextmanager
def reused_cluster() -> Iterator[Cluster]:
    kubeconfig = Path(os.environ.get("DEPLOYCTL_TEST_KUBECONFIG") or sandbox.default_kubeconfig())
    yield Cluster("reused", kubeconfig, os.environ["DEPLOYCTL_TEST_CONTEXT"])


@contextmanager
def sandbox_cluster(workdir: Path) -> Iterator[Cluster]:
    kubeconfig = workdir / "kubeconfig"
    context = sandbox.up(TEST_CLUSTER, kubeconfig=kubeconfig)
    try:
        yield Cluster("sandbox", kubeconfig, context)
    finally:
        sandbox.down(TEST_CLUSTER, kubeconfig=kubeconfig)


@contextmanager
def kind_cluster(workdir: Path) -> Iterator[Cluster]:
    for tool in ("kind", "docker"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"--provider kind needs {tool} on PATH")
    kubeconfig = workdir / "kubeconfig"
    run = lambda *args: subprocess.run(args, check=True)  # noqa: E731
    run(
        "kind",
        "create",
        "cluster",
        "--name",
        TEST_CLUSTER,
        "--kubeconfig",
        str(kubeconfig),
        "--wait",
        "120s",
    )
    try:
        for tag, mode in STANDIN_TAGS.items():
            image = standin_image(tag)
            run(
                "docker",
                "build",
                "-q",
                "--build-arg",
                f"MODE={mode}",
                "-t",
                image,
                str(STANDIN_DIR),
            )
            run("kind", "load", "docker-image", image, "--name", TEST_CLUSTER)
        yield Cluster("kind", kubeconfig, f"kind-{TEST_CLUSTER}")
    finally:
        run("kind", "delete", "cluster", "--name", TEST_CLUSTER)


def provide(provider: str, workdir: Path):
    if os.environ.get("DEPLOYCTL_TEST_CONTEXT"):
        return reused_cluster()
    if provider == "kind":
        return kind_cluster(workdir)
    return sandbox_cluster(workdir)
