"""The engine's writes against a real API server: prune order and its waits, the undo of
validation's scaffolding, and what a stuck-pod replacement says it did."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from kubetest import Kube
from projects import Project, deployctl, deployment, labels, service, start, statefulset

from deployctl.deploy.actions import Actions
from deployctl.kube import Cluster

ORDER = {"db": [], "api": ["db"], "web": ["api"]}
HOLD = "deployctl.test/hold"  # a finalizer nothing removes but the test


@pytest.fixture
def project(tmp_path: Path, kube: Kube, cluster) -> Project:
    return Project(tmp_path / "project", "test", kube.namespace, cluster.context)


def stack(image) -> list[dict]:
    return [
        service("db", headless=True),
        statefulset("db", image("v1"), claim=False),
        service("api"),
        deployment("api", image("v1")),
        service("web"),
        deployment("web", image("v1")),
    ]


def release(kube: Kube, kind: str, name: str, api_version: str = "v1") -> None:
    kube.resource(api_version, kind).patch(
        name=name,
        namespace=kube.namespace if kind != "Namespace" else None,
        body={"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )


@pytest.mark.containers
def test_prune_deletes_dependents_first_and_waits_until_they_are_gone(
    project, kube, cluster, image
):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    (web_pod,) = kube.list("v1", "Pod", label_selector="app.kubernetes.io/name=web")
    kube.patch("v1", "Pod", web_pod["metadata"]["name"], {"metadata": {"finalizers": [HOLD]}})

    project.write(stack(image)[:2], {"db": []})  # api and web are gone from the manifests
    running = start(cluster, project.root, "up", "test", "-o", "json")
    try:
        # web goes first; while its pod is held, api (which web depends on) is untouched.
        kube.wait_for_one(
            "v1",
            "Pod",
            web_pod["metadata"]["name"],
            lambda p: p["metadata"].get("deletionTimestamp"),
        )
        time.sleep(3)
        api = kube.get("apps/v1", "Deployment", "api")
        assert api is not None and not api["metadata"].get("deletionTimestamp")
        assert kube.get("apps/v1", "Deployment", "web") is not None  # waits for its pod
        assert running.poll() is None
    finally:
        release(kube, "Pod", web_pod["metadata"]["name"])
    stdout, stderr = running.communicate(timeout=120)

    assert running.returncode == 0, stderr
    pruned = [o["object"].split(" in ")[0] for o in _report(stdout) if o["action"] == "prune"]
    assert pruned == ["Deployment/web", "Deployment/api", "Service/web", "Service/api"]
    assert kube.get("apps/v1", "Deployment", "api") is None
    assert kube.list("v1", "Pod", label_selector="app.kubernetes.io/name=api") == []
    assert kube.get("apps/v1", "StatefulSet", "db") is not None


def _report(stdout: str) -> list[dict]:
    return json.loads(stdout)["objects"]


def test_a_validation_error_stays_the_error_when_its_namespace_is_slow_to_go(
    tmp_path, client, cluster, image
):
    namespace = f"t-undo-{uuid.uuid4().hex[:5]}"
    project = Project(tmp_path / "project", "test", namespace, cluster.context)
    invalid = deployment("api", image("v1"))
    invalid["spec"]["replicas"] = -1  # refused by the server's dry run
    held = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": labels("platform"), "finalizers": [HOLD]},
    }
    project.write([held, service("api"), invalid], {"api": []})
    kube = Kube(client, namespace)
    try:
        result = deployctl(cluster, project.root, "up", "test")

        assert result.code == 2, result.stderr
        assert "replicas" in result.stderr and "Deployment/api" in result.stderr
        assert "still being deleted (the next deploy waits)" in result.stderr
        assert "Traceback" not in result.stderr
        ns = kube.resource("v1", "Namespace").get(name=namespace).to_dict()
        assert ns["metadata"]["deletionTimestamp"]  # removed, held only by the test's finalizer
    finally:
        release(kube, "Namespace", namespace)


def test_a_pod_replacement_says_replaced_only_when_its_delete_removed_the_pod(kube, cluster, image):
    pod = kube.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "stuck", "labels": labels("db")},
            "spec": {"containers": [{"name": "db", "image": image("v1")}]},
        }
    )
    said: list[str] = []
    actions = Actions(
        Cluster.connect(cluster.context, cluster.kubeconfig),
        kube.namespace,
        Said(said),
        guard=lambda: None,
    )

    actions.replace_pod("gone", "0000")  # 404: nothing there
    actions.replace_pod("stuck", "another-uid")  # 409: the name is another pod's
    assert said == []
    assert kube.get("v1", "Pod", "stuck") is not None

    actions.replaced.discard("stuck")  # judged stuck again, with its own uid this time
    actions.replace_pod("stuck", pod["metadata"]["uid"])
    assert said == ["replaced pod stuck, stuck on a failed revision"]


class Said:
    """A reporter that keeps what it is told."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def info(self, line: str) -> None:
        self.lines.append(line)

    def object(self, ref: str, action: str) -> None:
        self.lines.append(f"{ref} {action}")
