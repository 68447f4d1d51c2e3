"""Fixtures for the end-to-end suite: one cluster per session, one namespace per test."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

sys.path.insert(0, str(Path(__file__).parent))

from kubetest import Cluster, Kube
from providers import provide
from standin.load import standin_image


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--provider",
        choices=("sandbox", "kind"),
        default="sandbox",
        help="Cluster for end-to-end tests: the kwok sandbox (default) or kind (needs Docker).",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.e2e)
    # Tests of the kwok sandbox itself mean nothing on another provider; the
    # comparison of the two runs where kind does (it starts its own sandbox).
    other = "sandbox_only" if config.getoption("--provider") != "sandbox" else "kind_only"
    deselected = [item for item in items if other in item.keywords]
    config.hook.pytest_deselected(items=deselected)
    items[:] = [item for item in items if other not in item.keywords]


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    with provide(request.config.getoption("--provider"), tmp_path_factory.mktemp("cluster")) as c:
        yield c


@pytest.fixture(scope="session")
def client(cluster: Cluster):
    return cluster.client()


@pytest.fixture
def kube(client, request: pytest.FixtureRequest):
    """A fresh namespace for one test, deleted afterwards."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:40].strip("-")
    name = f"t-{slug}-{uuid.uuid4().hex[:5]}"
    namespaces = client.resources.get(api_version="v1", kind="Namespace")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield Kube(client, name)
    try:
        namespaces.delete(name=name)
    except ApiException as error:
        if error.status not in (404, 409):  # a test deleted it already, or is deleting it
            raise


@pytest.fixture
def image():
    return standin_image
