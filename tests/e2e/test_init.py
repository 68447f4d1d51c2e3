"""The project `deployctl init` writes deploys as it stands."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kubetest import Kube
from projects import deployctl
from standin.load import standin_image

from deployctl.init import write_project


@pytest.fixture
def namespace(client):
    """A namespace name of this test's own: the project's Namespace object creates it
    (with its Pod Security labels), so the `kube` fixture's ready-made one won't do."""
    name = f"t-init-{uuid.uuid4().hex[:6]}"
    yield name
    namespaces = client.resources.get(api_version="v1", kind="Namespace")
    if any(n.metadata.name == name for n in namespaces.get().items):
        namespaces.delete(name=name)


def available(deployment: dict | None) -> bool:
    if deployment is None:
        return False
    status = deployment.get("status") or {}
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    wanted = deployment["spec"].get("replicas", 1)
    return conditions.get("Available") == "True" and status.get("availableReplicas") == wanted


def test_an_initialized_project_deploys_in_order_and_a_second_up_changes_nothing(
    tmp_path: Path, client, cluster, namespace: str
) -> None:
    root = tmp_path / "hello"
    write_project(root)
    if cluster.provider == "kind":  # its images cannot be pulled there: the stand-in's
        profile = root / "environments" / "dev.yaml"
        standin = standin_image("v1")
        profile.write_text(profile.read_text() + f"images: {{cache: {standin}, web: {standin}}}\n")
    # The profile names the sandbox `deployctl cluster up` starts (kwok-deployctl) and
    # hello-dev; the flags point the same profile at the test cluster and namespace.
    where = ("--context", cluster.context, "--namespace", namespace)

    result = deployctl(cluster, root, "up", "dev", *where, "-o", "json")
    again = deployctl(cluster, root, "up", "dev", *where, "-o", "json")

    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = result.report
    assert report["result"] == "deployed" and report["revision"] == 1
    assert report["namespace"] == namespace and report["context"] == cluster.context
    cache, web = (report["components"][name] for name in ("cache", "web"))
    assert cache["state"] == web["state"] == "healthy"
    assert web["started"] >= cache["finished"]  # web waited for cache

    kube = Kube(client, namespace)
    for name in ("cache", "web"):
        deployment = kube.get("apps/v1", "Deployment", name)
        assert available(deployment), f"Deployment {name}: {deployment and deployment['status']}"
        assert kube.get("v1", "Service", name) is not None
    namespaces = client.resources.get(api_version="v1", kind="Namespace")
    created = namespaces.get(name=namespace).to_dict()
    assert created["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"

    assert again.code == 0, again.stderr
    assert again.report["changed"] is False and again.report["revision"] is None
