"""The offline node image: a Debian root filesystem, kind's node files, the binaries, and
every image of `images` preloaded into its containerd; tagged with a digest of its inputs."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from importlib import resources
from pathlib import Path

from deployctl.cluster import binaries, versions
from deployctl.cluster.binaries import GoBuild, Progress
from deployctl.cluster.kind import binary, docker, router
from deployctl.cluster.kind.images import (
    HELPER_IMAGE,
    IMAGE_REPOSITORY,
    NODE_BINARIES,
    PROVISIONER_IMAGE,
    component_images,
)
from deployctl.errors import ClusterError

_PLUGINS = "github.com/containernetworking/plugins/plugins"
CNI_PLUGINS = GoBuild(
    name="cni-plugins",
    module="github.com/containernetworking/plugins",
    version=versions.CNI_PLUGINS,
    binaries=(
        ("ptp", f"{_PLUGINS}/main/ptp"),
        ("loopback", f"{_PLUGINS}/main/loopback"),
        ("host-local", f"{_PLUGINS}/ipam/host-local"),
        ("portmap", f"{_PLUGINS}/meta/portmap"),
    ),
)

DEBIAN_PACKAGES = (
    "systemd,systemd-sysv,dbus,ca-certificates,iptables,iproute2,conntrack,kmod,"
    "mount,util-linux,procps,containerd,runc,ipset"
)
NODE_ENTRYPOINT = [
    "/usr/local/bin/entrypoint-unprivileged",
    "/usr/local/bin/entrypoint",
    "/sbin/init",
]
# Bump when the recipe below changes in a way the digest of its inputs does not show.
RECIPE = 1

# deployctl's own files in the node image (deployctl/cluster/kindnode/)
NODE_FILES = (
    "entrypoint-unprivileged",
    "10-deployctl-ptp.conflist",
    "containerd-offline.toml",
    *router.FILES,
)


def _node_file(name: str) -> bytes:
    return (resources.files("deployctl.cluster") / "kindnode" / name).read_bytes()


def _recipe_digest() -> str:
    inputs = [
        RECIPE,
        versions.KUBERNETES,
        versions.ETCD,
        versions.KIND,
        versions.KIND_NODE_DEBIAN,
        versions.COREDNS,
        versions.PAUSE,
        versions.CNI_PLUGINS,
        versions.LOCAL_PATH_PROVISIONER,
        versions.KUBE_ROUTER,
        DEBIAN_PACKAGES,
        *binary.UNPRIVILEGED_NODE_FLAGS,
        *(_node_file(name).decode() for name in NODE_FILES),
    ]
    return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:12]


def built_node_image() -> str:
    """The reference `cluster build --provider kind` tags its node image with."""
    return f"{IMAGE_REPOSITORY}/kind-node:{versions.KUBERNETES}-{_recipe_digest()}"


def _base_image(progress: Progress) -> str:
    digest = hashlib.sha256(DEBIAN_PACKAGES.encode()).hexdigest()[:8]
    ref = f"{IMAGE_REPOSITORY}/kind-base:{versions.KIND_NODE_DEBIAN}-{digest}"
    if docker.image_exists(ref):
        return ref
    docker.debootstrap_image(
        ref,
        versions.KIND_NODE_DEBIAN,
        "minbase",
        DEBIAN_PACKAGES,
        ["ENV container=docker"],
        "the node image",
        progress,
    )
    return ref


def storage_manifest(source: str, provisioner: str, helper: str) -> str:
    """kind's own local-path-provisioner manifest, from the Go source of
    pkg/build/nodeimage/const_storage.go, with our images in it."""
    opening = "const defaultStorageManifest = `"
    start = source.index(opening) + len(opening)
    body = source[start : source.rindex("\n`") + 1]
    body = body.replace("` + storageProvisionerImage + `", provisioner)
    body = body.replace("` + storageHelperImage + `", helper)
    if "`" in body:
        raise ClusterError("kind's storage manifest changed shape; update storage_manifest")
    return body


def _node_files(kind_dir: Path, workdir: Path, progress: Progress) -> dict[str, Path | bytes]:
    node = binaries.ensure_tool(NODE_BINARIES, progress)
    cni = binaries.ensure_tool(CNI_PLUGINS, progress)
    tools = binaries.toolset()
    files: dict[str, Path | bytes] = {}
    base_files = kind_dir / "images/base/files"
    for path in base_files.rglob("*"):
        if path.is_file():
            files[f"files/{path.relative_to(base_files)}"] = path
    containerd = (base_files / "etc/containerd/config.toml").read_text()
    containerd = containerd_config(containerd)
    files["files/etc/containerd/config.toml"] = containerd.encode()
    files["files/usr/local/bin/entrypoint-unprivileged"] = _node_file("entrypoint-unprivileged")
    files["files/etc/cni/net.d/10-deployctl-ptp.conflist"] = _node_file("10-deployctl-ptp.conflist")
    for name in ("kubelet", "kubeadm"):
        files[f"files/usr/bin/{name}"] = node.path(NODE_BINARIES, name)
    files["files/usr/bin/kubectl"] = tools.kubectl
    for name, _ in CNI_PLUGINS.binaries:
        files[f"files/opt/cni/bin/{name}"] = cni.path(CNI_PLUGINS, name)
    files["files/kind/version"] = f"{versions.KUBERNETES}\n".encode()
    source = (kind_dir / "pkg/build/nodeimage/const_storage.go").read_text()
    storage = storage_manifest(source, PROVISIONER_IMAGE, HELPER_IMAGE)
    files["files/kind/manifests/default-storage.yaml"] = storage.encode()
    files[f"files/{router.MANIFEST_PATH}"] = router.manifest().encode()
    return files


def containerd_config(kinds: str) -> str:
    """kind's containerd config, with what Debian's containerd 1.7 in a plain container needs."""
    config = kinds.replace(
        'sandbox_image = "registry.k8s.io/pause:3.10"',
        f'sandbox_image = "registry.k8s.io/pause:{versions.PAUSE}"',
    )
    # kind's base image generates cri-base.json with `ctr oci spec`; containerd's default
    # spec serves the same (it only adds product_uuid's mount).
    config = "\n".join(line for line in config.splitlines() if "base_runtime_spec" not in line)
    # A node that is not privileged cannot lower its own OOM score below its parent's.
    config = config.replace("restrict_oom_score_adj = false", "restrict_oom_score_adj = true")
    return config + "\n" + _node_file("containerd-offline.toml").decode()


def build_node_image(progress: Progress = binaries._stderr) -> str:
    """Build (or find) the offline node image; return its reference."""
    docker.ensure_docker(progress)
    ref = built_node_image()
    binary.kind_binary(progress)
    if docker.image_exists(ref):
        return ref
    started = time.monotonic()
    base = _base_image(progress)
    with tempfile.TemporaryDirectory(prefix="deployctl-node-", dir=binaries.cache_dir()) as tmp:
        workdir = Path(tmp)
        kind = binary.KIND
        kind_dir = Path(binaries.download_module(kind.module, kind.version, workdir)["Dir"])
        images = component_images(base, workdir, progress)
        stage = f"{IMAGE_REPOSITORY}/kind-node-stage:{ref.rsplit(':', 1)[1]}"
        docker.build_image(
            stage,
            "\n".join(
                [
                    f"FROM {base}",
                    "COPY files/ /",
                    "RUN ln -sf /usr/bin/containerd /usr/local/bin/containerd"
                    " && mkdir -p /etc/kubernetes/manifests /var/lib/kubelet"
                    " && systemctl enable kubelet containerd undo-mount-hacks"
                    " && systemctl mask systemd-binfmt.service",
                    "STOPSIGNAL SIGRTMIN+3",
                    f"ENTRYPOINT {json.dumps(NODE_ENTRYPOINT)}",
                ]
            )
            + "\n",
            _node_files(kind_dir, workdir, progress),
        )
        progress(f"preloading {len(images)} images into the node's containerd")
        archive = workdir / "images.tar"
        docker.run("save", "-o", str(archive), *images)
        _preload(stage, archive, ref)
        docker.run("rmi", stage, check=False)
    progress(f"built {ref} in {time.monotonic() - started:.0f} s")
    return ref


def _preload(stage: str, archive: Path, ref: str) -> None:
    """Import the images into the node's containerd as kind's build does, then commit."""
    container = docker.run(
        "run", "-d", "--entrypoint", "sleep", "-v", f"{archive}:/images.tar:ro", stage, "infinity"
    ).strip()
    try:
        script = (
            "containerd >/tmp/containerd.log 2>&1 & pid=$!; "
            "for i in $(seq 100); do ctr version >/dev/null 2>&1 && break; sleep 0.1; done; "
            "ctr -n k8s.io images import --all-platforms --no-unpack --digests "
            "/images.tar >/dev/null "
            "&& kill $pid && wait $pid"
        )
        docker.run("exec", container, "sh", "-c", script)
        docker.run(
            "commit",
            "--change",
            f"ENTRYPOINT {json.dumps(NODE_ENTRYPOINT)}",
            "--change",
            "CMD []",
            container,
            ref,
        )
    finally:
        docker.run("rm", "-f", container, check=False)
