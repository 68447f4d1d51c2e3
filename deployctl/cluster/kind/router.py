"""kube-router's network policy controller: what enforces NetworkPolicies on the offline image.

kind's published image runs kindnetd, its CNI, which also enforces
NetworkPolicies. The offline image has no kindnetd (a static ptp network
instead), so without more nothing would. kube-router, built through the Go
module proxy, runs there as a DaemonSet with only its firewall (iptables and
ipset in the node's network namespace): no routing, no service proxy, no CNI
config of its own.

Its image is the node's Debian root filesystem (iptables, ipset) with the
binary and `kindnode/kube-router-entrypoint`, which sets the image's iptables
backend (legacy or nft) to the node's before starting kube-router. The
manifest (`kindnode/kube-router.yaml`) goes into the node image as
``/kind/manifests/default-cni.yaml``, which kind applies when it creates a
cluster, as it applies kindnetd from its own image; `cluster up` then waits for
the DaemonSet to be ready.
"""

from __future__ import annotations

from importlib import resources

from deployctl.cluster import versions
from deployctl.cluster.binaries import GoBuild
from deployctl.errors import ClusterError

_MODULE = "github.com/cloudnativelabs/kube-router/v2"
KUBE_ROUTER = GoBuild(
    name="kube-router",
    module=_MODULE,
    version=versions.KUBE_ROUTER,
    binaries=(("kube-router", f"{_MODULE}/cmd/kube-router"),),
    # As its Makefile stamps a release (the git commit and date aside).
    ldflags=(f"-X {_MODULE}/pkg/version.Version={versions.KUBE_ROUTER}",),
)
IMAGE = f"deployctl.local/kube-router:{versions.KUBE_ROUTER}"
# deployctl's own files of it (deployctl/cluster/kindnode/)
FILES = ("kube-router.yaml", "kube-router-entrypoint")
# Where kind looks for the manifest it applies at `kind create cluster`.
MANIFEST_PATH = "kind/manifests/default-cni.yaml"
NAMESPACE = "kube-system"
DAEMONSET = "kube-router"
_PLACEHOLDER = "${KUBE_ROUTER_IMAGE}"


def _file(name: str) -> str:
    return (resources.files("deployctl.cluster") / "kindnode" / name).read_text()


def entrypoint() -> bytes:
    return _file("kube-router-entrypoint").encode()


def manifest(image: str = IMAGE) -> str:
    """The DaemonSet and its RBAC, with `image` in it."""
    text = _file("kube-router.yaml")
    if text.count(_PLACEHOLDER) != 1:
        raise ClusterError(f"kindnode/kube-router.yaml must name {_PLACEHOLDER} exactly once")
    return text.replace(_PLACEHOLDER, image)


def dockerfile(base: str) -> str:
    """kube-router on the node's root filesystem, started by the iptables-mode entrypoint."""
    return (
        f"FROM {base}\n"
        "COPY kube-router /usr/local/bin/kube-router\n"
        "COPY kube-router-entrypoint /usr/local/bin/kube-router-entrypoint\n"
        'ENTRYPOINT ["/usr/local/bin/kube-router-entrypoint"]\n'
    )
