"""Health of one object, as a pure function of the object: kstatus semantics, stricter for a deploy.

`object_health(obj)` returns a HealthStatus (CURRENT, IN_PROGRESS, FAILED,
TERMINATING) with the message a user reads. The generic rules of kstatus
(sigs.k8s.io/cli-utils pkg/kstatus/status) hold for every kind, custom
resources included (generic.py); each known kind adds its own, behind one
table keyed by (API group, kind) (kinds.py), which also says which pods are
a workload's current ones and its ready/desired counts. `pod_problem(pod)`
says why a pod will not become Ready by itself: the fail-fast rules.
docs/health.md describes the rules for users.
"""

from .generic import GENERATION_NOT_OBSERVED, NO_OBSERVED_GENERATION
from .kinds import (
    KINDS,
    KindRules,
    crd_health,
    daemonset_health,
    deployment_health,
    health_by,
    index_by_owner,
    job_health,
    namespace_health,
    object_health,
    pdb_health,
    pod_health,
    pvc_health,
    ready_count,
    replicaset_health,
    rules_for,
    service_health,
    statefulset_health,
    workload_pods,
)
from .pods import FATAL_WAITING_REASONS, OwnedBy, is_ready, not_ready_reason, pod_problem
from .status import (
    HealthState,
    HealthStatus,
    Obj,
    condition,
    current,
    failed,
    in_progress,
    terminating,
)
from .workloads import Replicas

__all__ = [
    "FATAL_WAITING_REASONS",
    "GENERATION_NOT_OBSERVED",
    "KINDS",
    "NO_OBSERVED_GENERATION",
    "HealthState",
    "HealthStatus",
    "KindRules",
    "Obj",
    "OwnedBy",
    "Replicas",
    "condition",
    "crd_health",
    "current",
    "daemonset_health",
    "deployment_health",
    "failed",
    "health_by",
    "in_progress",
    "index_by_owner",
    "is_ready",
    "job_health",
    "namespace_health",
    "not_ready_reason",
    "object_health",
    "pdb_health",
    "pod_health",
    "pod_problem",
    "pvc_health",
    "ready_count",
    "replicaset_health",
    "rules_for",
    "service_health",
    "statefulset_health",
    "terminating",
    "workload_pods",
]
