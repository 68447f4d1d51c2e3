"""Under API faults every deploy ends one of two ways: exit 0 with the cluster as the
manifests say and a `deployed` record, or exit 1 or 2 with a one-line cause and a
correct record. Never a traceback, a lock still held, or a record left pending."""

from __future__ import annotations

import pytest
from faultproxy import Fault, FaultProxy
from kubetest import Kube
from projects import Project, deployctl
from test_revisions import ORDER, stack

LIFE_CYCLE_FAULTS = {
    "429 with Retry-After": [Fault("status", status=429, retry_after="1", every=5)],
    "500 and 503 bursts": [
        Fault("status", status=503, every=4),
        Fault("status", status=500, every=9),
    ],
    "connection resets": [Fault("reset", every=6)],
    "watches cut, 410 on re-watch": [
        Fault("gone", path=r"watch=true.*resourceVersion=\d", every=2),
        Fault("cut-watch", path=r"watch=true", seconds=2),
    ],
    "2 s latency spikes": [Fault("delay", seconds=2, every=12)],
}


@pytest.fixture(scope="module")
def proxy(cluster):
    started = FaultProxy(cluster.kubeconfig, cluster.context).start()
    yield started
    started.stop()


@pytest.fixture
def project(tmp_path, kube: Kube, cluster) -> Project:
    return Project(tmp_path / "project", "test", kube.namespace, cluster.context)


def records(cluster, project: Project) -> list[str]:
    """The records' results, read past the proxy."""
    rows = deployctl(cluster, project.root, "history", "-e", "test", "-o", "json").report
    return [r["result"] for r in rows["revisions"]]


def through(proxy: FaultProxy, tmp_path, cluster, project: Project, *args: str):
    kubeconfig = proxy.write_kubeconfig(tmp_path / "proxied.kubeconfig")
    return deployctl(cluster, project.root, *args, kubeconfig=kubeconfig, timeout=420)


def settled(result, kube: Kube, cluster, project: Project, codes=(0,)) -> list[str]:
    """Assert what every run must leave behind; return the records' results."""
    assert result.code in codes, result.stderr
    assert "Traceback" not in result.stderr
    assert kube.list("coordination.k8s.io/v1", "Lease") == [], "the lock is still held"
    results = records(cluster, project)
    assert "pending" not in results
    return results


def image_of(kube: Kube, name: str) -> str:
    return kube.get("apps/v1", "Deployment", name)["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]


def available(kube: Kube, name: str) -> bool:
    status = kube.get("apps/v1", "Deployment", name).get("status") or {}
    return status.get("availableReplicas", 0) >= 1 and status.get("updatedReplicas", 0) >= 1


@pytest.mark.parametrize("faults", LIFE_CYCLE_FAULTS.values(), ids=list(LIFE_CYCLE_FAULTS))
def test_the_life_cycle_under_api_faults_ends_correctly(
    faults, proxy, tmp_path, kube, cluster, image, project
):
    proxy.script(*faults)
    try:
        project.write(stack(image), ORDER)
        fresh = through(proxy, tmp_path, cluster, project, "up", "test")
        assert settled(fresh, kube, cluster, project) == ["deployed"]

        update = stack(image)
        update[3]["spec"]["template"]["spec"]["containers"][0]["image"] = image("v2")
        project.write(update, ORDER)
        updated = through(proxy, tmp_path, cluster, project, "up", "test")
        assert settled(updated, kube, cluster, project)[-1] == "deployed"
        assert image_of(kube, "api") == image("v2") and available(kube, "api")

        failing = through(
            proxy,
            tmp_path,
            cluster,
            project,
            "rollout",
            "web",
            "v1-crashloop",
            "-e",
            "test",
            "--timeout",
            "60s",
        )
        assert settled(failing, kube, cluster, project, codes=(1,))[-1] == "rolled-back"
        assert image_of(kube, "web") == image("v1") and available(kube, "web")

        back = through(proxy, tmp_path, cluster, project, "rollback", "-e", "test")
        assert settled(back, kube, cluster, project)[-1] == "deployed"
        assert image_of(kube, "api") == image("v1") and available(kube, "api")

        gone = through(proxy, tmp_path, cluster, project, "down", "test", "--yes")
        settled(gone, kube, cluster, project)
        assert kube.list("apps/v1", "Deployment") == []
    finally:
        proxy.script()
    assert all(fault.fired > 0 for fault in faults)  # every fault really struck


TARGETED = {
    # A renewal whose answer is lost is sent again and meets itself: still ours.
    "lease renewal answer lost": Fault("lose-answer", method="PUT", path=r"/leases/", times=1),
    # The Lease's creation landed but its answer did not: no 15 s wait, no self-takeover.
    "lease creation answer lost": Fault("lose-answer", method="POST", path=r"/leases", times=1),
    # The revision record's save landed but its answer did not: saving again converges.
    "record save answer lost": Fault(
        "lose-answer", method="PATCH", path=r"/secrets/deployctl-test-v", times=2
    ),
    # The prune's deletes are refused for a while: retried, then done.
    "prune deletes refused": Fault("status", status=503, method="DELETE", times=3),
}


@pytest.mark.parametrize("fault", TARGETED.values(), ids=list(TARGETED))
def test_faults_aimed_at_the_lock_the_records_and_the_prune(
    fault, proxy, tmp_path, kube, cluster, image, project
):
    project.write(stack(image, db_delay="7s"), ORDER)  # long enough for a renewal
    proxy.script(fault)
    try:
        first = through(proxy, tmp_path, cluster, project, "up", "test")
        after_first = settled(first, kube, cluster, project)
        without_web = [o for o in stack(image) if o["metadata"]["name"] != "web"]
        project.write(without_web, {"db": [], "api": ["db"]})
        pruning = through(proxy, tmp_path, cluster, project, "up", "test")
    finally:
        proxy.script()

    assert after_first == ["deployed"]
    assert "lost the deploy lock" not in first.stderr and "took over" not in first.stderr
    assert settled(pruning, kube, cluster, project)[-1] == "deployed"
    assert kube.get("apps/v1", "Deployment", "web") is None
    assert fault.fired >= 1


def test_a_record_that_cannot_be_saved_is_exit_1_and_settled_by_the_next_deploy(
    proxy, tmp_path, kube, cluster, image, project
):
    project.write(stack(image), ORDER)
    # The pending record's save lands, its answer is lost, and every retry is refused.
    proxy.script(
        Fault("lose-answer", method="PATCH", path=r"/secrets/deployctl-test-v1", times=1),
        Fault("status", status=503, method="PATCH", path=r"/secrets/deployctl-test-v1"),
    )
    try:
        refused = through(proxy, tmp_path, cluster, project, "up", "test")
    finally:
        proxy.script()
    written = kube.list("apps/v1", "Deployment")
    following = deployctl(cluster, project.root, "up", "test")

    assert refused.code == 1, refused.stderr  # not 2: the record may have been written
    assert "could not record revision 1" in refused.stderr and "Traceback" not in refused.stderr
    assert written == []  # nothing else was written
    assert following.code == 0, following.stderr
    assert records(cluster, project) == ["interrupted", "deployed"]


def test_an_automatic_rollback_that_does_not_restore_is_exit_4_naming_what_runs(
    proxy, tmp_path, kube, cluster, image, project
):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    # The rollout's dry run and apply go through; every write after them is refused.
    proxy.script(Fault("status", status=503, method="PATCH", path=r"/deployments/web", after=2))
    try:
        result = through(
            proxy,
            tmp_path,
            cluster,
            project,
            "rollout",
            "web",
            "v1-crashloop",
            "-e",
            "test",
            "--timeout",
            "30s",
        )
    finally:
        proxy.script()

    assert settled(result, kube, cluster, project, codes=(4,)) == ["deployed", "failed"]
    assert "restoring revision 1 failed too" in result.stderr
    assert f"web runs web={image('v1-crashloop')}" in result.stderr
