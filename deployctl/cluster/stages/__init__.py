"""The sandbox's simulated kubelet: kwok Stage objects for nodes, pods and volumes.

kwok drops its built-in stages as soon as a config names any Stage, so the
whole lifecycle is spelled out here, a module per resource (`nodes`, `pods`,
`volumes`). Stages of one resource are written with disjoint selectors, so each
object always has exactly one applicable stage.

Failure markers, by the suffix of a container's image tag:

  -crashloop  the container keeps failing: CrashLoopBackOff, restarts growing
              (a Job pod with restartPolicy Never fails instead)
  -pullerror  the image cannot be pulled: ErrImagePull, then ImagePullBackOff
  -unready    the container runs but its readiness probe never passes

A pod's annotation ``sandbox.deployctl.dev/ready-delay`` (a Go duration such
as ``30s``) overrides the cluster-wide delay before it starts.
A pod's annotation ``sandbox.deployctl.dev/restarts-before-running`` (a whole
number N, 2 or more) makes its ``-crashloop`` containers run at their Nth restart:
a crash loop that heals.
"""

from __future__ import annotations

from typing import Any

from deployctl.cluster.stages.nodes import node_stages
from deployctl.cluster.stages.pods import READY_DELAY_ANNOTATION, pod_stages
from deployctl.cluster.stages.volumes import STORAGE_CLASS, volume_stages

__all__ = ["READY_DELAY_ANNOTATION", "STORAGE_CLASS", "sandbox_stages"]


def sandbox_stages(ready_delay_ms: int) -> list[dict[str, Any]]:
    """Every Stage of the sandbox, for a cluster whose pods start after ready_delay_ms."""
    return [*node_stages(), *pod_stages(ready_delay_ms), *volume_stages()]
