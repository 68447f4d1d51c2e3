"""Components, the dependency graph, waves and apply order. Pure: no I/O.

A component is a workload and the objects that belong to it, by the
`app.kubernetes.io/component` label. Foundation objects (Namespace, CRDs,
RBAC, ServiceAccounts, ConfigMaps, Secrets, Services, PVCs, NetworkPolicies
...) of every component are applied first; then each component's remaining
objects (its workloads, HPAs, PDBs, Ingresses ...) once every component it
depends on is healthy. Objects without a component label belong to the
foundation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from deployctl.errors import ConfigError
from deployctl.model import COMPONENT_LABEL, Obj

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
        return [o for o in self.objects if o.get("kind") in WORKLOAD_KINDS]


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
