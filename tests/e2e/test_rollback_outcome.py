"""What a rollback says of the revision it went back to, against a real API server."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubetest import Kube
from projects import Project, deployctl, deployment

ORDER = {"api": []}


@pytest.fixture
def project(tmp_path: Path, kube: Kube, cluster) -> Project:
    return Project(tmp_path / "project", "test", kube.namespace, cluster.context)


def test_a_rollback_that_fails_does_not_say_it_restored(project, kube, cluster, image):
    project.write([deployment("api", image("v1"), delay="6s")], ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    rolled = deployctl(cluster, project.root, "rollout", "api", "v2", "-e", "test")
    assert rolled.code == 0, rolled.stderr

    # Revision 1's pods need 6 s to be ready: a 1 s timeout fails the rollback.
    back = deployctl(cluster, project.root, "rollback", "-e", "test", "--timeout", "1s")

    assert back.code == 1, back.stderr
    assert "restored revision 1" not in back.stderr
    assert "revision 1 not restored: api failed" in back.stderr
