"""Migration Jobs: run to completion before their component changes, once per template.

A Job annotated `deployctl.dev/migration: "true"` belongs to its component (by the
component label) and runs first: the component's Deployment is applied only once the
Job is complete; a failed Job fails the component with its logs and events, and nothing
else of it changes. A Job whose template is unchanged is not run again; a changed one is
deleted, waited for until gone, and created again. `rollout` changes the migration's
image with the application's.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from kubetest import Kube
from projects import Project, deployctl, deployment, labels, service, statefulset

ORDER = {"db": [], "api": ["db"], "web": ["api"]}


@pytest.fixture
def project(tmp_path: Path, kube: Kube, cluster) -> Project:
    return Project(tmp_path / "project", "test", kube.namespace, cluster.context)


def migration(component: str, image: str) -> dict:
    name = f"{component}-migrate"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": labels(component, name),
            "annotations": {"deployctl.dev/migration": "true"},
        },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels(component, name)},
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "migrate", "image": image}],
                },
            },
        },
    }


def stack(image, api: str = "v1", migrate: str | None = None) -> list[dict]:
    return [
        service("db", headless=True),
        statefulset("db", image("v1"), claim=False),
        migration("api", image(migrate or api)),
        service("api"),
        deployment("api", image(api)),
        deployment("web", image("v1")),
    ]


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def api_image(kube: Kube) -> str:
    spec = kube.get("apps/v1", "Deployment", "api")["spec"]["template"]["spec"]
    return spec["containers"][0]["image"]


def replica_sets(kube: Kube) -> list[dict]:
    return kube.list("apps/v1", "ReplicaSet", label_selector="app.kubernetes.io/name=api")


def test_a_migration_completes_before_its_component_is_applied_and_runs_once(
    project, kube, cluster, image
):
    project.write(stack(image), ORDER)

    first = deployctl(cluster, project.root, "up", "test", "-o", "json")

    assert first.code == 0, first.stderr
    job = kube.get("batch/v1", "Job", "api-migrate")
    api = kube.get("apps/v1", "Deployment", "api")
    assert when(job["status"]["completionTime"]) <= when(api["metadata"]["creationTimestamp"])
    assert "api: migration complete (Job api-migrate); applying the rest" in first.stderr
    assert first.report["components"]["api"]["state"] == "healthy"

    again = deployctl(cluster, project.root, "up", "test", "-o", "json")

    assert again.code == 0, again.stderr
    assert again.report["changed"] is False
    assert kube.get("batch/v1", "Job", "api-migrate")["metadata"]["uid"] == job["metadata"]["uid"]


def test_a_failed_migration_fails_its_component_before_any_of_it_changes(
    project, kube, cluster, image
):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    web = kube.get("apps/v1", "Deployment", "web")["metadata"]["resourceVersion"]
    project.write(stack(image, api="v2", migrate="v2-crashloop"), ORDER)

    broken = deployctl(cluster, project.root, "up", "test", "-o", "json")

    assert broken.code == 1
    api = broken.report["components"]["api"]
    assert api["state"] == "failed"
    assert "api: migration failed: Job api-migrate" in api["message"]
    assert api_image(kube) == image("v1") and len(replica_sets(kube)) == 1
    assert broken.report["components"]["web"]["state"] == "not-started"
    assert kube.get("apps/v1", "Deployment", "web")["metadata"]["resourceVersion"] == web

    # The same failed template is run again by the next deploy (the cause may be fixed).
    fixed = deployctl(cluster, project.root, "up", "test", "-o", "json")
    assert fixed.code == 1
    project.write(stack(image, api="v2"), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    assert api_image(kube) == image("v2")


def test_rollout_runs_the_new_version_s_migration_first_and_records_it(
    project, kube, cluster, image
):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    old = kube.get("batch/v1", "Job", "api-migrate")["metadata"]["uid"]

    rolled = deployctl(cluster, project.root, "rollout", "api", "v2", "-e", "test", "-o", "json")

    assert rolled.code == 0, rolled.stderr
    job = kube.get("batch/v1", "Job", "api-migrate")
    assert job["metadata"]["uid"] != old
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == image("v2")
    newest = max(replica_sets(kube), key=lambda rs: rs["metadata"]["creationTimestamp"])
    assert when(job["status"]["completionTime"]) <= when(newest["metadata"]["creationTimestamp"])
    assert api_image(kube) == image("v2")
    actions = {row["object"].split(" ")[0]: row["action"] for row in rolled.report["objects"]}
    assert actions["Job/api-migrate"] == "replace"
    rows = deployctl(cluster, project.root, "history", "-e", "test", "-o", "json").report
    ran = [[(m["job"], m["images"]) for m in r["migrations"]] for r in rows["revisions"]]
    assert ran == [[("api-migrate", [image("v1")])], [("api-migrate", [image("v2")])]]

    failed = deployctl(cluster, project.root, "rollout", "api", "v3-crashloop", "-e", "test")

    assert failed.code == 1
    assert "migration failed: Job api-migrate" in failed.stderr
    assert api_image(kube) == image("v2")  # v2 kept serving; rolled back by itself
    assert len(replica_sets(kube)) == 2
    # The failed Job stays (its logs), and is not the running revision's health.
    status = deployctl(cluster, project.root, "status", "-e", "test")
    assert status.code == 0, status.stdout
    assert "ran another revision's migration" in status.stdout


def test_a_rollback_past_a_migration_says_so_and_rolls_back_only_the_application(
    project, kube, cluster, image
):
    project.write(stack(image), ORDER, profile={"protected": True})
    assert deployctl(cluster, project.root, "up", "test", "--yes").code == 0
    assert deployctl(cluster, project.root, "rollout", "api", "v2", "-e", "test", "--yes").code == 0
    job = kube.get("batch/v1", "Job", "api-migrate")["metadata"]["uid"]

    # Protected, no terminal: consent is --past-migrations, and nothing changes without it.
    refused = deployctl(cluster, project.root, "rollback", "-e", "test", "--yes")

    assert refused.code == 2
    assert "past migration Job api-migrate of api (revision 2) needs consent" in refused.stderr
    assert "add --past-migrations" in refused.stderr
    assert api_image(kube) == image("v2")

    back = deployctl(cluster, project.root, "rollback", "-e", "test", "--yes", "--past-migrations")

    assert back.code == 0, back.stderr
    assert "returns to code older than migration Job api-migrate of api (revision 2)" in (
        back.stderr
    )
    assert "only the application goes back" in back.stderr
    assert api_image(kube) == image("v1")
    live = kube.get("batch/v1", "Job", "api-migrate")
    assert live["metadata"]["uid"] == job  # the schema's migration is neither undone nor rerun
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == image("v2")
