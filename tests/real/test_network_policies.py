"""The stack's NetworkPolicies, enforced (kube-router's firewall on the kind node).

The flows the stack needs work: the stack is healthy and carries tasks (the other
tests). Here: the stores' ports answer their peers, and refuse a pod in another
namespace and a pod of the stack's namespace without the allowed labels.
"""

from __future__ import annotations

import pytest
import yaml

from tests.real.stack import Stack, eventually

STORES = {"postgresql": 5432, "redis": 6379, "rabbitmq": 5672}
PEERS = {"postgresql": "postgresql-1", "redis": "redis-1", "rabbitmq": "rabbitmq-1"}
TARGET = {"postgresql": "postgresql-0", "redis": "redis-0", "rabbitmq": "rabbitmq-0"}


def connects(stack: Stack, pod: str, container: str, host: str, port: int, namespace: str) -> bool:
    """A TCP connection within 3 s, from bash's /dev/tcp in the pod."""
    script = f"timeout 3 bash -c '</dev/tcp/{host}/{port}' && echo open || echo closed"
    out = stack.kubectl(
        "exec", "-n", namespace, pod, "-c", container, "--", "sh", "-c", script, timeout=30
    )
    return out.strip() == "open"


def probe_pod(stack: Stack, name: str, namespace: str, labels: dict[str, str]) -> None:
    """A pod of the PostgreSQL image (it has bash) that sleeps, under the restricted profile."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 70,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "probe",
                    "image": stack.image("postgresql", "postgresql"),
                    "imagePullPolicy": "Never",
                    "command": ["sleep", "3600"],
                    "resources": {"requests": {"cpu": "5m", "memory": "16Mi"}},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    stack.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(pod))
    eventually(
        lambda: stack.json("get", "pod", name, "-n", namespace)["status"].get("phase") == "Running",
        timeout=60,
        what=f"probe pod {namespace}/{name}",
    )


@pytest.fixture(scope="module")
def outsiders(stack: Stack):
    stack.kubectl("create", "namespace", "netcheck", check=False)
    probe_pod(stack, "outsider", "netcheck", {"app": "netcheck"})
    probe_pod(stack, "unlabelled", stack.namespace, {"app": "netcheck"})
    yield {"netcheck": "outsider", stack.namespace: "unlabelled"}
    stack.kubectl("delete", "namespace", "netcheck", "--wait=false", check=False)
    stack.kubectl("delete", "pod", "unlabelled", "--wait=false", check=False)


@pytest.mark.parametrize("store", sorted(STORES))
def test_a_store_answers_its_peer_and_refuses_others(
    stack: Stack, outsiders: dict[str, str], store: str
) -> None:
    port = STORES[store]
    host = f"{TARGET[store]}.{store}-headless.{stack.namespace}.svc.cluster.local"
    # The probe itself works: the store's peer reaches the port (the policies allow it).
    assert connects(stack, PEERS[store], store, host, port, stack.namespace), host
    for namespace, pod in outsiders.items():
        assert not connects(stack, pod, "probe", host, port, namespace), (
            f"{namespace}/{pod} reached {store} on {port}"
        )
