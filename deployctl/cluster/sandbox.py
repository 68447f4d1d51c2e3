"""`deployctl cluster up | down | status`: the local sandbox cluster.

A real control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler) started by kwokctl's binary runtime from binaries built by
`binaries.py`; kwok-controller plays the kubelets of three fake nodes by the
stages in `stages/`. Everything kwokctl keeps for a cluster lives under the
deployctl cache (``<cache>/kwok/clusters/<name>``), so `down` removes it all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from deployctl.cluster import binaries, stages, versions
from deployctl.errors import ClusterError

ZONES = ("zone-a", "zone-b", "zone-c")
# Per node; three nodes hold production at its HPA maximums with room to spare.
NODE_CPU = "32"
NODE_MEMORY = "64Gi"
NODE_EPHEMERAL_STORAGE = "200Gi"  # a node's disk: pods that request ephemeral storage fit
NODE_PODS = 110  # kubelet's default; `cluster up --pods-per-node` raises it (the benchmark)
READY_TIMEOUT_S = 120
NODE_LEASE_SECONDS = 10


def context_name(name: str) -> str:
    """The kubeconfig context kwokctl writes for a cluster."""
    return f"kwok-{name}"


def default_kubeconfig() -> Path:
    """Where kubectl would write: the first path of $KUBECONFIG, else ~/.kube/config."""
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(paths[0]).expanduser() if paths else Path.home() / ".kube" / "config"


def _workdir() -> Path:
    return binaries.cache_dir() / "kwok"


def _kwokctl(
    tools: binaries.Toolset, *args: str, check: bool = True
) -> subprocess.CompletedProcess:
    env = dict(os.environ, KWOK_WORKDIR=str(_workdir()))
    # kwokctl's own `kubectl` helpers look it up on PATH: offer the matching one first.
    env["PATH"] = f"{tools.kubectl.parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run([str(tools.kwokctl), *args], env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        detail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-10:])
        raise ClusterError(f"kwokctl {' '.join(args[:2])} failed:\n{detail}")
    return result


@dataclass(frozen=True)
class Kubectl:
    """The kubectl that matches the sandbox's server, bound to one kubeconfig context."""

    binary: Path
    kubeconfig: Path
    context: str

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        command = [
            str(self.binary),
            "--kubeconfig",
            str(self.kubeconfig),
            "--context",
            self.context,
            *args,
        ]
        result = subprocess.run(command, input=stdin, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args[:3])} failed: {result.stderr.strip()}")
        return result.stdout


@dataclass(frozen=True)
class SandboxState:
    name: str
    running: bool
    context: str
    kubeconfig: Path
    detail: str = ""

    def describe(self) -> str:
        if not self.running:
            return f"cluster {self.name}: not running{f' ({self.detail})' if self.detail else ''}"
        where = f"context {self.context} in {self.kubeconfig}"
        return f"cluster {self.name}: running, {where}; {self.detail}"


def _cluster_exists(tools: binaries.Toolset, name: str) -> bool:
    return name in _kwokctl(tools, "get", "clusters", check=False).stdout.split()


def list_clusters() -> list[str]:
    """Every sandbox cluster kwokctl keeps in the cache, running or stopped."""
    tools = binaries.toolset()
    if tools.missing():
        return []
    return _kwokctl(tools, "get", "clusters", check=False).stdout.split()


def _api_ready(kubectl: Kubectl) -> bool:
    try:
        return kubectl.run("get", "--raw", "/readyz", "--request-timeout=5s").strip() == "ok"
    except ClusterError:
        return False


def status(name: str, kubeconfig: Path | None = None) -> SandboxState:
    tools = binaries.toolset()
    kubeconfig = kubeconfig or default_kubeconfig()
    context = context_name(name)
    if tools.missing():
        return SandboxState(name, False, context, kubeconfig, "its binaries are not built yet")
    if not _cluster_exists(tools, name):
        return SandboxState(name, False, context, kubeconfig)
    kubectl = Kubectl(tools.kubectl, kubeconfig, context)
    if not _api_ready(kubectl):
        return SandboxState(
            name, False, context, kubeconfig, "created, but its API server does not answer"
        )
    server = kubectl.run("version", "-o", "yaml")
    server_version = yaml.safe_load(server).get("serverVersion", {}).get("gitVersion", "?")
    nodes = kubectl.run(
        "get",
        "nodes",
        "-o",
        "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Ready')].status}{'\\n'}{end}",
    ).split()
    return SandboxState(
        name,
        True,
        context,
        kubeconfig,
        f"Kubernetes {server_version}, {nodes.count('True')}/{len(nodes)} nodes Ready",
    )


def up(
    name: str,
    *,
    pod_ready_delay: float = 1.0,
    kubeconfig: Path | None = None,
    pods_per_node: int = NODE_PODS,
    progress=binaries._stderr,
) -> str:
    """Start the cluster (a no-op when it runs already); return its context name.

    `pods_per_node` is each node's pod capacity, set when the nodes are created.
    """
    if pods_per_node < 1:
        raise ClusterError(f"pods per node must be at least 1, got {pods_per_node}")
    tools = binaries.ensure_binaries(progress)
    kubeconfig = kubeconfig or default_kubeconfig()
    context = context_name(name)
    kubectl = Kubectl(tools.kubectl, kubeconfig, context)
    exists = _cluster_exists(tools, name)
    if exists and _api_ready(kubectl):
        progress(f"cluster {name} is running already (context {context})")
        return context
    own = Kubectl(tools.kubectl, _workdir() / "clusters" / name / "kubeconfig.yaml", context)
    if exists and _api_ready(own):
        raise ClusterError(
            f"cluster {name} runs, but its context {context} is not in {kubeconfig}; "
            "pass the --kubeconfig it was started with, or `deployctl cluster down` it first"
        )
    started = time.monotonic()
    if exists:
        progress(f"restarting cluster {name}")
        _kwokctl(tools, "start", "cluster", "--name", name, "--wait", f"{READY_TIMEOUT_S}s")
    else:
        progress(
            f"starting cluster {name} (Kubernetes {versions.KUBERNETES}, kwok {versions.KWOK})"
        )
        _create(tools, name, kubeconfig, round(pod_ready_delay * 1000))
    _add_nodes_and_wait(kubectl, pods_per_node)
    progress(f"cluster {name} ready in {time.monotonic() - started:.1f} s; context {context}")
    return context


def _create(tools: binaries.Toolset, name: str, kubeconfig: Path, ready_delay_ms: int) -> None:
    """Create the cluster from a kwokctl config that carries the sandbox's stages."""
    with tempfile.TemporaryDirectory(prefix="deployctl-sandbox-") as tmp:
        config = Path(tmp) / "kwok.yaml"
        config.write_text(_kwokctl_config(tools, ready_delay_ms))
        _kwokctl(
            tools,
            "create",
            "cluster",
            "--name",
            name,
            "--runtime",
            "binary",
            "--config",
            str(config),
            "--kubeconfig",
            str(kubeconfig),
            "--wait",
            f"{READY_TIMEOUT_S}s",
        )


def _add_nodes_and_wait(kubectl: Kubectl, pods_per_node: int) -> None:
    """Apply the nodes and the StorageClass; wait until the nodes are Ready and the
    default ServiceAccount exists."""
    # Client-side apply: a Node's status is kept on create, which server-side apply drops.
    kubectl.run("apply", "-f", "-", stdin=_cluster_objects(pods_per_node))
    kubectl.run("wait", "--for=condition=Ready", "nodes", "--all", f"--timeout={READY_TIMEOUT_S}s")
    kubectl.run(
        "wait",
        "--for=create",
        "serviceaccount/default",
        "-n",
        "default",
        f"--timeout={READY_TIMEOUT_S}s",
    )


def down(name: str, *, kubeconfig: Path | None = None, progress=binaries._stderr) -> None:
    tools = binaries.toolset()
    if tools.missing() or not _cluster_exists(tools, name):
        progress(f"cluster {name} is not running; nothing to do")
        return
    kubeconfig = kubeconfig or default_kubeconfig()
    _kwokctl(tools, "delete", "cluster", "--name", name, "--kubeconfig", str(kubeconfig))
    progress(f"cluster {name} deleted")


def _kwokctl_config(tools: binaries.Toolset, ready_delay_ms: int) -> str:
    kwokctl = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": {
            "runtime": "binary",
            "kubeVersion": versions.KUBERNETES,
            "etcdVersion": versions.ETCD.lstrip("v"),
            "kubeApiserverBinary": str(tools.kube_apiserver),
            "kubeControllerManagerBinary": str(tools.kube_controller_manager),
            "kubeSchedulerBinary": str(tools.kube_scheduler),
            "kubectlBinary": str(tools.kubectl),
            "kwokControllerBinary": str(tools.kwok),
            "etcdBinary": str(tools.etcd),
            "kubeAuthorization": True,
            "kubeAdmission": True,
            "disableQPSLimits": True,
            # Every component listens on loopback only: etcd serves plain HTTP without
            # authentication, and the cluster's Secrets are in it.
            "bindAddress": "127.0.0.1",
            # kwok's identity is new at each start: short node leases let a restarted
            # controller take its nodes back within seconds (kubelet's 40 s, times
            # kwokctl's default heartbeat factor of 5, kept them away for 200 s).
            "heartbeatFactor": 1,
            "nodeLeaseDurationSeconds": NODE_LEASE_SECONDS,
        },
    }
    kwokctl["componentsPatches"] = [
        {
            "name": "kube-scheduler",
            # A pod found unschedulable while a control-plane restart interrupted its
            # volume's binding is retried within seconds, not after five minutes.
            "extraArgs": [{"key": "pod-max-in-unschedulable-pods-duration", "value": "10s"}],
        }
    ]
    documents = [kwokctl, *stages.sandbox_stages(ready_delay_ms)]
    return yaml.safe_dump_all(documents, sort_keys=False)


def _cluster_objects(pods_per_node: int = NODE_PODS) -> str:
    """Three untainted nodes, one per zone, and the default StorageClass."""
    capacity = {
        "cpu": NODE_CPU,
        "memory": NODE_MEMORY,
        "ephemeral-storage": NODE_EPHEMERAL_STORAGE,
        "pods": str(pods_per_node),
    }
    nodes = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": f"sandbox-{zone}",
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/hostname": f"sandbox-{zone}",
                    "topology.kubernetes.io/region": "sandbox",
                    "topology.kubernetes.io/zone": zone,
                    "type": "kwok",
                },
            },
            "status": {
                "allocatable": dict(capacity),
                "capacity": dict(capacity),
                "nodeInfo": {
                    "architecture": "amd64",
                    "operatingSystem": "linux",
                    "kubeletVersion": versions.KUBERNETES,
                    "containerRuntimeVersion": f"kwok://{versions.KWOK}",
                },
            },
        }
        for zone in ZONES
    ]
    storage_class = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": stages.STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "sandbox.deployctl.dev/volume",
        "reclaimPolicy": "Delete",
        # As kind's "standard": claims bind when the first pod using them is scheduled,
        # which also spares the scheduler a race with an unbound immediate claim.
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }
    return yaml.safe_dump_all([*nodes, storage_class], sort_keys=False)


if __name__ == "__main__":  # pragma: no cover - debugging aid
    print(_kwokctl_config(binaries.toolset(), 1000), file=sys.stdout)
