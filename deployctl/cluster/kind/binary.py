"""kind itself, built through the Go module proxy, without `--privileged` where that fails."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from deployctl.cluster import binaries, versions
from deployctl.cluster.binaries import GoBuild, Progress

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
