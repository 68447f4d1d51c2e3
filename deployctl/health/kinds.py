"""The table: (API group, kind) → what deployctl knows about the kind, as kubectl's
polymorphichelpers map a kind to its rollout status viewer.

An object's health is the generic rules (generic.py) first, then its kind's
own rules, and for a kind not in the table its Ready condition, else Current.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import generic
from .pods import OwnedBy, check_pod, deployment_pods, no_pods, owned_pods, statefulset_pods
from .resources import (
    always_current,
    check_crd,
    check_namespace,
    check_pdb,
    check_pvc,
    check_service,
)
from .status import HealthStatus, Obj, meta_of
from .workloads import (
    Replicas,
    check_daemonset,
    check_deployment,
    check_job,
    check_replicaset,
    check_statefulset,
    daemonset_counts,
    job_counts,
    replica_counts,
)


@dataclass(frozen=True)
class KindRules:
    check: Callable[..., HealthStatus]  # the kind's own rules, run after the generic ones
    observed_required: bool = False  # its controller always writes status.observedGeneration
    scales: bool = False  # `check` takes min_ready, an autoscaler's minReplicas
    pods: Callable[[Obj, OwnedBy], list[Obj]] | None = None  # its pods of the current revision
    counts: Callable[[Obj], Replicas] | None = None  # ready/desired, as `deployctl status` shows


DEPLOYMENT = KindRules(check_deployment, True, True, deployment_pods, replica_counts)
STATEFULSET = KindRules(check_statefulset, True, True, statefulset_pods, replica_counts)
DAEMONSET = KindRules(check_daemonset, True, False, owned_pods, daemonset_counts)
REPLICASET = KindRules(check_replicaset, True, False, owned_pods, replica_counts)
JOB = KindRules(check_job, pods=owned_pods, counts=job_counts)
CRONJOB = KindRules(always_current, pods=no_pods)
POD = KindRules(check_pod)
PVC = KindRules(check_pvc)
SERVICE = KindRules(check_service)
NAMESPACE = KindRules(check_namespace)
PDB = KindRules(check_pdb, observed_required=True)
CRD = KindRules(check_crd)
STORED = KindRules(always_current)

KINDS: dict[tuple[str, str], KindRules] = {
    ("apps", "Deployment"): DEPLOYMENT,
    ("apps", "StatefulSet"): STATEFULSET,
    ("apps", "DaemonSet"): DAEMONSET,
    ("apps", "ReplicaSet"): REPLICASET,
    ("extensions", "Deployment"): DEPLOYMENT,
    ("extensions", "DaemonSet"): DAEMONSET,
    ("extensions", "ReplicaSet"): REPLICASET,
    ("batch", "Job"): JOB,
    ("batch", "CronJob"): CRONJOB,
    ("", "Pod"): POD,
    ("", "PersistentVolumeClaim"): PVC,
    ("", "Service"): SERVICE,
    ("", "Namespace"): NAMESPACE,
    ("", "ConfigMap"): STORED,
    ("", "Secret"): STORED,
    ("policy", "PodDisruptionBudget"): PDB,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): CRD,
}
# For an object without apiVersion (hand-written dicts): its kind's first entry above.
_BY_KIND = {kind: rules for (_, kind), rules in reversed(KINDS.items())}


def rules_for(obj: Obj) -> KindRules | None:
    """The table's entry for the object's group and kind; None for a kind without rules."""
    kind, api_version = obj.get("kind", ""), obj.get("apiVersion")
    if not isinstance(api_version, str):
        return _BY_KIND.get(kind)
    return KINDS.get((api_version.rpartition("/")[0], kind))


def object_health(obj: Obj, min_ready: int | None = None) -> HealthStatus:
    """The object's health. `min_ready`: an autoscaler's minReplicas, for the kinds that scale."""
    return health_by(rules_for(obj), obj, min_ready)


def health_by(rules: KindRules | None, obj: Obj, min_ready: int | None = None) -> HealthStatus:
    """The object's health by these rules (None: a kind without rules of its own)."""
    if rules is None:
        return generic.before_kind_rules(obj) or generic.without_rules(obj)
    if decided := generic.before_kind_rules(obj, rules.observed_required):
        return decided
    return rules.check(obj, min_ready) if rules.scales else rules.check(obj)


def workload_pods(workload: Obj, owned_by: OwnedBy) -> list[Obj]:
    """The pods of the workload's current revision (a kind without rules: the pods it owns)."""
    rules = rules_for(workload)
    return (rules.pods if rules and rules.pods else owned_pods)(workload, owned_by)


def ready_count(obj: Obj) -> Replicas | None:
    """(ready, desired) for a workload; None for other kinds."""
    rules = rules_for(obj)
    return rules.counts(obj) if rules and rules.counts else None


def index_by_owner(objects: Iterable[Obj]) -> OwnedBy:
    """An owner index over plain lists of objects (pods, ReplicaSets), for `workload_pods`."""
    index: dict[tuple[str, str], list[Obj]] = {}
    for obj in objects:
        for owner in meta_of(obj).get("ownerReferences") or []:
            index.setdefault((obj.get("kind", ""), owner.get("uid", "")), []).append(obj)
    return lambda _api_version, kind, uid: list(index.get((kind, uid), []))


# Each kind's health, generic rules included.
def deployment_health(obj: Obj, min_ready: int | None = None) -> HealthStatus:
    return health_by(DEPLOYMENT, obj, min_ready)


def statefulset_health(obj: Obj, min_ready: int | None = None) -> HealthStatus:
    return health_by(STATEFULSET, obj, min_ready)


def daemonset_health(obj: Obj) -> HealthStatus:
    return health_by(DAEMONSET, obj)


def replicaset_health(obj: Obj) -> HealthStatus:
    return health_by(REPLICASET, obj)


def job_health(obj: Obj) -> HealthStatus:
    return health_by(JOB, obj)


def pod_health(obj: Obj) -> HealthStatus:
    return health_by(POD, obj)


def pvc_health(obj: Obj) -> HealthStatus:
    return health_by(PVC, obj)


def service_health(obj: Obj) -> HealthStatus:
    return health_by(SERVICE, obj)


def namespace_health(obj: Obj) -> HealthStatus:
    return health_by(NAMESPACE, obj)


def pdb_health(obj: Obj) -> HealthStatus:
    return health_by(PDB, obj)


def crd_health(obj: Obj) -> HealthStatus:
    return health_by(CRD, obj)
