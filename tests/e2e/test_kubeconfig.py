"""A kubeconfig whose current-context is empty or stale, against a real API server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubetest import Kube
from projects import Project, deployctl, deployment

ORDER = {"api": []}


@pytest.fixture
def project(tmp_path: Path, kube: Kube, cluster) -> Project:
    return Project(tmp_path / "project", "test", kube.namespace, cluster.context)


def with_current_context(cluster, tmp_path: Path, current: str) -> Path:
    """The test cluster's kubeconfig, its current-context set as `kind delete cluster` or
    `deployctl cluster down --name X` leave it: empty, or naming a context gone."""
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    config["current-context"] = current
    copy = tmp_path / "kubeconfig"
    copy.write_text(yaml.safe_dump(config))
    return copy


@pytest.mark.parametrize("current", ["", "kwok-deleted"])
def test_a_profile_naming_its_context_deploys_whatever_the_current_one_is(
    project, kube, cluster, image, tmp_path, current
):
    kubeconfig = with_current_context(cluster, tmp_path, current)
    project.write([deployment("api", image("v1"))], ORDER)

    up = deployctl(cluster, project.root, "up", "test", kubeconfig=kubeconfig)
    status = deployctl(cluster, project.root, "status", "-e", "test", kubeconfig=kubeconfig)

    assert up.code == 0, up.stderr
    assert status.code == 0, status.stderr
    assert kube.get("apps/v1", "Deployment", "api") is not None
    assert yaml.safe_load(kubeconfig.read_text())["current-context"] == current  # left alone
