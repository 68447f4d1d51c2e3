"""The kind provider's pure parts: flags, configs and the node image's recipe."""

from __future__ import annotations

import json

import pytest
import yaml

from deployctl.cluster import kind, versions
from deployctl.cluster.kind import binary, nodeimage, sysctls
from deployctl.errors import ClusterError

# CapBnd of a root shell on an ordinary host (all 41 caps), and of this CI machine's
# (the same less CAP_SYS_RESOURCE, bit 24).
ALL_CAPS = "000001ffffffffff"
NO_SYS_RESOURCE = f"{int(ALL_CAPS, 16) & ~(1 << 24):016x}"


def status(capbnd: str) -> str:
    return f"Name:\tpython3\nCapInh:\t0000000000000000\nCapBnd:\t{capbnd}\nCapAmb:\t0\n"


def test_privileged_nodes_where_the_bounding_set_is_whole_and_not_where_it_lacks_sys_resource():
    assert kind.needs_unprivileged_nodes(status(ALL_CAPS)) is False
    assert kind.needs_unprivileged_nodes(status(NO_SYS_RESOURCE)) is True


def test_the_unprivileged_kind_replaces_both_privileged_flags_and_keeps_the_rest():
    provision, node = kind.KIND_UNPRIVILEGED.patches
    assert provision[1] == node[1] == '\t\t"--privileged",\n'
    flags = [json.loads(line.strip().rstrip(",")) for line in provision[2].splitlines()]
    assert flags == list(kind.UNPRIVILEGED_NODE_FLAGS)
    assert "--cap-drop=SYS_RESOURCE" in flags and "--privileged" not in flags
    assert node[2] == ""  # `docker exec` into the node runs without it
    assert kind.KIND.patches == ()  # elsewhere kind is built as released


def test_the_offline_cluster_config_has_no_default_cni_and_the_cached_etcd():
    offline = yaml.safe_load(kind.cluster_config(offline=True))
    published = yaml.safe_load(kind.cluster_config(offline=False))

    assert offline["networking"] == {"disableDefaultCNI": True}
    patches = [yaml.safe_load(p) for p in offline["kubeadmConfigPatches"]]
    assert {"kind": "KubeletConfiguration", "failCgroupV1": False} in patches
    etcd = next(p for p in patches if p["kind"] == "ClusterConfiguration")
    assert etcd["etcd"]["local"]["imageTag"] == f"{versions.ETCD.lstrip('v')}-0"
    assert "networking" not in published  # kind's own kindnetd comes with its image
    assert len(published["kubeadmConfigPatches"]) == 1


KINDS_CONTAINERD = """version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  base_runtime_spec = "/etc/containerd/cri-base.json"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  restrict_oom_score_adj = false
"""


def test_containerd_config_is_kinds_with_the_named_differences():
    config = kind.containerd_config(KINDS_CONTAINERD)

    assert f'sandbox_image = "registry.k8s.io/pause:{versions.PAUSE}"' in config
    assert "restrict_oom_score_adj = true" in config
    assert "base_runtime_spec" not in config
    assert 'bin_dir = "/opt/cni/bin"' in config
    # Every registry a manifest could name goes to a closed loopback port.
    for registry in ("docker.io", "registry.k8s.io", "quay.io", "deployctl.local", "*"):
        assert f'registry.mirrors."{registry}"]\n  endpoint = ["http://127.0.0.1:1"]' in config
    assert config.startswith("version = 2\n")


GO_SOURCE = """package nodeimage

const storageProvisionerImage = "docker.io/kindest/local-path-provisioner:v1"
const storageHelperImage = "docker.io/kindest/local-path-helper:v1"

const defaultStorageManifest = `
apiVersion: v1
kind: Pod
spec:
  containers:
    - image: ` + storageProvisionerImage + `
      command: [local-path-provisioner, --helper-image, ` + storageHelperImage + `]
`
"""


def test_the_storage_manifest_is_kinds_own_with_our_images():
    manifest = kind.storage_manifest(GO_SOURCE, "local/provisioner:v0", "local/helper:trixie")

    pod = yaml.safe_load(manifest)
    container = pod["spec"]["containers"][0]
    assert container["image"] == "local/provisioner:v0"
    assert container["command"][-1] == "local/helper:trixie"


def test_a_storage_manifest_of_another_shape_is_refused_rather_than_half_replaced():
    changed = GO_SOURCE.replace("storageHelperImage + `", "helperImage() + `")
    with pytest.raises(ClusterError, match="changed shape"):
        kind.storage_manifest(changed, "local/provisioner:v0", "local/helper:trixie")


def test_the_node_image_tag_follows_its_inputs(monkeypatch):
    first = kind.built_node_image()
    assert first == kind.built_node_image()  # stable
    assert first.startswith(f"deployctl.local/kind-node:{versions.KUBERNETES}-")

    monkeypatch.setattr(versions, "COREDNS", "v1.12.2")
    assert kind.built_node_image() != first
    monkeypatch.undo()
    monkeypatch.setattr(binary, "UNPRIVILEGED_NODE_FLAGS", (*binary.UNPRIVILEGED_NODE_FLAGS, "--x"))
    assert kind.built_node_image() != first


def test_the_node_image_tag_is_computed_as_before(monkeypatch):
    """The same inputs give the same tag as kind.py gave before its split: no rebuild."""
    for name in (
        "KUBERNETES",
        "ETCD",
        "KIND",
        "KIND_NODE_DEBIAN",
        "COREDNS",
        "PAUSE",
        "CNI_PLUGINS",
        "LOCAL_PATH_PROVISIONER",
    ):
        monkeypatch.setattr(versions, name, f"v-{name.lower()}")
    monkeypatch.setattr(nodeimage, "RECIPE", 7)
    monkeypatch.setattr(nodeimage, "DEBIAN_PACKAGES", "systemd,containerd")
    monkeypatch.setattr(binary, "UNPRIVILEGED_NODE_FLAGS", ("--cap-add=ALL", "--device=/dev/kmsg"))
    monkeypatch.setattr(nodeimage, "_node_file", lambda name: f"contents of {name}\n".encode())

    assert kind.built_node_image() == "deployctl.local/kind-node:v-kubernetes-acd0f095c188"


def test_down_puts_back_the_host_settings_a_kubelet_changed(tmp_path, monkeypatch):
    proc = tmp_path / "proc-sys"
    for key, value in {"vm/overcommit_memory": "0", "kernel/panic": "0"}.items():
        (proc / key).parent.mkdir(parents=True, exist_ok=True)
        (proc / key).write_text(f"{value}\n")
    monkeypatch.setattr(sysctls, "PROC_SYS", proc)
    monkeypatch.setenv("DEPLOYCTL_CACHE_DIR", str(tmp_path / "cache"))
    said = []

    sysctls.record_host_sysctls()
    (proc / "vm/overcommit_memory").write_text("1\n")  # as kubelet does
    (proc / "kernel/panic").write_text("10\n")
    sysctls.record_host_sysctls()  # a second cluster: the first one's record stands
    sysctls.restore_host_sysctls(said.append)

    assert (proc / "vm/overcommit_memory").read_text().strip() == "0"
    assert (proc / "kernel/panic").read_text().strip() == "0"
    assert said == [
        "restored the host's vm.overcommit_memory to 0",
        "restored the host's kernel.panic to 0",
    ]
    sysctls.restore_host_sysctls(said.append)  # once only: nothing recorded any more
    assert len(said) == 2
