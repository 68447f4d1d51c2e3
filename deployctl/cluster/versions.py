"""The one place where the local cluster's component versions are pinned.

Kubernetes is built from the k8s.io/kubernetes module; its staging modules
(k8s.io/api, k8s.io/client-go, ...) are published as v0.<minor>.<patch>.
etcd matches the release Kubernetes ships with (cluster/images/etcd in 1.34).
kustomize matches the one embedded in that kubectl release.
Helm is not part of the cluster: the benchmark builds it on demand.
"""

KUBERNETES = "v1.34.4"
ETCD = "v3.6.4"
KWOK = "v0.8.0"
KUSTOMIZE = "v5.7.1"
HELM = "v4.3.1"


def staging_version(kubernetes: str = KUBERNETES) -> str:
    """v1.34.4 -> v0.34.4, the tag of every k8s.io staging module."""
    _, minor, patch = kubernetes.lstrip("v").split(".")
    return f"v0.{minor}.{patch}"
