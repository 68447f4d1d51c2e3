"""The one place where the local cluster's component versions are pinned.

Kubernetes is built from the k8s.io/kubernetes module; its staging modules
(k8s.io/api, k8s.io/client-go, ...) are published as v0.<minor>.<patch>.
etcd matches the release Kubernetes ships with (cluster/images/etcd in 1.34).
kustomize matches the one embedded in that kubectl release.
Helm is not part of the cluster: the benchmark builds it on demand.
Neither are promtool and kube-score, built on demand for monitoring checks.
The kind node image (`cluster build --provider kind`) pins kind, its Debian
suite and the add-ons kubeadm v1.34 and kind v0.33 deploy: CoreDNS as kubeadm's
constants name it, pause as kubeadm wants it, the CNI plugins, and
local-path-provisioner (the newest release the module proxy serves), and
kube-router, whose network policy controller enforces NetworkPolicies there:
v2.1.0 is the only version of github.com/cloudnativelabs/kube-router/v2 the
module proxy serves here (v2.6.1 and every other tag: 403 "not available").
The stores' images (`cluster build --provider kind --stores`) are Debian's own
packages of the suite below, pinned to the exact Debian version installed; when
Debian replaces one (a point release), its build says so and the pin is bumped.
postgres_exporter is built through the Go module proxy.
Prometheus tags its Go module v0.3MM.P for release 3.MM.P (its
scripts/get_module_version.sh); `prometheus_release` maps it back.
"""

KUBERNETES = "v1.34.4"
ETCD = "v3.6.4"
KWOK = "v0.8.0"
KUSTOMIZE = "v5.7.1"
HELM = "v4.3.1"
PROMETHEUS = "v0.316.0"  # the Go module of Prometheus 3.16.0, which holds promtool
KUBE_SCORE = "v1.20.0"
KIND = "v0.33.0"
KIND_NODE_DEBIAN = "trixie"  # systemd 257, containerd 1.7, runc 1.1
COREDNS = "v1.12.1"
PAUSE = "3.10.1"
CNI_PLUGINS = "v1.9.1"
LOCAL_PATH_PROVISIONER = "v0.0.30"
KUBE_ROUTER = "v2.1.0"  # the only kube-router/v2 version the module proxy serves here
STORES_DEBIAN = "trixie"
POSTGRESQL_DEBIAN = "17.12-0+deb13u1"  # postgresql-17; the manifests pin 16.6
REDIS_DEBIAN = "5:8.0.2-3+deb13u3"  # redis-server, redis-sentinel; the manifests pin 7.4.1
RABBITMQ_DEBIAN = "4.0.5-6+deb13u2"  # rabbitmq-server; the manifests pin 3.13.7
REDIS_EXPORTER_DEBIAN = "1.69.0-1"  # prometheus-redis-exporter; the manifests pin v1.67.0
POSTGRES_EXPORTER = "v0.17.1"  # the manifests pin v0.16.0


def staging_version(kubernetes: str = KUBERNETES) -> str:
    """v1.34.4 -> v0.34.4, the tag of every k8s.io staging module."""
    _, minor, patch = kubernetes.lstrip("v").split(".")
    return f"v0.{minor}.{patch}"


def prometheus_release(module_version: str = PROMETHEUS) -> str:
    """v0.316.0 -> 3.16.0 (and v0.55.1 -> 2.55.1): the release a module tag stands for."""
    _, minor, patch = module_version.lstrip("v").split(".")
    if len(minor) == 3 and minor.startswith("3"):
        return f"3.{int(minor[1:])}.{patch}"
    return f"2.{minor}.{patch}"
