"""Components, the dependency graph, waves and apply order. Pure: no I/O.

A component is a workload and the objects that belong to it, by the
`app.kubernetes.io/component` label. Foundation objects (Namespace, CRDs,
RBAC, ServiceAccounts, ConfigMaps, Secrets, Services, PVCs, NetworkPolicies
...) of every component are applied first; then each component's remaining
objects (its workloads, HPAs, PDBs, Ingresses ...) once every component it
depends on is healthy. Objects without a component label belong to the
foundation.

A component's migration Jobs (annotation `deployctl.dev/migration: "true"`) run
first: its other objects are applied once every migration is complete.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from deployctl.errors import ConfigError
from deployctl.model import COMPONENT_LABEL, MIGRATION_ANNOTATION, TEMPLATE_ANNOTATION, Obj

# Applied before any workload, in this order (kubectl/Helm install order, abridged).
FOUNDATION_KINDS = (
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "PersistentVolumeClaim",
    "Service",
    "IngressClass",
)
WORKLOAD_KINDS = ("StatefulSet", "Deployment", "DaemonSet", "Job", "CronJob")
# Within a component, workloads first so an HPA or PDB never targets a missing object.
COMPONENT_KIND_ORDER = (
    *WORKLOAD_KINDS,
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
)


def containers_of(obj: Obj) -> list[Obj]:
    """The containers of a workload's pod template (none for other kinds)."""
    template = (obj.get("spec") or {}).get("template") or {}
    return (template.get("spec") or {}).get("containers") or []


def component_of(obj: Obj) -> str | None:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(COMPONENT_LABEL)


def component_objects(objects: list[Obj], component: str | None) -> list[Obj]:
    """The objects of one component (all of them for None)."""
    if component is None:
        return objects
    return [o for o in objects if component_of(o) == component]


def workloads(objects: Iterable[Obj]) -> list[Obj]:
    return [o for o in objects if o.get("kind") in WORKLOAD_KINDS]


def is_migration(obj: Obj) -> bool:
    """A Job its component runs to completion before anything else of it changes."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return obj.get("kind") == "Job" and annotations.get(MIGRATION_ANNOTATION) == "true"


def template_digest(job: Obj) -> str:
    """A digest of a Job's pod template: what makes it another run of its migration."""
    template = (job.get("spec") or {}).get("template") or {}
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16]


def stamp_migrations(objects: Iterable[Obj]) -> None:
    """Each migration Job carries its template's digest (TEMPLATE_ANNOTATION), so that the
    next deploy knows from the live Job whether its migration already ran."""
    for obj in objects:
        if is_migration(obj):
            meta = obj["metadata"]
            meta["annotations"] = {
                **(meta.get("annotations") or {}),
                TEMPLATE_ANNOTATION: template_digest(obj),
            }


def stamped_digest(job: Obj) -> str | None:
    """The template digest a Job carries (TEMPLATE_ANNOTATION), as applied or recorded."""
    return ((job.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_ANNOTATION)


def ran_already(job: Obj, live: Obj | None) -> bool:
    """The live Job is this migration (same template digest) and did not fail."""
    if live is None:
        return False
    conditions = (live.get("status") or {}).get("conditions") or []
    failed = any(
        c.get("type") in ("Failed", "FailureTarget") and c.get("status") == "True"
        for c in conditions
    )
    return stamped_digest(live) == template_digest(job) and not failed


def check_migrations(objects: Iterable[Obj]) -> None:
    """The annotation means something only on a Job of a component (exit 2 otherwise)."""
    for obj in objects:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if MIGRATION_ANNOTATION not in annotations:
            continue
        where = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
        if obj.get("kind") != "Job":
            raise ConfigError(
                f"{where}: annotation {MIGRATION_ANNOTATION} is for Jobs only; remove it"
            )
        if annotations[MIGRATION_ANNOTATION] != "true":
            raise ConfigError(
                f'{where}: annotation {MIGRATION_ANNOTATION} must be "true" (or be left out)'
            )
        if component_of(obj) is None:
            raise ConfigError(
                f"{where}: a migration Job needs the {COMPONENT_LABEL} label of the component "
                "it migrates for"
            )


def is_foundation(obj: Obj) -> bool:
    return obj.get("kind") in FOUNDATION_KINDS or component_of(obj) is None


def _kind_rank(obj: Obj, order: tuple[str, ...]) -> tuple[int, str, str]:
    kind = obj.get("kind", "")
    rank = order.index(kind) if kind in order else len(order)
    return rank, kind, (obj.get("metadata") or {}).get("name", "")


@dataclass
class Component:
    name: str
    depends_on: tuple[str, ...] = ()
    objects: list[Obj] = field(default_factory=list)

    @property
    def workloads(self) -> list[Obj]:
        return workloads(self.objects)

    @property
    def migrations(self) -> list[Obj]:
        """Its migration Jobs: applied first, and complete before the rest is applied."""
        return [o for o in self.objects if is_migration(o)]

    @property
    def rollout(self) -> list[Obj]:
        """Everything but its migrations, applied once they are complete."""
        return [o for o in self.objects if not is_migration(o)]


@dataclass
class Plan:
    foundation: list[Obj]
    components: dict[str, Component]
    waves: list[list[str]]

    def apply_order(self) -> list[Obj]:
        """Every object in the order a deploy applies them (wave by wave)."""
        ordered = list(self.foundation)
        for wave in self.waves:
            for name in wave:
                ordered += self.components[name].objects
        return ordered


def build_plan(objects: Iterable[Obj], order: Mapping[str, Iterable[str]]) -> Plan:
    """Group objects into foundation and components; order components by dependencies."""
    objects = list(objects)
    check_migrations(objects)
    foundation: list[Obj] = []
    components: dict[str, Component] = {}
    for obj in objects:
        if is_foundation(obj):
            foundation.append(obj)
        else:
            name = component_of(obj) or ""
            components.setdefault(name, Component(name)).objects.append(obj)
    for name, deps in order.items():
        if name in components:
            # A dependency without deployable objects of its own is already satisfied.
            components[name].depends_on = tuple(d for d in deps if d in components)
    for component in components.values():
        component.objects.sort(key=lambda o: _kind_rank(o, COMPONENT_KIND_ORDER))
    foundation.sort(key=lambda o: _kind_rank(o, FOUNDATION_KINDS))
    return Plan(foundation, components, waves(components, order))


def waves(
    components: Mapping[str, Component], order: Mapping[str, Iterable[str]]
) -> list[list[str]]:
    """Topological levels: each wave depends only on earlier ones (profiles reject cycles)."""
    if cycle := find_cycle(order):
        raise ConfigError(f"order: dependency cycle {' -> '.join(cycle)}")
    remaining = {name: set(c.depends_on) for name, c in components.items()}
    result: list[list[str]] = []
    done: set[str] = set()
    while remaining:
        ready = sorted(name for name, deps in remaining.items() if deps <= done)
        result.append(ready)
        done.update(ready)
        for name in ready:
            del remaining[name]
    return result


def find_cycle(order: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A dependency cycle as [a, b, ..., a], or None."""
    graph = {name: list(deps) for name, deps in order.items()}
    state: dict[str, str] = {}  # "visiting" or "done"
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "visiting"
        path.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == "visiting":
                return [*path[path.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None
