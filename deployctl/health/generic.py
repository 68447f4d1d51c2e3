"""kstatus's rules for every kind, custom resources included (generic.go, status.go).

Before any kind's own rules: an object being deleted is Terminating; one
whose controller has not observed its latest generation is InProgress; a
`Reconciling` condition that is True is InProgress and a `Stalled` one that
is True is Failed. After them, for a kind without rules of its own: a
`Ready` condition decides where there is one, else the object is Current.
"""

from __future__ import annotations

from .status import (
    HealthStatus,
    Obj,
    conditions,
    current,
    described,
    failed,
    in_progress,
    meta_of,
    status_of,
    terminating,
)

GENERATION_NOT_OBSERVED = "LatestGenerationNotObserved"
NO_OBSERVED_GENERATION = "NoObservedGeneration"


def deleting(obj: Obj) -> HealthStatus | None:
    if meta_of(obj).get("deletionTimestamp"):
        return terminating("being deleted")
    return None


def generation_pending(obj: Obj, observed_required: bool = False) -> HealthStatus | None:
    """InProgress while the controller has not seen the latest spec.

    kstatus skips the check when status.observedGeneration is missing;
    `observed_required` is for kinds whose controller always writes it, where
    its absence means the controller has not looked yet.
    """
    generation = meta_of(obj).get("generation")
    observed = status_of(obj).get("observedGeneration")
    if generation is None:
        return None
    if observed is None:
        if observed_required:
            message = "waiting for the controller to observe the latest spec"
            return in_progress(message, NO_OBSERVED_GENERATION)
        return None
    if observed != generation:
        message = f"waiting for the controller to observe generation {generation} (seen {observed})"
        return in_progress(message, GENERATION_NOT_OBSERVED)
    return None


def standard_conditions(obj: Obj) -> HealthStatus | None:
    """kstatus's own conditions, in the object's order: Reconciling and Stalled."""
    for cond in conditions(obj):
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Reconciling":
            return in_progress(described(cond, "reconciling"), cond.get("reason") or "Reconciling")
        if cond.get("type") == "Stalled":
            return failed(described(cond, "stalled"), cond.get("reason") or "Stalled")
    return None


def before_kind_rules(obj: Obj, observed_required: bool = False) -> HealthStatus | None:
    """The rules that decide before a kind's own, or None when they do not."""
    return deleting(obj) or generation_pending(obj, observed_required) or standard_conditions(obj)


def ready_condition(obj: Obj) -> HealthStatus | None:
    """A `Ready` condition, the common convention of custom resources."""
    for cond in conditions(obj):
        if cond.get("type") != "Ready":
            continue
        if cond.get("status") == "True":
            return current("Ready")
        if cond.get("status") in ("False", "Unknown"):
            message = f"not Ready: {described(cond, cond['status'])}"
            return in_progress(message, cond.get("reason") or "NotReady")
    return None


def without_rules(obj: Obj) -> HealthStatus:
    """A kind deployctl has no rules for: its Ready condition, else Current."""
    return ready_condition(obj) or current()
