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

    claims = [
        (c["metadata"]["name"], c.get("spec"), c.get("status"))
        for c in kube.list("v1", "PersistentVolumeClaim")
    ]
    assert running.returncode == 0, f"{err}\nclaims: {claims}"
    assert "Traceback" not in err
    assert json.loads(out)["result"] == "deployed"
    for workload in ("api", "web"):
        deployment = kube.get("apps/v1", "Deployment", workload)
        assert deployment["status"].get("availableReplicas") == 1
    assert kube.get("apps/v1", "StatefulSet", "db")["status"].get("readyReplicas") == 1
    assert history(cluster, project) == [("up", "deployed")]


def test_four_environments_deploy_to_one_cluster_at_once_each_under_its_own_lock(
    tmp_path, client, cluster, image
):
    namespaces = client.resources.get(api_version="v1", kind="Namespace")
    names = [f"t-four-{i}-{tmp_path.name[-5:].lower().replace('_', '-')}" for i in range(4)]
    projects = []
    for index, namespace in enumerate(names):
        namespaces.create(
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
        project = Project(tmp_path / f"env{index}", "test", namespace, cluster.context)
        project.write(stack(image, db_delay="3s"), ORDER)
        projects.append(project)
    try:
        running = [start_up(cluster, project) for project in projects]
        done = [process.communicate(timeout=300) for process in running]
    finally:
        for namespace in names:
            namespaces.delete(name=namespace)

    for process, (_, err) in zip(running, done, strict=True):
        assert process.returncode == 0, err
        assert "locked by" not in err
