"""The real suite (`nox -s real`): the kind-real environment deployed once, read by every test.

The session fixture `stack` builds what is missing (the kind node image, the stores'
images, the reference application), starts the kind cluster `real`, loads the images,
and runs `deployctl up kind-real` as a user would. Every test then reads that one
deployment through the cluster and the stores' own tools (psql, redis-cli,
rabbitmq-diagnostics). The tests that disturb it (rollouts, deleted pods) are marked
`disruptive` and run last, each leaving the stack healthy again.

DEPLOYCTL_REAL_KEEP=1 keeps the cluster at the end (to look around, or to run the suite
again without deploying from nothing).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real.stack import CLUSTER, Stack

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.real)
    # What reads the stack first; what disturbs it after, in file order.
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from deployctl.cluster import kind
    from deployctl.cluster.kind import stores

    sys.path.insert(0, str(REPO / "tests/e2e/app"))
    import load  # tests/e2e/app/load.py

    kubeconfig = tmp_path_factory.mktemp("real") / "kubeconfig"
    kind.build_node_image()
    context = kind.up(CLUSTER, kubeconfig=kubeconfig)
    try:
        stores.load_stores(CLUSTER)
        load.load_app(CLUSTER)
        deployed = Stack(REPO, kubeconfig, context)
        deployed.deployctl("up", "kind-real", "--yes", timeout=900)
        yield deployed
    finally:
        if os.environ.get("DEPLOYCTL_REAL_KEEP") != "1":
            kind.down(CLUSTER, kubeconfig=kubeconfig)
