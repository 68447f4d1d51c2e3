"""NetworkPolicies are enforced on kind: a default deny and one allow, seen from three clients.

On deployctl's offline node image kube-router's firewall enforces them
(deployctl/cluster/kind/router.py); on kind's published image kindnetd would.
The server is the stand-in (HTTP on 8080); the clients are the offline image's
storage helper (Debian: bash's /dev/tcp, coreutils' timeout), which is preloaded
there, so the test needs that image and is skipped on another.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from functools import partial

import pytest
from kubernetes.client.exceptions import ApiException
from kubetest import Cluster, Kube, pod_ready

from deployctl.cluster import binaries
from deployctl.cluster.kind import router
from deployctl.cluster.kind.images import HELPER_IMAGE

pytestmark = pytest.mark.kind_only

PORT = 8080


def pod(name: str, labels: dict, image: str, command: list[str] | None = None) -> dict:
    container: dict = {"name": "main", "image": image, "imagePullPolicy": "IfNotPresent"}
    if command:
        container["command"] = command
    else:  # the stand-in: Ready once it listens
        container["readinessProbe"] = {"tcpSocket": {"port": PORT}, "periodSeconds": 1}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 0},
    }


def client_pod(name: str, labels: dict) -> dict:
    return pod(name, labels, HELPER_IMAGE, ["sleep", "infinity"])


def connects(cluster: Cluster, namespace: str, name: str, ip: str) -> bool:
    """Whether a TCP connection from the pod to ip:PORT is accepted within 2 s."""
    result = subprocess.run(
        [
            str(binaries.toolset().kubectl),
            f"--kubeconfig={cluster.kubeconfig}",
            f"--context={cluster.context}",
            f"--namespace={namespace}",
            "exec",
            name,
            "--",
            "timeout",
            "2",
            "bash",
            "-c",
            f"exec 3<>/dev/tcp/{ip}/{PORT}",
        ],
        capture_output=True,
        text=True,
    )
    # 124: timeout's own; 1: bash's, connection refused (kube-router REJECTs).
    assert result.returncode in (0, 1, 124), result.stderr
    return result.returncode == 0


def eventually(check, expected: bool, timeout: float) -> bool:
    """Poll check() until it returns `expected` or the time is up; its last answer."""
    deadline = time.monotonic() + timeout
    while (answer := check()) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    return answer


def test_a_default_deny_and_an_allow_are_enforced(cluster: Cluster, client, kube: Kube) -> None:
    daemonsets = client.resources.get(api_version="apps/v1", kind="DaemonSet")
    try:
        daemonsets.get(name=router.DAEMONSET, namespace=router.NAMESPACE)
    except ApiException as error:
        if error.status != 404:
            raise
        pytest.skip("not deployctl's offline node image (kindnetd enforces policies there)")

    namespaces = client.resources.get(api_version="v1", kind="Namespace")
    other = Kube(client, f"{kube.namespace[:50]}-other-{uuid.uuid4().hex[:4]}")
    namespaces.create(
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other.namespace}}
    )
    try:
        kube.create(pod("server", {"app": "server"}, "deployctl.local/standin:v1"))
        kube.create(client_pod("allowed", {"role": "client"}))
        kube.create(client_pod("unlabelled", {}))
        other.create(client_pod("elsewhere", {"role": "client"}))
        pods = kube.wait_for(
            "v1", "Pod", lambda ps: len(ps) == 3 and all(map(pod_ready, ps)), timeout=60
        )
        other.wait_for("v1", "Pod", lambda ps: len(ps) == 1 and pod_ready(ps[0]), timeout=60)
        ip = next(p["status"]["podIP"] for p in pods if p["metadata"]["name"] == "server")
        from_allowed = partial(connects, cluster, kube.namespace, "allowed", ip)
        from_unlabelled = partial(connects, cluster, kube.namespace, "unlabelled", ip)
        from_elsewhere = partial(connects, cluster, other.namespace, "elsewhere", ip)

        # Without a policy, everyone gets through: what follows is the policies' doing.
        assert eventually(from_unlabelled, True, 10), "no connection even without a policy"
        assert from_elsewhere() and from_allowed()

        kube.create(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny-ingress"},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
            }
        )
        kube.create(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "server-from-clients"},
                "spec": {
                    "podSelector": {"matchLabels": {"app": "server"}},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                            "ports": [{"protocol": "TCP", "port": PORT}],
                        }
                    ],
                },
            }
        )

        assert not eventually(from_unlabelled, False, 20), "the default deny is not enforced"
        assert from_allowed(), "the allowed client is refused"
        # A podSelector alone means this namespace: the same label elsewhere is refused.
        assert not from_elsewhere(), "a client of another namespace gets through"
        assert not from_unlabelled()
    finally:
        namespaces.delete(name=other.namespace)
