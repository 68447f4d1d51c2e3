"""The kind provider's pure parts: flags, configs and the node image's recipe."""

from __future__ import annotations

import json

import pytest
import yaml

from deployctl.cluster import kind, versions
from deployctl.cluster.kind import binary, nodeimage, router, sysctls
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


def test_the_offline_cluster_config_keeps_kinds_default_cni_step_and_names_the_cached_etcd():
    offline = yaml.safe_load(kind.cluster_config(offline=True))
    published = yaml.safe_load(kind.cluster_config(offline=False))

    # kind applies the image's /kind/manifests/default-cni.yaml: kube-router's firewall.
    assert "networking" not in offline
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
    """The same inputs give the same tag every time (last changed: kube-router's inputs)."""
    for name in (
        "KUBERNETES",
        "ETCD",
        "KIND",
        "KIND_NODE_DEBIAN",
        "COREDNS",
        "PAUSE",
        "CNI_PLUGINS",
        "LOCAL_PATH_PROVISIONER",
        "KUBE_ROUTER",
    ):
        monkeypatch.setattr(versions, name, f"v-{name.lower()}")
    monkeypatch.setattr(nodeimage, "RECIPE", 7)
    monkeypatch.setattr(nodeimage, "DEBIAN_PACKAGES", "systemd,containerd")
    monkeypatch.setattr(binary, "UNPRIVILEGED_NODE_FLAGS", ("--cap-add=ALL", "--device=/dev/kmsg"))
    monkeypatch.setattr(nodeimage, "_node_file", lambda name: f"contents of {name}\n".encode())

    assert kind.built_node_image() == "deployctl.local/kind-node:v-kubernetes-15470b58b616"


def test_the_node_image_tag_follows_kube_routers_version_and_files(monkeypatch):
    first = kind.built_node_image()

    monkeypatch.setattr(versions, "KUBE_ROUTER", "v2.6.1")
    assert kind.built_node_image() != first
    monkeypatch.undo()
    original = nodeimage._node_file
    for name in router.FILES:
        assert name in nodeimage.NODE_FILES
        monkeypatch.setattr(
            nodeimage, "_node_file", lambda n, name=name: original(n) + b"#" * (n == name)
        )
        assert kind.built_node_image() != first
        monkeypatch.undo()
    assert kind.built_node_image() == first


def test_the_node_image_has_ipset_and_iptables_from_debian():
    packages = nodeimage.DEBIAN_PACKAGES.split(",")
    assert "ipset" in packages and "iptables" in packages


def test_kube_router_is_built_static_from_the_module_proxy_at_the_pinned_version():
    build = router.KUBE_ROUTER
    assert build.module == "github.com/cloudnativelabs/kube-router/v2"
    assert build.version == versions.KUBE_ROUTER
    assert build.binaries == (("kube-router", f"{build.module}/cmd/kube-router"),)
    assert f"-X {build.module}/pkg/version.Version={versions.KUBE_ROUTER}" in build.ldflags
    assert router.IMAGE.rsplit(":", 1) == ["deployctl.local/kube-router", versions.KUBE_ROUTER]


def kube_router_objects(image: str = router.IMAGE) -> dict[str, dict]:
    return {o["kind"]: o for o in yaml.safe_load_all(router.manifest(image))}


def test_kube_router_runs_its_firewall_only_on_every_node_in_the_nodes_network():
    daemonset = kube_router_objects("local/kube-router:v0")["DaemonSet"]

    assert daemonset["metadata"]["namespace"] == router.NAMESPACE == "kube-system"
    assert daemonset["metadata"]["name"] == router.DAEMONSET
    spec = daemonset["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True
    assert spec["serviceAccountName"] == "kube-router"
    assert spec["tolerations"] == [{"operator": "Exists"}]  # the control-plane node too
    (container,) = spec["containers"]
    assert container["image"] == "local/kube-router:v0"
    assert container["securityContext"] == {"privileged": True}
    args = container["args"]
    for flag in (
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--enable-cni=false",
        "--hostname-override=$(NODE_NAME)",
    ):
        assert flag in args
    (env,) = container["env"]
    assert env == {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 20244}
    assert "--health-port=20244" in args
    # The node's iptables mode, where the image's entrypoint reads it.
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert mounts["alternatives"]["mountPath"] == "/host/etc/alternatives"
    assert volumes["alternatives"]["hostPath"]["path"] == "/etc/alternatives"
    assert "/host/etc/alternatives/iptables" in router.entrypoint().decode()
    assert volumes["xtables-lock"]["hostPath"]["path"] == mounts["xtables-lock"]["mountPath"]


def test_kube_router_may_read_what_its_informers_watch_and_write_nothing():
    objects = kube_router_objects()
    rules = objects["ClusterRole"]["rules"]
    readable = {
        (group, resource)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert readable == {
        ("", "namespaces"),
        ("", "pods"),
        ("", "services"),
        ("", "nodes"),
        ("", "endpoints"),
        ("networking.k8s.io", "networkpolicies"),
        ("discovery.k8s.io", "endpointslices"),
    }
    assert all(rule["verbs"] == ["get", "list", "watch"] for rule in rules)
    binding = objects["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == objects["ClusterRole"]["metadata"]["name"]
    account = objects["ServiceAccount"]["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]


def test_kube_routers_manifest_goes_where_kind_applies_its_own_cni():
    assert router.MANIFEST_PATH == "kind/manifests/default-cni.yaml"
    assert "${" not in router.manifest()


def test_kube_routers_image_starts_it_through_the_iptables_mode_entrypoint():
    dockerfile = router.dockerfile("local/kind-base:x")
    assert dockerfile.startswith("FROM local/kind-base:x\n")
    assert 'ENTRYPOINT ["/usr/local/bin/kube-router-entrypoint"]' in dockerfile
    assert "exec /usr/local/bin/kube-router " in router.entrypoint().decode()


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
