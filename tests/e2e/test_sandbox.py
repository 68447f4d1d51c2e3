"""The local cluster is a real Kubernetes API with workloads that behave like real ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kubetest import Kube, deployment_complete, pod_ready, waiting_reasons

from deployctl.cluster import binaries, sandbox, versions

# The same checks on kind: what the simulated pods mimic, real ones do.
pytestmark = pytest.mark.containers

APPS = "apps/v1"
PROBE = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 2}


def deployment(name: str, image: str, replicas: int = 3) -> dict:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": APPS,
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "app", "image": image, "readinessProbe": PROBE}],
                    "terminationGracePeriodSeconds": 1,
                },
            },
        },
    }


def test_deployment_rolls_out_three_ready_replicas(kube: Kube, image) -> None:
    kube.create(deployment("web", image("v1")))

    done = kube.wait_for_one(APPS, "Deployment", "web", deployment_complete, timeout=60)

    assert done["status"]["availableReplicas"] == 3
    replica_sets = kube.list(APPS, "ReplicaSet", label_selector="app.kubernetes.io/name=web")
    assert len(replica_sets) == 1
    pods = kube.list("v1", "Pod", label_selector="app.kubernetes.io/name=web")
    assert len(pods) == 3
    assert all(pod_ready(p) and p["status"]["phase"] == "Running" for p in pods)
    assert all(p["status"].get("podIP") for p in pods)


def test_image_change_creates_second_replicaset_and_old_pods_go_away(kube: Kube, image) -> None:
    kube.create(deployment("web", image("v1")))
    kube.wait_for_one(APPS, "Deployment", "web", deployment_complete, timeout=60)

    kube.patch(
        APPS,
        "Deployment",
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image("v2")}]}}}},
    )
    kube.wait_for_one(APPS, "Deployment", "web", deployment_complete, timeout=90)

    replica_sets = kube.list(APPS, "ReplicaSet", label_selector="app.kubernetes.io/name=web")
    assert len(replica_sets) == 2
    by_image = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in replica_sets}
    assert by_image[image("v1")]["spec"]["replicas"] == 0
    assert by_image[image("v2")]["status"]["readyReplicas"] == 3
    # Old pods are really deleted, not left Terminating.
    pods = kube.wait_for(
        "v1",
        "Pod",
        lambda pods: len(pods) == 3,
        label_selector="app.kubernetes.io/name=web",
        what="only the three new pods",
        timeout=60,
    )
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {image("v2")}


def test_statefulset_with_volume_claims_gets_bound_pvcs_and_ready_pods(kube: Kube, image) -> None:
    labels = {"app.kubernetes.io/name": "db"}
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db"},
            "spec": {"clusterIP": "None", "selector": labels, "ports": [{"port": 5432}]},
        }
    )
    kube.create(
        {
            "apiVersion": APPS,
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "serviceName": "db",
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "db",
                                "image": image("v1"),
                                "readinessProbe": PROBE,
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            }
                        ]
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        }
    )

    kube.wait_for_one(
        APPS,
        "StatefulSet",
        "db",
        lambda s: (s.get("status") or {}).get("readyReplicas") == 2,
        timeout=90,
    )

    claims = kube.list("v1", "PersistentVolumeClaim")
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-db-0", "data-db-1"]
    assert {c["status"]["phase"] for c in claims} == {"Bound"}
    assert all(c["spec"]["storageClassName"] for c in claims)  # the default class was applied


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("v1-crashloop", {"CrashLoopBackOff"}),
        ("v1-pullerror", {"ErrImagePull", "ImagePullBackOff"}),
    ],
)
def test_failure_marker_puts_container_in_waiting_state(kube: Kube, image, tag, expected) -> None:
    kube.create(deployment("broken", image(tag), replicas=1))

    pods = kube.wait_for(
        "v1",
        "Pod",
        lambda pods: len(pods) == 1 and bool(waiting_reasons(pods[0]) & expected),
        label_selector="app.kubernetes.io/name=broken",
        what=f"a pod waiting with {expected}",
        timeout=90,
    )

    assert not pod_ready(pods[0])
    if tag.endswith("-pullerror"):
        assert pods[0]["status"]["phase"] == "Pending"


def test_unready_marker_runs_but_never_becomes_ready(kube: Kube, image) -> None:
    kube.create(deployment("unready", image("v1-unready"), replicas=1))

    pods = kube.wait_for(
        "v1",
        "Pod",
        lambda pods: len(pods) == 1 and (pods[0].get("status") or {}).get("phase") == "Running",
        label_selector="app.kubernetes.io/name=unready",
        what="a running pod",
        timeout=90,
    )
    assert not pod_ready(pods[0])
    # A correct sandbox keeps it unready: the Deployment never reports it available.
    with pytest.raises(AssertionError, match="timed out"):
        kube.wait_for_one(
            APPS,
            "Deployment",
            "unready",
            lambda d: (d.get("status") or {}).get("availableReplicas", 0) >= 1,
            timeout=8,
        )


@pytest.mark.sandbox_only
def test_crashloop_job_pod_fails_and_clean_job_completes(kube: Kube, image) -> None:
    def job(name: str, tag: str) -> dict:
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "task", "image": image(tag)}],
                    }
                },
            },
        }

    kube.create(job("good", "v1"))
    kube.create(job("bad", "v1-crashloop"))

    def condition(kind: str):
        return lambda j: any(
            c["type"] == kind and c["status"] == "True"
            for c in (j.get("status") or {}).get("conditions") or []
        )

    kube.wait_for_one("batch/v1", "Job", "good", condition("Complete"), timeout=60)
    kube.wait_for_one("batch/v1", "Job", "bad", condition("Failed"), timeout=60)


@pytest.mark.sandbox_only
def test_three_untainted_nodes_in_three_zones_with_room_for_production(client) -> None:
    nodes = [n.to_dict() for n in client.resources.get(api_version="v1", kind="Node").get().items]

    assert len(nodes) == 3
    assert len({n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes}) == 3
    assert all(not n["spec"].get("taints") for n in nodes)
    cpu = sum(int(n["status"]["allocatable"]["cpu"]) for n in nodes)
    memory_gi = sum(int(n["status"]["allocatable"]["memory"].removesuffix("Gi")) for n in nodes)
    assert cpu >= 64
    assert memory_gi >= 128


@pytest.mark.sandbox_only
def test_kubectl_version_shows_the_real_server_version(cluster) -> None:
    kubectl = binaries.toolset().kubectl
    out = subprocess.run(
        [
            str(kubectl),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--context",
            cluster.context,
            "version",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert f"Server Version: {versions.KUBERNETES}" in out
    assert f"Client Version: {versions.KUBERNETES}" in out


@pytest.mark.sandbox_only
def test_cluster_up_on_a_running_cluster_is_a_no_op(cluster) -> None:
    env = dict(os.environ)
    command = [sys.executable, "-m", "deployctl", "cluster"]
    cluster_name = cluster.context.removeprefix("kwok-")
    name = ["--name", cluster_name, "--kubeconfig", str(cluster.kubeconfig)]

    up = subprocess.run([*command, "up", *name], capture_output=True, text=True, env=env)
    state = subprocess.run([*command, "status", *name], capture_output=True, text=True, env=env)

    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == cluster.context
    assert "running already" in up.stderr
    assert state.returncode == 0, state.stderr
    assert "3/3 nodes Ready" in state.stdout


def _listening_sockets() -> dict[str, str]:
    """Socket inode -> local address of every listening TCP socket on this machine."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    found[fields[9]] = fields[1].split(":")[0]
    return found


def _is_loopback(hex_address: str) -> bool:
    if len(hex_address) == 8:  # IPv4, little-endian: 0100007F is 127.0.0.1
        return bytes.fromhex(hex_address)[::-1][0] == 127
    return hex_address == "00000000000000000000000001000000"  # ::1


@pytest.mark.sandbox_only
def test_no_sandbox_process_listens_beyond_the_loopback_interface(cluster) -> None:
    name = cluster.context.removeprefix("kwok-")
    workdir = str(sandbox._workdir() / "clusters" / name) + "/"
    sockets = _listening_sockets()
    exposed = []
    processes = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if workdir not in command:
                continue
            processes += 1
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inode = target[len("socket:[") : -1]
                    if inode in sockets and not _is_loopback(sockets[inode]):
                        exposed.append(f"{command.split()[0]} on {sockets[inode]}")
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue

    assert processes >= 5  # etcd, apiserver, controller-manager, scheduler, kwok
    assert exposed == []
