"""Revisions, rollout, rollback, history, status, down and the deploy lock, end to end."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from kubetest import Kube
from projects import Project, deployctl, deployment, service, start, statefulset

ORDER = {"db": [], "api": ["db"], "web": ["api"]}


@pytest.fixture
def project(tmp_path: Path, kube: Kube, cluster) -> Project:
    return Project(tmp_path / "project", "test", kube.namespace, cluster.context)


def stack(image, db_delay: str | None = None) -> list[dict]:
    return [
        service("db", headless=True),
        statefulset("db", image("v1"), delay=db_delay),
        service("api"),
        deployment("api", image("v1")),
        deployment("web", image("v1")),
    ]


def image_of(kube: Kube, name: str) -> str:
    return kube.get("apps/v1", "Deployment", name)["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]


def history(cluster, project) -> list[tuple[str, str]]:
    rows = deployctl(cluster, project.root, "history", "-e", "test", "-o", "json").report
    return [(r["action"], r["result"]) for r in rows["revisions"]]


@pytest.mark.containers
def test_up_rollout_sticks_fails_back_by_itself_and_rollback_restores(
    project, kube, cluster, image
):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0

    rolled = deployctl(cluster, project.root, "rollout", "api", "v2", "-e", "test")
    assert rolled.code == 0, rolled.stderr
    assert image_of(kube, "api") == image("v2")
    assert history(cluster, project) == [("up", "superseded"), ("rollout", "deployed")]

    # An unchanged up records nothing and keeps the rolled-out image, saying so.
    again = deployctl(cluster, project.root, "up", "test", "-o", "json")
    assert again.code == 0 and again.report["revision"] is None
    assert "keeping Deployment/api/api at" in again.stderr
    assert image_of(kube, "api") == image("v2")

    broken = deployctl(cluster, project.root, "rollout", "api", "v1-crashloop", "-e", "test")
    assert broken.code == 1
    assert "CrashLoopBackOff" in broken.stderr and "rolled back to revision 2" in broken.stderr
    assert image_of(kube, "api") == image("v2")

    back = deployctl(cluster, project.root, "rollback", "-e", "test")
    assert back.code == 0, back.stderr
    assert image_of(kube, "api") == image("v1")
    assert history(cluster, project) == [
        ("up", "superseded"),
        ("rollout", "superseded"),
        ("rollout", "rolled-back"),
        ("rollback", "deployed"),
    ]
    # The rollback restored revision 1's pins (none): the next up keeps v1, changes nothing.
    after = deployctl(cluster, project.root, "up", "test", "-o", "json")
    assert after.report["changed"] is False and image_of(kube, "api") == image("v1")


def test_a_one_component_rollback_leaves_the_others_untouched(project, kube, cluster, image):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    assert deployctl(cluster, project.root, "rollout", "api", "v2", "-e", "test").code == 0
    assert deployctl(cluster, project.root, "rollout", "web", "v2", "-e", "test").code == 0
    web_version = kube.get("apps/v1", "Deployment", "web")["metadata"]["resourceVersion"]

    back = deployctl(cluster, project.root, "rollback", "api", "-e", "test", "-o", "json")

    assert back.code == 0, back.stderr
    assert image_of(kube, "api") == image("v1")
    assert image_of(kube, "web") == image("v2")
    assert kube.get("apps/v1", "Deployment", "web")["metadata"]["resourceVersion"] == web_version


def test_rollback_with_nothing_to_roll_back_to_says_so(project, kube, cluster, image):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0

    result = deployctl(cluster, project.root, "rollback", "-e", "test")

    assert result.code == 2
    assert "nothing to roll back to" in result.stderr


def test_a_bad_version_is_exit_2(project, kube, cluster, image):
    project.write(stack(image), ORDER)
    result = deployctl(cluster, project.root, "rollout", "api", "v2 beta!", "-e", "test")
    assert result.code == 2 and "neither a tag" in result.stderr


def start_up(cluster, project: Project, *extra: str) -> subprocess.Popen:
    return start(cluster, project.root, "up", "test", *extra)


def wait_for_lease(kube: Kube, timeout: float = 60) -> dict:
    return kube.wait_for_one(
        "coordination.k8s.io/v1",
        "Lease",
        "deployctl-test",
        lambda lease: bool((lease.get("spec") or {}).get("holderIdentity")),
        timeout=timeout,
    )


def test_two_concurrent_ups_one_deploys_the_other_exits_3(project, kube, cluster, image):
    project.write(stack(image, db_delay="12s"), ORDER)

    first = start_up(cluster, project)
    wait_for_lease(kube)
    second = deployctl(cluster, project.root, "up", "test")
    _, err = first.communicate(timeout=300)

    assert first.returncode == 0, err
    assert second.code == 3
    assert "locked by" in second.stderr and "pid" in second.stderr and "since" in second.stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_up_releases_the_lock_and_the_next_up_goes_at_once(
    project, kube, cluster, image, sig, code
):
    project.write(stack(image, db_delay="60s"), ORDER)
    running = start_up(cluster, project)
    wait_for_lease(kube)
    kube.wait_for_one("apps/v1", "StatefulSet", "db", lambda s: True, timeout=60)

    running.send_signal(sig)
    _, err = running.communicate(timeout=60)

    assert running.returncode == code, err
    assert history(cluster, project) == [("up", "interrupted")]
    project.write(stack(image), ORDER)
    following = deployctl(cluster, project.root, "up", "test")
    assert following.code == 0, following.stderr
    assert "took over" not in following.stderr


def test_a_killed_holder_is_taken_over_after_its_lease_expires(project, kube, cluster, image):
    project.write(stack(image, db_delay="60s"), ORDER)
    running = start_up(cluster, project)
    wait_for_lease(kube)
    kube.wait_for_one("apps/v1", "StatefulSet", "db", lambda s: True, timeout=60)
    running.send_signal(signal.SIGKILL)
    running.communicate(timeout=30)

    project.write(stack(image), ORDER)
    started = time.monotonic()
    at_once = deployctl(cluster, project.root, "up", "test")
    refused_after = time.monotonic() - started
    following = deployctl(cluster, project.root, "up", "test", "--wait-lock", "60s")

    # Its lease is live until it expires by the API server's clock: exit 3 at once...
    assert at_once.code == 3 and "locked by" in at_once.stderr
    assert refused_after < 10
    # ...and a deploy that waits takes it over once it has expired.
    assert following.code == 0, following.stderr
    assert "took over the lock from" in following.stderr
    # The killed deploy's record is settled as interrupted; it blocks nothing.
    assert history(cluster, project) == [("up", "interrupted"), ("up", "deployed")]


def test_a_deploy_that_loses_its_lock_stops_and_exits_1(project, kube, cluster, image):
    project.write(stack(image, db_delay="60s"), ORDER)
    running = start_up(cluster, project)
    wait_for_lease(kube)

    kube.delete("coordination.k8s.io/v1", "Lease", "deployctl-test")
    _, err = running.communicate(timeout=60)

    assert running.returncode == 1, err
    assert "lost the deploy lock" in err
    assert kube.get("apps/v1", "Deployment", "api") is None  # nothing written after that


def test_status_reports_health_and_exits_1_when_unhealthy(project, kube, cluster, image):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    healthy = deployctl(cluster, project.root, "status", "-e", "test", "-o", "json")
    assert healthy.code == 0 and healthy.report["healthy"] is True

    deployctl(
        cluster, project.root, "rollout", "web", "v1-crashloop", "-e", "test", "--no-rollback"
    )
    broken = deployctl(cluster, project.root, "status", "-e", "test")

    assert broken.code == 1
    assert "CrashLoopBackOff" in broken.stdout and "web" in broken.stdout


@pytest.mark.containers
def test_down_removes_workloads_and_keeps_volumes_and_records(project, kube, cluster, image):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    assert kube.list("v1", "PersistentVolumeClaim")

    result = deployctl(cluster, project.root, "down", "test")

    assert result.code == 0, result.stderr
    assert kube.list("apps/v1", "Deployment") == []
    assert kube.list("apps/v1", "StatefulSet") == []
    assert kube.list("v1", "Service") == []
    assert [c["metadata"]["name"] for c in kube.list("v1", "PersistentVolumeClaim")] == [
        "data-db-0"
    ]
    assert history(cluster, project) == [("up", "deployed")]
    # The reverse order: web and api went before the store they need.
    lines = [line for line in result.stderr.splitlines() if "removing" in line]
    assert [line.split()[-1] for line in lines] == ["web", "api", "db"]


@pytest.mark.containers
def test_rollback_replaces_statefulset_pods_stuck_on_a_failed_revision(
    project, kube, cluster, image
):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    failed = deployctl(
        cluster,
        project.root,
        "rollout",
        "db",
        "v1-crashloop",
        "-e",
        "test",
        "--no-rollback",
        "--timeout",
        "2m",
    )
    assert failed.code == 1
    stuck = kube.get("v1", "Pod", "db-0")
    assert stuck["spec"]["containers"][0]["image"] == image("v1-crashloop")

    back = deployctl(cluster, project.root, "rollback", "db", "-e", "test")

    assert back.code == 0, back.stderr
    assert "replaced pod db-0, stuck on a failed revision" in back.stderr
    pod = kube.get("v1", "Pod", "db-0")
    assert pod["spec"]["containers"][0]["image"] == image("v1")
    assert pod["metadata"]["uid"] != stuck["metadata"]["uid"]


def test_down_with_delete_namespace_deletes_it_under_the_lock(project, kube, cluster, image):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0

    result = deployctl(cluster, project.root, "down", "test", "--delete-namespace")

    assert result.code == 0, result.stderr
    assert f"namespace {kube.namespace} deleted" in result.stderr
    # Deleted while the lock was held: no release failed, no lost lock was reported.
    assert "could not release" not in result.stderr and "lost" not in result.stderr
    namespace = kube.resource("v1", "Namespace").get(name=kube.namespace).to_dict()
    assert namespace["metadata"].get("deletionTimestamp")
