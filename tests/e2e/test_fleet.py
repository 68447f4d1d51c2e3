"""An environment across three clusters, in three stages, end to end.

The suite's cluster is the canary (stage 1) and, in another namespace, the
disaster-recovery copy (stage 3); two more sandbox clusters are eu-west and
us-east (stage 2, deployed in parallel).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from kubetest import Cluster, Kube
from projects import Project, deployctl, deployment, service, start
from providers import TEST_CLUSTER

from deployctl.cluster import sandbox

ORDER = {"db": [], "web": ["db"]}
REGIONS = {"eu-west": f"{TEST_CLUSTER}-eu", "us-east": f"{TEST_CLUSTER}-us"}


@dataclass
class Fleet:
    """The three clusters: a kubeconfig list naming all of them, and a client per name."""

    kubeconfig: str
    clusters: dict[str, Cluster]


@pytest.fixture(scope="module")
def fleet(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    kubeconfig = tmp_path_factory.mktemp("regions") / "kubeconfig"
    clusters = {"canary": cluster}
    try:
        for region, name in REGIONS.items():
            context = sandbox.up(name, kubeconfig=kubeconfig)
            clusters[region] = Cluster("sandbox", kubeconfig, context)
        yield Fleet(f"{cluster.kubeconfig}:{kubeconfig}", clusters)
    finally:
        for name in REGIONS.values():
            sandbox.down(name, kubeconfig=kubeconfig)


@dataclass
class FleetProject:
    project: Project
    fleet: Fleet
    namespace: str

    @property
    def root(self) -> Path:
        return self.project.root

    def kube(self, cluster: str) -> Kube:
        namespace = f"{self.namespace}-dr" if cluster == "dr" else self.namespace
        return Kube(self.fleet.clusters[_physical(cluster)].client(), namespace)

    def write(
        self, image, *, eu_web: str | None = None, extra: dict | None = None, delay: str = "2s"
    ) -> None:
        """db, then web (ready `delay` after it starts, so stage order shows in timestamps)."""
        self.project.write(
            [
                service("db"),
                deployment("db", image("v1")),
                service("web"),
                deployment("web", image("v1"), delay=delay),
            ],
            ORDER,
        )
        path = self.root / "environments" / "test.yaml"
        settings = yaml.safe_load(path.read_text())
        del settings["context"]
        eu = {"context": self.fleet.clusters["eu-west"].context}
        dr = f"{self.namespace}-dr"
        if eu_web:
            eu["images"] = {"web": eu_web}
        settings["stages"] = [
            {"canary": {"context": self.fleet.clusters["canary"].context}},
            {"eu-west": eu, "us-east": {"context": self.fleet.clusters["us-east"].context}},
            {"dr": {"context": self.fleet.clusters["canary"].context, "namespace": dr}},
            *([extra] if extra else []),
        ]
        path.write_text(yaml.safe_dump(settings))

    def run(self, *args: str, kubeconfig: str | None = None):
        any_cluster = self.fleet.clusters["canary"]
        return deployctl(
            any_cluster, self.root, *args, kubeconfig=Path(kubeconfig or self.fleet.kubeconfig)
        )

    def image_of(self, cluster: str, name: str = "web") -> str:
        workload = self.kube(cluster).get("apps/v1", "Deployment", name)
        return workload["spec"]["template"]["spec"]["containers"][0]["image"]


def _physical(cluster: str) -> str:
    return "canary" if cluster == "dr" else cluster


@pytest.fixture
def project(tmp_path: Path, fleet: Fleet) -> Iterator[FleetProject]:
    namespace = f"f-{uuid.uuid4().hex[:6]}"
    yield FleetProject(Project(tmp_path / "project", "test", namespace, ""), fleet, namespace)
    for name, cluster in fleet.clusters.items():
        namespaces = cluster.client().resources.get(api_version="v1", kind="Namespace")
        for mine in (namespace, f"{namespace}-dr") if name == "canary" else (namespace,):
            with contextlib.suppress(ApiException):  # never made, or going already
                namespaces.delete(name=mine)


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def healthy_at(kube: Kube, name: str) -> datetime:
    """When the Deployment became Available (the API server's clock, whole seconds)."""
    conditions = kube.get("apps/v1", "Deployment", name)["status"]["conditions"]
    available = next(c for c in conditions if c["type"] == "Available")
    assert available["status"] == "True"
    return when(available["lastTransitionTime"])


def created_at(kube: Kube, name: str) -> datetime:
    return when(kube.get("apps/v1", "Deployment", name)["metadata"]["creationTimestamp"])


def results(report: dict) -> dict[str, str]:
    return {name: entry["result"] for name, entry in report["clusters"].items()}


def test_stages_deploy_in_order_and_every_command_works_across_the_clusters(project, image):
    project.write(image)

    up = project.run("up", "test", "-o", "json")

    assert up.code == 0, up.stderr
    assert up.report["stages"] == [["canary"], ["eu-west", "us-east"], ["dr"]]
    assert results(up.report) == dict.fromkeys(["canary", "eu-west", "us-east", "dr"], "deployed")
    assert {n: e["revision"] for n, e in up.report["clusters"].items()} == dict.fromkeys(
        ["canary", "eu-west", "us-east", "dr"], 1
    )
    # Each stage started only once the one before was healthy, by each cluster's clock.
    canary_healthy = healthy_at(project.kube("canary"), "web")
    assert created_at(project.kube("canary"), "db") < canary_healthy
    for region in ("eu-west", "us-east"):
        assert created_at(project.kube(region), "db") >= canary_healthy
    regions_healthy = max(healthy_at(project.kube(r), "web") for r in ("eu-west", "us-east"))
    assert created_at(project.kube("dr"), "db") >= regions_healthy

    # One cluster moves on: status shows each cluster's revision, never one number.
    canary_only = project.run("rollout", "web", "v2", "-e", "test", "--cluster", "canary")
    assert canary_only.code == 0, canary_only.stderr
    assert project.image_of("canary") == image("v2") and project.image_of("eu-west") == image("v1")
    status = project.run("status", "-e", "test")
    assert status.code == 0, status.stderr
    assert status.stdout.splitlines()[0] == (
        "environment test: revision canary 2, eu-west 1, us-east 1, dr 1 (the clusters differ)"
    )
    assert status.stdout.count(" web ") == 4  # one row per cluster and component
    as_json = project.run("status", "-e", "test", "-o", "json").report
    assert {n: e["revision"] for n, e in as_json["clusters"].items()} == {
        "canary": 2,
        "eu-west": 1,
        "us-east": 1,
        "dr": 1,
    }

    # The others catch up; then rollback takes every cluster back to its own previous one.
    everywhere = project.run("rollout", "web", "v2", "-e", "test", "-o", "json")
    assert everywhere.code == 0, everywhere.stderr
    assert results(everywhere.report)["canary"] == "unchanged"
    back = project.run("rollback", "-e", "test", "-o", "json")
    assert back.code == 0, back.stderr
    assert {n: e["report"]["target"] for n, e in back.report["clusters"].items()} == dict.fromkeys(
        ["canary", "eu-west", "us-east", "dr"], 1
    )
    assert {project.image_of(c) for c in ("canary", "eu-west", "us-east", "dr")} == {image("v1")}
    history = project.run("history", "-e", "test", "-o", "json").report["clusters"]
    assert [r["action"] for r in history["canary"]["revisions"]] == ["up", "rollout", "rollback"]
    assert [r["action"] for r in history["eu-west"]["revisions"]] == ["up", "rollout", "rollback"]
    one_number = project.run("rollback", "-e", "test", "--to-revision", "1")
    assert one_number.code == 2 and "choose one with --cluster" in one_number.stderr

    # down goes stage by stage backwards: the canary last.
    down = project.run("down", "test")
    assert down.code == 0, down.stderr
    order = [line.split()[1].rstrip(":") for line in down.stderr.splitlines() if "down (" in line]
    assert order[0] == "dr" and order[-1] == "canary" and len(order) == 4
    assert project.kube("us-east").list("apps/v1", "Deployment") == []


def test_a_failure_in_the_canary_stops_the_rollout_and_restores_the_canary(project, image):
    project.write(image)
    assert project.run("up", "test").code == 0

    broken = project.run("rollout", "web", "v1-crashloop", "-e", "test", "-o", "json")

    assert broken.code == 1, broken.stderr
    assert results(broken.report) == {
        "canary": "rolled-back",
        "eu-west": "untouched",
        "us-east": "untouched",
        "dr": "untouched",
    }
    assert "CrashLoopBackOff" in broken.report["clusters"]["canary"]["note"]
    assert "not touched: eu-west, us-east, dr" in broken.stderr
    assert {project.image_of(c) for c in ("canary", "eu-west", "us-east", "dr")} == {image("v1")}
    for region in ("eu-west", "us-east"):
        assert project.kube(region).list("coordination.k8s.io/v1", "Lease") == []  # released


def test_one_failed_cluster_is_restored_and_all_or_nothing_restores_every_changed_one(
    project, image
):
    project.write(image)
    assert project.run("up", "test").code == 0
    # The manifests move web to v2 everywhere; eu-west's own override breaks it there.
    project.write(image, eu_web="v1-crashloop")
    web = project.root / "manifests" / "overlays" / "test" / "03-deployment-web.yaml"
    web.write_text(web.read_text().replace(image("v1"), image("v2")))

    undone = project.run("up", "test", "--all-or-nothing", "-o", "json")

    assert undone.code == 1, undone.stderr
    assert results(undone.report) == {
        "canary": "rolled-back",
        "eu-west": "rolled-back",
        "us-east": "rolled-back",
        "dr": "untouched",
    }
    assert "undone because eu-west failed" in undone.report["clusters"]["canary"]["note"]
    assert {project.image_of(c) for c in ("canary", "eu-west", "us-east", "dr")} == {image("v1")}

    kept = project.run("up", "test", "-o", "json")

    assert kept.code == 1, kept.stderr
    assert results(kept.report) == {
        "canary": "deployed",
        "eu-west": "rolled-back",
        "us-east": "deployed",
        "dr": "untouched",
    }
    assert "kept the new version: canary, us-east" in kept.stderr
    assert project.image_of("canary") == project.image_of("us-east") == image("v2")
    assert project.image_of("eu-west") == project.image_of("dr") == image("v1")


def test_an_unreachable_cluster_stops_before_any_write_unless_skipped(project, image, tmp_path):
    gone = tmp_path / "gone.kubeconfig"
    gone.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "gone", "user": {"token": "none"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "gone"}}],
            }
        )
    )
    project.write(image, extra={"ap-south": {"context": "gone"}})
    kubeconfig = f"{project.fleet.kubeconfig}:{gone}"

    refused = project.run("up", "test", kubeconfig=kubeconfig)

    assert refused.code == 2, refused.stderr
    assert "cluster ap-south:" in refused.stderr and "--skip-unreachable" in refused.stderr
    for cluster in ("canary", "eu-west", "us-east"):
        namespaces = (
            project.fleet.clusters[cluster]
            .client()
            .resources.get(api_version="v1", kind="Namespace")
        )
        names = [n.metadata.name for n in namespaces.get().items]
        assert project.namespace not in names  # nothing was written anywhere

    skipped = project.run("up", "test", "--skip-unreachable", "-o", "json", kubeconfig=kubeconfig)

    assert skipped.code == 0, skipped.stderr
    assert results(skipped.report) == {
        "canary": "deployed",
        "eu-west": "deployed",
        "us-east": "deployed",
        "dr": "deployed",
        "ap-south": "skipped",
    }
    assert "unreachable" in skipped.report["clusters"]["ap-south"]["note"]
    status = project.run("status", "-e", "test", "--skip-unreachable", kubeconfig=kubeconfig)
    assert status.code == 0 and "skipped: unreachable" in status.stdout


def test_a_second_deploy_of_the_environment_exits_3_and_touches_no_cluster(project, image):
    project.write(image, delay="8s")  # the first run holds every lock for 24 s or more
    canary = project.fleet.clusters["canary"]
    first = start(canary, project.root, "up", "test", kubeconfig=Path(project.fleet.kubeconfig))
    try:
        assert first.stderr is not None
        for line in first.stderr:  # every cluster is locked before stage 1 starts
            if "stage 1:" in line:
                break
        second = project.run("up", "test", "-o", "json")
        assert second.code == 3, second.stderr
        assert "cluster " in second.stderr and "lock" in second.stderr
    finally:
        _, rest = first.communicate(timeout=120)
    assert first.returncode == 0, rest
    history = project.run("history", "-e", "test", "-o", "json").report["clusters"]
    assert {n: len(e["revisions"]) for n, e in history.items()} == dict.fromkeys(
        ["canary", "eu-west", "us-east", "dr"], 1
    )
