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
    # The kind suite runs only what real containers show (`containers`, `kind_only`):
    # what the API server alone decides, the sandbox suite has proved already.
    def keep(item: pytest.Item) -> bool:
        marks = item.keywords
        if config.getoption("--provider") == "kind":
            return ("containers" in marks or "kind_only" in marks) and "sandbox_only" not in marks
        return "kind_only" not in marks

    config.hook.pytest_deselected(items=[item for item in items if not keep(item)])
    items[:] = [item for item in items if keep(item)]


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
