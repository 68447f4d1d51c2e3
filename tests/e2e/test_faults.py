"""Faults a real cluster survives: a control-plane restart in the middle of a deploy."""

from __future__ import annotations

import json

import pytest
from projects import Project
from test_revisions import ORDER, history, stack, start_up, wait_for_lease

from deployctl.cluster import binaries, sandbox


@pytest.fixture
def project(tmp_path, kube, cluster) -> Project:
    return Project(tmp_path / "project", "test", kube.namespace, cluster.context)


@pytest.mark.sandbox_only
def test_a_control_plane_restart_while_a_wave_waits_ends_in_a_healthy_deploy(
    project, kube, cluster, image
):
    project.write(stack(image, db_delay="6s"), ORDER)
    running = start_up(cluster, project, "-o", "json")
    wait_for_lease(kube)
    kube.wait_for_one("apps/v1", "StatefulSet", "db", lambda s: True, timeout=60)
    name = cluster.context.removeprefix("kwok-")
    tools = binaries.toolset()

    # The whole control plane and kwok stop and start again, as on a node reboot.
    sandbox._kwokctl(tools, "stop", "cluster", "--name", name)
    sandbox._kwokctl(tools, "start", "cluster", "--name", name, "--wait", "60s")
    out, err = running.communicate(timeout=240)

    assert running.returncode == 0, err
    assert "Traceback" not in err
    assert json.loads(out)["result"] == "deployed"
    for workload in ("api", "web"):
        deployment = kube.get("apps/v1", "Deployment", workload)
        assert deployment["status"].get("availableReplicas") == 1
    assert kube.get("apps/v1", "StatefulSet", "db")["status"].get("readyReplicas") == 1
    assert history(cluster, project) == [("up", "deployed")]
