"""`deployctl cluster ... --provider kind`: a real kind cluster, even where nothing can be pulled.

kind runs each Kubernetes node as a Docker container holding systemd,
containerd and a kubelet. Two node images serve it:

- kind's own default image (``kindest/node``, pulled), on a machine with a
  registry to pull from: `cluster up --provider kind` uses it unless a built
  one exists or `--node-image` names another;
- one built here by `cluster build --provider kind`, offline, from source:
  a Debian root filesystem (debootstrap: systemd, containerd, runc from Debian),
  kind's own node files (``images/base/files`` of the kind module, verbatim but
  for `containerd_config`), kubelet/kubeadm/kubectl of the sandbox's Kubernetes
  version, the CNI plugins and local-path-provisioner built through the Go
  module proxy, and every image kubeadm and kind start (control plane, etcd,
  kube-proxy, CoreDNS, pause, the storage provisioner) built locally FROM
  scratch or from that root filesystem and preloaded into containerd, so that
  nothing is pulled. It is tagged with a digest of everything it is made of.

Differences from kind's own setup, all named here:

- kindnetd, kind's CNI, is not served by the module proxy: the built image
  carries a static ptp network (`kindnode/10-deployctl-ptp.conflist`, one
  node's pod range) for the pods;
- kindnetd also enforces NetworkPolicies; on the built image kube-router's
  firewall does (`router`: kube-router of `versions.KUBE_ROUTER`, firewall
  only, iptables and ipset). Its DaemonSet is the image's
  ``/kind/manifests/default-cni.yaml``, which kind applies where its own image
  has kindnetd's, and `up` waits for it to be ready;
- kubeadm v1.34.4 asks for etcd 3.6.5; the image carries the sandbox's etcd
  (`ETCD_IMAGE_TAG`) and the kind config says so;
- the cgroups here are v1, which kubelet 1.34 refuses unless told
  (``failCgroupV1: false``);
- ``--privileged`` cannot work where the bounding set lacks CAP_SYS_RESOURCE
  (`needs_unprivileged_nodes`): kind is then built with its two
  ``--privileged`` flags replaced by `UNPRIVILEGED_NODE_FLAGS`, and the node's
  entrypoint first remounts the cgroup v1 hierarchies writable, which is what
  the flag would have given (`kindnode/entrypoint-unprivileged`).

A kubelet sets three of the host's kernel settings (vm.overcommit_memory,
kernel.panic, kernel.panic_on_oops) from inside the node, as with kind
anywhere; the first `up` records them and the `down` of the last kind
cluster puts them back.

The modules: `binary` (kind itself), `docker` (asking Docker, starting
dockerd), `images` (the images kubeadm and kind start), `nodeimage` (the
offline node image and its digest), `stores` (the stores' images, from Debian's
packages), `sysctls` (the host's kernel settings), `router` (kube-router,
which enforces NetworkPolicies on the offline image);
this one creates, reports on and deletes the cluster.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from deployctl.cluster import binaries, versions
from deployctl.cluster.binaries import Progress
from deployctl.cluster.kind import docker, router, sysctls
from deployctl.cluster.kind.binary import (
    KIND,
    KIND_UNPRIVILEGED,
    UNPRIVILEGED_NODE_FLAGS,
    kind_binary,
    needs_unprivileged_nodes,
)
from deployctl.cluster.kind.docker import ensure_docker
from deployctl.cluster.kind.images import ETCD_IMAGE_TAG, IMAGE_REPOSITORY
from deployctl.cluster.kind.nodeimage import (
    build_node_image,
    built_node_image,
    containerd_config,
    storage_manifest,
)
from deployctl.errors import ClusterError

__all__ = [
    "KIND",
    "KIND_UNPRIVILEGED",
    "UNPRIVILEGED_NODE_FLAGS",
    "KindState",
    "build_node_image",
    "built_node_image",
    "cluster_config",
    "containerd_config",
    "context_name",
    "down",
    "ensure_docker",
    "exists",
    "kind_binary",
    "load_image",
    "needs_unprivileged_nodes",
    "status",
    "storage_manifest",
    "up",
]

READY_TIMEOUT_S = 180


def context_name(name: str) -> str:
    return f"kind-{name}"


def cluster_config(offline: bool) -> str:
    patches = ["kind: KubeletConfiguration\nfailCgroupV1: false\n"]
    config: dict = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4"}
    if offline:
        # kind applies the image's /kind/manifests/default-cni.yaml: kube-router's firewall.
        patches.append(
            f"kind: ClusterConfiguration\netcd:\n  local:\n    imageTag: {ETCD_IMAGE_TAG}\n"
        )
    config["kubeadmConfigPatches"] = patches
    return yaml.safe_dump(config, sort_keys=False)


def _choose_node_image(requested: str | None) -> str | None:
    """The image asked for, else the one built here, else None: kind's own default."""
    if requested:
        return requested
    built = built_node_image()
    return built if docker.image_exists(built) else None


def _kind(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(kind_binary()), *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        detail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise ClusterError(f"kind {' '.join(args[:2])} failed:\n{detail}")
    return result


def exists(name: str) -> bool:
    if not docker.answers():
        return False
    return name in _kind("get", "clusters", check=False).stdout.split()


@dataclass(frozen=True)
class KindState:
    name: str
    running: bool
    context: str

    def describe(self) -> str:
        if self.running:
            return f"kind cluster {self.name} runs (context {self.context})"
        return f"kind cluster {self.name} is not running"


def status(name: str) -> KindState:
    return KindState(name, exists(name), context_name(name))


def up(
    name: str,
    *,
    kubeconfig: Path | None = None,
    node_image: str | None = None,
    progress: Progress = binaries._stderr,
) -> str:
    """Create the kind cluster (if absent) and return when every node is Ready; its context."""
    ensure_docker(progress)
    kubeconfig = kubeconfig or _default_kubeconfig()
    if exists(name):
        _kind("export", "kubeconfig", "--name", name, "--kubeconfig", str(kubeconfig))
        return context_name(name)
    image = _choose_node_image(node_image)
    offline = image is not None and image.startswith(f"{IMAGE_REPOSITORY}/")
    sysctls.record_host_sysctls()
    source = image or f"the node image of kind {versions.KIND}"
    progress(f"creating kind cluster {name} from {source}")
    create = ["create", "cluster", "--name", name, "--kubeconfig", str(kubeconfig)]
    create += ["--wait", f"{READY_TIMEOUT_S}s", *(["--image", image] if image else [])]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="deployctl-kind-") as config:
        config.write(cluster_config(offline))
        config.flush()
        try:
            _kind(*create, "--config", config.name)
        except ClusterError as error:
            if image is None:
                raise ClusterError(
                    f"{error}\nkind's node image could not be pulled? Where no registry can be "
                    "reached, build one first: deployctl cluster build --provider kind"
                ) from error
            raise
    if offline:
        _wait_for_policy_enforcer(name, progress)
    return context_name(name)


def _wait_for_policy_enforcer(name: str, progress: Progress) -> None:
    """Until kube-router's firewall runs on every node: NetworkPolicies are enforced from here.

    Asked with the node's own kubectl, as kind applies the manifest."""
    progress("waiting for kube-router, which enforces NetworkPolicies")
    status = [
        "kubectl",
        "--kubeconfig=/etc/kubernetes/admin.conf",
        f"--namespace={router.NAMESPACE}",
        "rollout",
        "status",
        f"daemonset/{router.DAEMONSET}",
        f"--timeout={READY_TIMEOUT_S}s",
    ]
    result = subprocess.run(
        ["docker", "exec", f"{name}-control-plane", *status], capture_output=True, text=True
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise ClusterError(
            f"kube-router, which enforces NetworkPolicies on kind cluster {name}, "
            f"is not ready: {detail}"
        )


def load_image(name: str, image: str) -> None:
    """`kind load docker-image`: put a local Docker image into every node of the cluster."""
    _kind("load", "docker-image", image, "--name", name)


def down(
    name: str, *, kubeconfig: Path | None = None, progress: Progress = binaries._stderr
) -> None:
    """Delete the kind cluster, put back the host's kernel settings, stop a dockerd we started."""
    answers = docker.answers()
    if answers:
        args = ["delete", "cluster", "--name", name]
        if kubeconfig:
            args += ["--kubeconfig", str(kubeconfig)]
        _kind(*args)
        if _kind("get", "clusters", check=False).stdout.split():
            return  # another kind cluster's kubelet still runs on this host
    sysctls.restore_host_sysctls(progress)
    if answers:
        docker.stop_docker_started_here(progress)


def _default_kubeconfig() -> Path:
    from deployctl.cluster import sandbox

    return sandbox.default_kubeconfig()
