"""Kinds that are not workloads: claims, Services, namespaces, budgets, CRDs (kstatus core.go)."""

from __future__ import annotations

from .status import (
    HealthState,
    HealthStatus,
    Obj,
    condition,
    current,
    described,
    failed,
    in_progress,
    meta_of,
    spec_of,
    status_of,
)

SELECTED_NODE = "volume.kubernetes.io/selected-node"


def always_current(_obj: Obj) -> HealthStatus:
    """ConfigMap, Secret, CronJob: nothing to wait for once stored."""
    return current()


def check_pvc(obj: Obj) -> HealthStatus:
    phase = status_of(obj).get("phase")
    if phase == "Bound":
        return current("Bound")
    if phase == "Lost":
        return failed("the claim lost its volume", "ClaimLost")
    if not phase:
        return in_progress("not yet seen by the volume controller", "NotBound")
    if SELECTED_NODE not in (meta_of(obj).get("annotations") or {}):
        # On a WaitForFirstConsumer class a claim binds only when a pod needs it.
        return current("Pending until its first consumer is scheduled")
    return in_progress("waiting for the volume to be provisioned", "NotBound")


def check_service(obj: Obj) -> HealthStatus:
    """A LoadBalancer Service waits for its address (kstatus: for its cluster IP only)."""
    if spec_of(obj).get("type") != "LoadBalancer":
        return current()
    if not (status_of(obj).get("loadBalancer") or {}).get("ingress"):
        return in_progress("waiting for a load balancer address", "NoIngress")
    return current()


def check_namespace(obj: Obj) -> HealthStatus:
    if status_of(obj).get("phase") == "Terminating":
        return HealthStatus(HealthState.TERMINATING, "namespace is terminating", "Terminating")
    return current()


def check_pdb(_obj: Obj) -> HealthStatus:
    """Current once the disruption controller has observed it (the generic rules)."""
    return current()


def check_crd(obj: Obj) -> HealthStatus:
    names = condition(obj, "NamesAccepted")
    if names and names.get("status") == "False":
        reason = names.get("reason") or "NamesNotAccepted"
        return failed(f"names not accepted: {described(names, reason)}", reason)
    established = condition(obj, "Established") or {}
    if established.get("status") == "True":
        return current("Established")
    if established.get("status") == "False" and established.get("reason") != "Installing":
        reason = established.get("reason") or "NotEstablished"
        return failed(f"not Established: {described(established, reason)}", reason)
    return in_progress("not Established yet", "Installing")
