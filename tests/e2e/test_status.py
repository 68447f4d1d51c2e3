"""`deployctl status` reports each workload's pods as `up` judged them, end to end."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException
from kubetest import Kube
from projects import Project, deployctl, deployment, service

ORDER = {"api": [], "web": ["api"]}
# A finalizer on web's pods: a deleted pod stays, with its last status, until it is dropped.
HOLD = "test.deployctl.dev/hold"
WEB = "app.kubernetes.io/component=web"


@pytest.fixture
def project(tmp_path: Path, kube: Kube, cluster) -> Project:
    return Project(tmp_path / "project", "test", kube.namespace, cluster.context)


def held(web: dict) -> dict:
    web["spec"]["template"]["metadata"]["finalizers"] = [HOLD]
    return web


def web_row(cluster, project: Project):
    result = deployctl(cluster, project.root, "status", "-e", "test", "-o", "json")
    return result, next(r for r in result.report["components"] if r["component"] == "web")


def let_go(kube: Kube) -> None:
    """Delete web and drop the hold on its pods until none is left."""
    kube.delete("apps/v1", "Deployment", "web")
    deadline = time.monotonic() + 120
    while pods := kube.list("v1", "Pod", label_selector=WEB):
        for pod in pods:
            if HOLD in (pod["metadata"].get("finalizers") or []):
                try:
                    kube.patch(
                        "v1", "Pod", pod["metadata"]["name"], {"metadata": {"finalizers": None}}
                    )
                except ApiException as error:
                    if error.status != 404:
                        raise
        assert time.monotonic() < deadline, "web's pods did not go"
        time.sleep(1)


def test_status_after_a_rolled_back_rollout_ignores_the_failed_pods_still_going(
    project, kube, cluster, image
):
    project.write(
        [service("api"), deployment("api", image("v1")), held(deployment("web", image("v1")))],
        ORDER,
    )
    try:
        assert deployctl(cluster, project.root, "up", "test").code == 0
        broken = deployctl(cluster, project.root, "rollout", "web", "v1-crashloop", "-e", "test")
        assert broken.code == 1
        assert "CrashLoopBackOff" in broken.stderr and "rolled back to revision" in broken.stderr

        # The failed revision's pod was deleted and is still there, going away.
        going = [
            pod
            for pod in kube.list("v1", "Pod", label_selector=WEB)
            if pod["metadata"].get("deletionTimestamp")
        ]
        assert [p["spec"]["containers"][0]["image"] for p in going] == [image("v1-crashloop")]

        result, web = web_row(cluster, project)

        assert result.code == 0, result.stdout
        assert result.report["healthy"] is True
        assert (web["health"], web["ready"], web["desired"]) == ("Current", 1, 1)
        assert web["problems"] == []
    finally:
        let_go(kube)


def test_status_judges_a_match_expressions_selector_as_up_does(project, kube, cluster, image):
    web = deployment("web", image("v1"), replicas=2)
    name = web["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
    web["spec"]["selector"] = {
        "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": [name]}]
    }
    project.write([service("api"), deployment("api", image("v1")), web], ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0

    healthy, row = web_row(cluster, project)

    assert healthy.code == 0, healthy.stdout
    assert (row["health"], row["ready"], row["desired"]) == ("Current", 2, 2)

    broken = deployctl(
        cluster, project.root, "rollout", "web", "v1-crashloop", "-e", "test", "--no-rollback"
    )
    judged = re.search(r"pod (\S+): container web: CrashLoopBackOff", broken.stderr)
    assert broken.code == 1 and judged, broken.stderr

    unhealthy, row = web_row(cluster, project)

    assert unhealthy.code == 1
    assert any(
        problem.startswith(f"pod {judged[1]}: container web: CrashLoopBackOff")
        for problem in row["problems"]
    ), row["problems"]
