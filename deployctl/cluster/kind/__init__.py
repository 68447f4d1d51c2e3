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
  node's pod range) and the cluster is created with ``disableDefaultCNI``;
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
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from deployctl.cluster import binaries, versions
from deployctl.cluster.binaries import GoBuild, Progress
from deployctl.errors import ClusterError

# What `--privileged` gives a kind node, but for CAP_SYS_RESOURCE; kind already
# adds seccomp/apparmor=unconfined, tmpfs /tmp and /run, and the /var volume.
UNPRIVILEGED_NODE_FLAGS = (
    "--cap-add=ALL",
    "--cap-drop=SYS_RESOURCE",
    "--security-opt",
    "systempaths=unconfined",
    "--device-cgroup-rule=a *:* rwm",
    "--device=/dev/kmsg",
)
CAP_SYS_RESOURCE = 24  # linux/capability.h
_DOCKER_PROVIDER = "pkg/cluster/internal/providers/docker"
KIND = GoBuild(
    name="kind",
    module="sigs.k8s.io/kind",
    version=versions.KIND,
    binaries=(("kind", "sigs.k8s.io/kind"),),
)
KIND_UNPRIVILEGED = dataclasses.replace(
    KIND,
    name="kind-unprivileged",
    patches=(
        (
            f"{_DOCKER_PROVIDER}/provision.go",
            '\t\t"--privileged",\n',
            "".join(f"\t\t{json.dumps(flag)},\n" for flag in UNPRIVILEGED_NODE_FLAGS),
        ),
        # `kind load` and friends exec into the node with --privileged too.
        (f"{_DOCKER_PROVIDER}/node.go", '\t\t"--privileged",\n', ""),
    ),
)
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
LOCAL_PATH_PROVISIONER = GoBuild(
    name="local-path-provisioner",
    module="github.com/rancher/local-path-provisioner",
    version=versions.LOCAL_PATH_PROVISIONER,
    binaries=(("local-path-provisioner", "github.com/rancher/local-path-provisioner"),),
)

DEBIAN_PACKAGES = (
    "systemd,systemd-sysv,dbus,ca-certificates,iptables,iproute2,conntrack,kmod,"
    "mount,util-linux,procps,containerd,runc"
)
ETCD_IMAGE_TAG = f"{versions.ETCD.lstrip('v')}-0"
IMAGE_REPOSITORY = "deployctl.local"
PROVISIONER_IMAGE = f"{IMAGE_REPOSITORY}/local-path-provisioner:{versions.LOCAL_PATH_PROVISIONER}"
# The storage helper runs sh, mkdir and rm: the node's Debian root filesystem, retagged.
HELPER_IMAGE = f"{IMAGE_REPOSITORY}/local-path-helper:{versions.KIND_NODE_DEBIAN}"
NODE_ENTRYPOINT = [
    "/usr/local/bin/entrypoint-unprivileged",
    "/usr/local/bin/entrypoint",
    "/sbin/init",
]
# Bump when the recipe below changes in a way the digest of its inputs does not show.
RECIPE = 1
READY_TIMEOUT_S = 180
PROC_SYS = Path("/proc/sys")
HOST_SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops")


def context_name(name: str) -> str:
    return f"kind-{name}"


# deployctl's own files in the node image (deployctl/cluster/kindnode/)
NODE_FILES = ("entrypoint-unprivileged", "10-deployctl-ptp.conflist", "containerd-offline.toml")


def _state_dir() -> Path:
    return binaries.cache_dir() / "kind"


def _node_file(name: str) -> bytes:
    return (resources.files("deployctl.cluster") / "kindnode" / name).read_bytes()


# --- Docker -----------------------------------------------------------------------------


def _docker(*args: str, check: bool = True) -> str:
    if shutil.which("docker") is None:
        raise ClusterError("docker is not installed: kind runs its nodes as Docker containers")
    result = subprocess.run(["docker", *args], capture_output=True)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).decode(errors="replace").strip()
        raise ClusterError(f"docker {args[0]} failed: {detail[-1500:]}")
    return result.stdout.decode(errors="replace")


def _docker_answers() -> bool:
    return (
        shutil.which("docker") is not None
        and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    )


def ensure_docker(progress: Progress = binaries._stderr) -> None:
    """Start dockerd when nothing answers and this user may (root, dockerd installed).

    overlay2 first, vfs where overlay2 cannot mount; `down` stops a daemon started here.
    """
    if _docker_answers():
        return
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        raise ClusterError(
            "no Docker daemon answers: start Docker (on Debian as root: "
            "apt-get install docker.io; deployctl starts dockerd itself), then run again"
        )
    state = _state_dir()
    state.mkdir(parents=True, exist_ok=True)
    for driver in ("overlay2", "vfs"):
        progress(f"starting dockerd (storage driver {driver})")
        with open(state / "dockerd.log", "ab") as log:
            daemon = subprocess.Popen(
                ["dockerd", f"--storage-driver={driver}"],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and daemon.poll() is None:
            if _docker_answers():
                (state / "dockerd.pid").write_text(f"{daemon.pid}\n")
                return
            time.sleep(0.5)
        if daemon.poll() is None:
            daemon.terminate()
            daemon.wait(30)
    raise ClusterError(f"dockerd did not start; see {state / 'dockerd.log'}")


def _stop_docker_started_here(progress: Progress) -> None:
    pidfile = _state_dir() / "dockerd.pid"
    if not pidfile.exists():
        return
    if _docker("ps", "-q", check=False).strip():
        return  # containers of someone else still run
    pid = int(pidfile.read_text())
    pidfile.unlink()
    comm = Path(f"/proc/{pid}/comm")
    if not comm.exists() or comm.read_text().strip() != "dockerd":
        return  # gone already (a reboot), its pid since taken by another process
    progress("stopping the dockerd that deployctl started")
    try:
        os.kill(pid, 15)
        for _ in range(60):
            os.kill(pid, 0)
            time.sleep(0.5)
    except ProcessLookupError:
        pass


def _image_exists(ref: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0


# --- kind itself ------------------------------------------------------------------------


def needs_unprivileged_nodes(status: str | None = None) -> bool:
    """True where `docker run --privileged` cannot work: no CAP_SYS_RESOURCE in our bounding set."""
    status = status if status is not None else Path("/proc/self/status").read_text()
    for line in status.splitlines():
        if line.startswith("CapBnd:"):
            return not int(line.split()[1], 16) & (1 << CAP_SYS_RESOURCE)
    return False


def kind_binary(progress: Progress = binaries._stderr) -> Path:
    """kind, built through the module proxy (patched where nodes cannot be privileged)."""
    build = KIND_UNPRIVILEGED if needs_unprivileged_nodes() else KIND
    return binaries.ensure_tool(build, progress).path(build, "kind")


# --- the node image ---------------------------------------------------------------------


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
        DEBIAN_PACKAGES,
        *UNPRIVILEGED_NODE_FLAGS,
        *(_node_file(name).decode() for name in NODE_FILES),
    ]
    return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:12]


def built_node_image() -> str:
    """The reference `cluster build --provider kind` tags its node image with."""
    return f"{IMAGE_REPOSITORY}/kind-node:{versions.KUBERNETES}-{_recipe_digest()}"


def _base_image(progress: Progress) -> str:
    digest = hashlib.sha256(DEBIAN_PACKAGES.encode()).hexdigest()[:8]
    ref = f"{IMAGE_REPOSITORY}/kind-base:{versions.KIND_NODE_DEBIAN}-{digest}"
    if _image_exists(ref):
        return ref
    if shutil.which("debootstrap") is None:
        raise ClusterError(
            "debootstrap is not installed: the node image's root filesystem is built with it "
            "(apt-get install debootstrap)"
        )
    started = time.monotonic()
    progress(f"building a Debian {versions.KIND_NODE_DEBIAN} root filesystem (debootstrap)")
    with tempfile.TemporaryDirectory(prefix="deployctl-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        result = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={DEBIAN_PACKAGES}",
                versions.KIND_NODE_DEBIAN,
                str(rootfs),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise ClusterError(f"debootstrap failed:\n{result.stdout[-1500:]}{result.stderr}")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / cache, ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["docker", "import", "--change", "ENV container=docker", "-", ref],
            stdin=tar.stdout,
            capture_output=True,
        )
        tar.wait()
        if imported.returncode != 0:
            raise ClusterError(f"docker import failed: {imported.stderr.decode()}")
    progress(f"built {ref} in {time.monotonic() - started:.0f} s")
    return ref


def _build_image(ref: str, dockerfile: str, files: dict[str, Path | bytes]) -> None:
    with tempfile.TemporaryDirectory(prefix="deployctl-image-") as tmp:
        context = Path(tmp)
        for name, source in files.items():
            target = context / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, bytes):
                target.write_bytes(source)
            else:
                shutil.copy2(source, target)
            target.chmod(0o755)
        (context / "Dockerfile").write_text(dockerfile)
        _docker("build", "-q", "-t", ref, str(context))


def _scratch_image(ref: str, binary: Path, path: str, entrypoint: list[str] | None = None) -> None:
    lines = [
        "FROM scratch",
        f"COPY {binary.name} {path}",
        "ENV PATH=/usr/local/bin:/usr/bin:/bin",
    ]
    if entrypoint:
        lines.append(f"ENTRYPOINT {json.dumps(entrypoint)}")
    _build_image(ref, "\n".join(lines) + "\n", {binary.name: binary})


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


def _component_images(base: str, workdir: Path, progress: Progress) -> list[str]:
    """Every image the cluster starts, built here and named as kubeadm and kind ask for them."""
    tools = binaries.ensure_binaries(progress)
    node = binaries.ensure_tool(NODE_BINARIES, progress)
    coredns = binaries.ensure_tool(COREDNS, progress)
    storage = binaries.ensure_tool(LOCAL_PATH_PROVISIONER, progress)
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
    _build_image(
        proxy,
        f"FROM {base}\nCOPY kube-proxy /usr/local/bin/kube-proxy\n",
        {"kube-proxy": node.path(NODE_BINARIES, "kube-proxy")},
    )
    _docker("tag", base, HELPER_IMAGE)
    progress("built the control-plane, etcd, kube-proxy, CoreDNS, pause and storage images")
    return [*images, coredns_ref, pause_ref, PROVISIONER_IMAGE, proxy, HELPER_IMAGE]


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
    ensure_docker(progress)
    ref = built_node_image()
    kind_binary(progress)
    if _image_exists(ref):
        return ref
    started = time.monotonic()
    base = _base_image(progress)
    with tempfile.TemporaryDirectory(prefix="deployctl-node-", dir=binaries.cache_dir()) as tmp:
        workdir = Path(tmp)
        kind_dir = Path(binaries.download_module(KIND.module, KIND.version, workdir)["Dir"])
        images = _component_images(base, workdir, progress)
        stage = f"{IMAGE_REPOSITORY}/kind-node-stage:{ref.rsplit(':', 1)[1]}"
        _build_image(
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
        _docker("save", "-o", str(archive), *images)
        _preload(stage, archive, ref)
        _docker("rmi", stage, check=False)
    progress(f"built {ref} in {time.monotonic() - started:.0f} s")
    return ref


def _preload(stage: str, archive: Path, ref: str) -> None:
    """Import the images into the node's containerd as kind's build does, then commit."""
    container = _docker(
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
        _docker("exec", container, "sh", "-c", script)
        _docker(
            "commit",
            "--change",
            f"ENTRYPOINT {json.dumps(NODE_ENTRYPOINT)}",
            "--change",
            "CMD []",
            container,
            ref,
        )
    finally:
        _docker("rm", "-f", container, check=False)


# --- up / down --------------------------------------------------------------------------


def cluster_config(offline: bool) -> str:
    patches = ["kind: KubeletConfiguration\nfailCgroupV1: false\n"]
    config: dict = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4"}
    if offline:
        config["networking"] = {"disableDefaultCNI": True}
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
    return built if _image_exists(built) else None


def _kind(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(kind_binary()), *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        detail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise ClusterError(f"kind {' '.join(args[:2])} failed:\n{detail}")
    return result


def exists(name: str) -> bool:
    if not _docker_answers():
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
    _record_host_sysctls()
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
    return context_name(name)


def load_image(name: str, image: str) -> None:
    """`kind load docker-image`: put a local Docker image into every node of the cluster."""
    _kind("load", "docker-image", image, "--name", name)


def down(
    name: str, *, kubeconfig: Path | None = None, progress: Progress = binaries._stderr
) -> None:
    """Delete the kind cluster, put back the host's kernel settings, stop a dockerd we started."""
    docker = _docker_answers()
    if docker:
        args = ["delete", "cluster", "--name", name]
        if kubeconfig:
            args += ["--kubeconfig", str(kubeconfig)]
        _kind(*args)
        if _kind("get", "clusters", check=False).stdout.split():
            return  # another kind cluster's kubelet still runs on this host
    _restore_host_sysctls(progress)
    if docker:
        _stop_docker_started_here(progress)


def _default_kubeconfig() -> Path:
    from deployctl.cluster import sandbox

    return sandbox.default_kubeconfig()


def _sysctl_file() -> Path:
    """The host's values from before the first of the kind clusters now running."""
    return _state_dir() / "host-sysctls.json"


def _record_host_sysctls() -> None:
    if _sysctl_file().exists():
        return  # recorded by the first cluster; a kubelet may have changed them since
    saved = {}
    for key in HOST_SYSCTLS:
        path = PROC_SYS / key
        if path.exists():
            saved[key] = path.read_text().strip()
    _state_dir().mkdir(parents=True, exist_ok=True)
    _sysctl_file().write_text(json.dumps(saved))


def _restore_host_sysctls(progress: Progress) -> None:
    file = _sysctl_file()
    if not file.exists():
        return
    for key, value in json.loads(file.read_text()).items():
        path = PROC_SYS / key
        try:
            if path.read_text().strip() != value:
                path.write_text(value)
                progress(f"restored the host's {key.replace('/', '.')} to {value}")
        except OSError as error:
            progress(f"could not restore {key.replace('/', '.')}: {error}")
    file.unlink()
