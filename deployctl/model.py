"""The words every module shares: how an object is named, the labels deployctl
reads and writes, the kinds it never deletes, and the states of a run.

Pure: no I/O. Each constant is spelled once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Obj = dict[str, Any]

# -- labels and annotations ---------------------------------------------------------------

COMPONENT_LABEL = "app.kubernetes.io/component"
NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "deployctl"  # the value of MANAGED_BY_LABEL on what deployctl writes for itself

ENV_LABEL = "deployctl.dev/environment"
RECORD_LABEL = "deployctl.dev/record"
REVISION_LABEL = "deployctl.dev/revision"
RESULT_LABEL = "deployctl.dev/result"
GENERATED_ANNOTATION = "deployctl.dev/generated-keys"
# "true" on a Job: its component's migration, run to completion before the component's
# other objects are applied (plan.py, docs/how-up-works.md).
MIGRATION_ANNOTATION = "deployctl.dev/migration"
# On a migration Job as deployctl applies it: a digest of its pod template. A new
# digest means a new migration: the old Job is deleted and the new one created.
TEMPLATE_ANNOTATION = "deployctl.dev/template-digest"

# -- kinds ----------------------------------------------------------------------------------

# Never pruned by `up` nor deleted by `down`: a claim holds data, a namespace holds
# deployctl's records, and a CRD's deletion would take every object of its kind, in
# every namespace, with it.
KEPT_KINDS = frozenset({"PersistentVolumeClaim", "Namespace", "CustomResourceDefinition"})


# -- identity -------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Which object: what the API needs to find it. Prints as messages name it."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @classmethod
    def of(cls, obj: Obj) -> ObjectRef:
        metadata = obj.get("metadata") or {}
        return cls(
            obj.get("apiVersion", "?"),
            obj.get("kind", "?"),
            metadata.get("name", "?"),
            metadata.get("namespace") or None,
        )

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def __str__(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.kind}/{self.name}{where}"


def ref(obj: Obj) -> str:
    """kind/name in namespace ns — how every message names an object."""
    return str(ObjectRef.of(obj))


# -- states ---------------------------------------------------------------------------------


class ComponentState(StrEnum):
    """Where one component of a run is."""

    PENDING = "pending"
    APPLYING = "applying"
    WAITING = "waiting"
    HEALTHY = "healthy"
    FAILED = "failed"
    NOT_STARTED = "not-started"  # a dependency did not become healthy, or the run stopped
    STOPPED = "stopped"  # was waiting when the run stopped

    @property
    def finished(self) -> bool:
        return self in FINISHED_STATES


FINISHED_STATES = frozenset(
    {
        ComponentState.HEALTHY,
        ComponentState.FAILED,
        ComponentState.NOT_STARTED,
        ComponentState.STOPPED,
    }
)


class ChangeAction(StrEnum):
    """What a run does to one object."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    UNKNOWN = "unknown"  # read-only runs without secret values cannot compare a Secret
    REPLACE = "replace"  # a migration Job to run again: deleted, gone, then created
    PRUNE = "prune"


class RevisionResult(StrEnum):
    """How the run that a revision records ended."""

    PENDING = "pending"  # written before the first apply; settled when the run ends
    DEPLOYED = "deployed"  # healthy: what the cluster runs now
    SUPERSEDED = "superseded"  # was deployed; a newer deployed revision replaced it
    FAILED = "failed"  # something did not become healthy; its objects stay applied
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM, or a deploy that died mid-way
    ROLLED_BACK = "rolled-back"  # a rollout that failed and was undone by itself

    @property
    def successful(self) -> bool:
        return self in (RevisionResult.DEPLOYED, RevisionResult.SUPERSEDED)
