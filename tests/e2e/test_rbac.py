"""The whole life cycle as a ServiceAccount bound to exactly manifests/rbac/, and a
missing permission found before the first write."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from kubetest import Kube
from projects import Project, deployctl
from test_revisions import ORDER, stack

RBAC = Path(__file__).parents[2] / "manifests" / "rbac"


def bundle(namespace: str) -> list[dict]:
    """manifests/rbac/, as `kubectl apply -k` would make it for this namespace."""
    objects = []
    for name in ("deployer.yaml", "cluster-reads.yaml"):
        for obj in yaml.safe_load_all((RBAC / name).read_text()):
            text = yaml.safe_dump(obj).replace("ai-agent-staging", namespace)
            obj = yaml.safe_load(text)
            if obj["kind"] in ("ServiceAccount", "Role", "RoleBinding"):
                obj["metadata"]["namespace"] = namespace
            objects.append(obj)
    return objects


def token_kubeconfig(cluster, kube: Kube, path: Path) -> Path:
    """A kubeconfig whose only user is the `deployctl` ServiceAccount's token."""
    request = (
        kube.resource("v1", "ServiceAccount")
        .subresources["token"]
        .create(
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
            name="deployctl",
            namespace=kube.namespace,
        )
    )
    admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    context = next(c for c in admin["contexts"] if c["name"] == cluster.context)
    server = next(c for c in admin["clusters"] if c["name"] == context["context"]["cluster"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [copy.deepcopy(server)],
        "users": [{"name": "deployer", "user": {"token": request.status.token}}],
        "contexts": [
            {
                "name": cluster.context,
                "context": {"cluster": server["name"], "user": "deployer"},
            }
        ],
        "current-context": cluster.context,
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def deployer(kube: Kube, client):
    """The bundle applied for the test's namespace; its cluster-scoped part removed after."""
    objects = bundle(kube.namespace)
    for obj in objects:
        kube.resource(obj["apiVersion"], obj["kind"]).create(
            body=obj, namespace=obj["metadata"].get("namespace")
        )
    yield objects
    for obj in objects:
        if obj["kind"].startswith("Cluster"):
            kube.resource(obj["apiVersion"], obj["kind"]).delete(name=obj["metadata"]["name"])


def as_deployer(cluster, project: Project, kubeconfig: Path, *args: str):
    """deployctl as the deploy identity, through its own kubeconfig."""
    return deployctl(cluster, project.root, *args, kubeconfig=kubeconfig)


def test_the_whole_life_cycle_runs_as_the_least_privileged_deployer(
    tmp_path, kube, cluster, image, deployer
):
    project = Project(tmp_path / "project", "test", kube.namespace, cluster.context)
    project.write(stack(image), ORDER)
    kubeconfig = token_kubeconfig(cluster, kube, tmp_path / "deployer.kubeconfig")

    steps = [
        ("up", "test"),
        ("rollout", "api", "v2", "-e", "test"),
        ("rollback", "-e", "test"),
        ("history", "-e", "test"),
        ("status", "-e", "test"),
        ("plan", "test"),
        ("down", "test", "--yes"),
    ]
    results = {step[0]: as_deployer(cluster, project, kubeconfig, *step) for step in steps}

    for name, result in results.items():
        assert result.code == 0, f"{name}: {result.stderr}"
        assert "forbidden" not in result.stderr.lower(), f"{name}: {result.stderr}"
    assert kube.list("apps/v1", "Deployment") == []  # down took it all away


def test_a_missing_permission_is_exit_2_before_the_first_write(
    tmp_path, kube, cluster, image, deployer
):
    role = next(o for o in deployer if o["kind"] == "Role")
    apps = next(r for r in role["rules"] if "deployments" in r["resources"])
    apps["resources"] = [r for r in apps["resources"] if r != "deployments"]
    # Deployments without delete: the deploy itself would work, its prune would not.
    role["rules"].append(
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "verbs": ["get", "list", "watch", "create", "patch"],
        }
    )
    kube.resource("rbac.authorization.k8s.io/v1", "Role").replace(
        body=role, namespace=kube.namespace
    )
    project = Project(tmp_path / "project", "test", kube.namespace, cluster.context)
    project.write(stack(image), ORDER)
    kubeconfig = token_kubeconfig(cluster, kube, tmp_path / "deployer.kubeconfig")

    result = as_deployer(cluster, project, kubeconfig, "up", "test")

    assert result.code == 2, result.stderr
    assert "cannot delete deployments.apps in namespace" in result.stderr
    assert f"namespace {kube.namespace}" in result.stderr and "docs/rbac.md" in result.stderr
    assert kube.list("apps/v1", "Deployment") == [] and kube.list("v1", "Service") == []
    assert kube.list("coordination.k8s.io/v1", "Lease") == []
