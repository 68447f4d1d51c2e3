"""Where the end-to-end suite gets its cluster.

sandbox  the local kwok cluster (`deployctl cluster up`); the default.
kind     a kind cluster (`deployctl cluster up --provider kind`; needs Docker;
         CI runs it too): stand-in application images are built and loaded
         with `kind load`, and the failure markers are real there (see
         tests/e2e/standin/): -crashloop exits 1, -unready never passes its
         readiness probe, -pullerror is never built, so pulling it fails.

Either provider is skipped when DEPLOYCTL_TEST_CONTEXT names a running
cluster to reuse (with DEPLOYCTL_TEST_KUBECONFIG, else the default kubeconfig).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubetest import Cluster
from standin.load import load_standins

from deployctl.cluster import sandbox

# DEPLOYCTL_TEST_CLUSTER names the cluster, so that two suites can run side by side.
TEST_CLUSTER = os.environ.get("DEPLOYCTL_TEST_CLUSTER", "deployctl-test")


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
    from deployctl.cluster import kind

    kubeconfig = workdir / "kubeconfig"
    context = kind.up(TEST_CLUSTER, kubeconfig=kubeconfig)
    try:
        load_standins(TEST_CLUSTER)
        yield Cluster("kind", kubeconfig, context)
    finally:
        kind.down(TEST_CLUSTER, kubeconfig=kubeconfig)


def provide(provider: str, workdir: Path):
    if os.environ.get("DEPLOYCTL_TEST_CONTEXT"):
        return reused_cluster()
    if provider == "kind":
        return kind_cluster(workdir)
    return sandbox_cluster(workdir)
