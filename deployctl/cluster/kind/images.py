"""The images kubeadm and kind start, built here under the names they ask for, so none is pulled.

The control plane, etcd, CoreDNS, pause and the storage provisioner are single
binaries FROM scratch; kube-proxy, kube-router (`router`) and the storage helper
are the node's Debian root filesystem (``base``), which carries what they run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from deployctl.cluster import binaries, versions
from deployctl.cluster.binaries import GoBuild, Progress
from deployctl.cluster.kind import docker, router
from deployctl.errors import ClusterError

NODE_BINARIES = GoBuild(
    name="kubernetes-node",
    module="k8s.io/kubernetes",
    version=versions.KUBERNETES,
    binaries=tuple(
        (cmd, f"k8s.io/kubernetes/cmd/{cmd}") for cmd in ("kubelet", "kubeadm", "kube-proxy")
    ),
    ldflags=binaries.KUBERNETES.ldflags,
    replace_staging_modules=True,
)
COREDNS = GoBuild(
    name="coredns",
    module="github.com/coredns/coredns",
    version=versions.COREDNS,
    binaries=(("coredns", "github.com/coredns/coredns"),),
)
LOCAL_PATH_PROVISIONER = GoBuild(
    name="local-path-provisioner",
    module="github.com/rancher/local-path-provisioner",
    version=versions.LOCAL_PATH_PROVISIONER,
    binaries=(("local-path-provisioner", "github.com/rancher/local-path-provisioner"),),
)

ETCD_IMAGE_TAG = f"{versions.ETCD.lstrip('v')}-0"
IMAGE_REPOSITORY = "deployctl.local"
PROVISIONER_IMAGE = f"{IMAGE_REPOSITORY}/local-path-provisioner:{versions.LOCAL_PATH_PROVISIONER}"
# The storage helper runs sh, mkdir and rm: the node's Debian root filesystem, retagged.
HELPER_IMAGE = f"{IMAGE_REPOSITORY}/local-path-helper:{versions.KIND_NODE_DEBIAN}"


def _scratch_image(ref: str, binary: Path, path: str, entrypoint: list[str] | None = None) -> None:
    lines = [
        "FROM scratch",
        f"COPY {binary.name} {path}",
        "ENV PATH=/usr/local/bin:/usr/bin:/bin",
    ]
    if entrypoint:
        lines.append(f"ENTRYPOINT {json.dumps(entrypoint)}")
    docker.build_image(ref, "\n".join(lines) + "\n", {binary.name: binary})


def _pause_binary(workdir: Path) -> Path:
    """kubernetes' own pause.c (build/pause/linux), compiled static as its Makefile does."""
    kubernetes = binaries.download_module(NODE_BINARIES.module, NODE_BINARIES.version, workdir)
    source = Path(kubernetes["Dir"]) / "build/pause/linux/pause.c"
    out = workdir / "pause"
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise ClusterError("a C compiler (gcc) is needed to build the pause image")
    result = subprocess.run(
        [
            cc,
            "-Os",
            "-Wall",
            "-Werror",
            "-static",
            f"-DVERSION=v{versions.PAUSE}",
            "-o",
            out,
            source,
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ClusterError(f"compiling pause failed: {result.stderr}")
    return out


def component_images(base: str, workdir: Path, progress: Progress) -> list[str]:
    """Every image the cluster starts, built here and named as kubeadm and kind ask for them."""
    tools = binaries.ensure_binaries(progress)
    node = binaries.ensure_tool(NODE_BINARIES, progress)
    coredns = binaries.ensure_tool(COREDNS, progress)
    storage = binaries.ensure_tool(LOCAL_PATH_PROVISIONER, progress)
    kube_router = binaries.ensure_tool(router.KUBE_ROUTER, progress)
    k8s = "registry.k8s.io"
    images = {
        f"{k8s}/kube-apiserver:{versions.KUBERNETES}": tools.kube_apiserver,
        f"{k8s}/kube-controller-manager:{versions.KUBERNETES}": tools.kube_controller_manager,
        f"{k8s}/kube-scheduler:{versions.KUBERNETES}": tools.kube_scheduler,
        f"{k8s}/etcd:{ETCD_IMAGE_TAG}": tools.etcd,
    }
    for ref, binary in images.items():
        _scratch_image(ref, binary, f"/usr/local/bin/{binary.name}")
    coredns_ref = f"{k8s}/coredns/coredns:{versions.COREDNS}"
    _scratch_image(coredns_ref, coredns.path(COREDNS, "coredns"), "/coredns", ["/coredns"])
    pause_ref = f"{k8s}/pause:{versions.PAUSE}"
    _scratch_image(pause_ref, _pause_binary(workdir), "/pause", ["/pause"])
    binary = storage.path(LOCAL_PATH_PROVISIONER, "local-path-provisioner")
    _scratch_image(PROVISIONER_IMAGE, binary, "/usr/local/bin/local-path-provisioner")
    # kube-proxy drives iptables: on the node's Debian root filesystem.
    proxy = f"{k8s}/kube-proxy:{versions.KUBERNETES}"
    docker.build_image(
        proxy,
        f"FROM {base}\nCOPY kube-proxy /usr/local/bin/kube-proxy\n",
        {"kube-proxy": node.path(NODE_BINARIES, "kube-proxy")},
    )
    # kube-router's firewall drives iptables and ipset: the same.
    docker.build_image(
        router.IMAGE,
        router.dockerfile(base),
        {
            "kube-router": kube_router.path(router.KUBE_ROUTER, "kube-router"),
            "kube-router-entrypoint": router.entrypoint(),
        },
    )
    docker.run("tag", base, HELPER_IMAGE)
    progress(
        "built the control-plane, etcd, kube-proxy, CoreDNS, pause, storage and kube-router images"
    )
    return [*images, coredns_ref, pause_ref, PROVISIONER_IMAGE, proxy, HELPER_IMAGE, router.IMAGE]
