"""The work the benchmark deploys, in the form each tool takes it.

deployctl gets a project (``environments/<env>.yaml`` and a Kustomize overlay).
The ordered kubectl workflow and Helm get the very same objects, rendered by
`deployctl render --show-secrets`: kubectl as the foundation plus one batch per
dependency level, Helm as one chart holding everything.

The synthetic projects have N components in four levels; each component is a
ConfigMap, ServiceAccount, Service, NetworkPolicy, Deployment (2 replicas) and
PodDisruptionBudget, and each one above level 0 depends on two of the level
below (the profile's `order` says so).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deployctl.plan import COMPONENT_LABEL, FOUNDATION_KINDS

REPO = Path(__file__).resolve().parents[1]
# The profile's namespace while rendering; replaced by each run's namespace.
NAMESPACE_TOKEN = "bench-namespace-token"
# The kubectl workflow applies in deployctl's own order: the foundation first (plan.py).
# What `kubectl rollout status` waits for, and what starts a level on the critical path.
WORKLOAD_KINDS = ("StatefulSet", "Deployment", "DaemonSet")
COMPONENT_KIND_ORDER = (*WORKLOAD_KINDS, "HorizontalPodAutoscaler", "PodDisruptionBudget")
SHIPPED_ENVIRONMENTS = ("dev", "staging", "production")
SYNTHETIC_ENV = "bench"
SYNTHETIC_LEVELS = 4
REPLICAS = 2
IMAGE = "deployctl.local/bench"
TAG = "v1"
CONTAINER = "app"

Obj = dict[str, Any]


@dataclass
class Work:
    """One thing every tool deploys: a deployctl project and its rendered objects."""

    key: str  # "dev", "c20", ...
    title: str
    root: Path  # the deployctl project (a copy, or generated)
    env: str
    synthetic: bool
    components: int = 0
    rendered: str = ""  # `deployctl render` output, namespace NAMESPACE_TOKEN
    order: dict[str, list[str]] = field(default_factory=dict)
    # Set by describe() once rendered:
    count: int = 0
    kinds: int = 0
    levels: dict[str, int] = field(default_factory=dict)  # component -> dependency level

    @property
    def profile_path(self) -> Path:
        return self.root / "environments" / f"{self.env}.yaml"

    def use_namespace(self, namespace: str, context: str) -> None:
        """Point the profile at this run's namespace and the benchmark's cluster."""
        profile = yaml.safe_load(self.profile_path.read_text())
        profile["namespace"] = namespace
        profile["context"] = context
        profile.pop("server", None)
        self.profile_path.write_text(yaml.safe_dump(profile, sort_keys=False))
        self.order = {k: list(v or []) for k, v in (profile.get("order") or {}).items()}

    def objects(self, namespace: str = NAMESPACE_TOKEN) -> list[Obj]:
        return load_all(self.rendered.replace(NAMESPACE_TOKEN, namespace))

    def describe(self) -> None:
        """Count what was rendered, once: objects, kinds, each component's level."""
        objects = self.objects()
        self.count = len(objects)
        self.kinds = len({(o.get("apiVersion"), o.get("kind")) for o in objects})
        present = {component_of(o) for o in objects if not is_foundation(o)}
        self.levels = dependency_levels(self.order, {c for c in present if c})

    @property
    def rollout_component(self) -> str | None:
        """A component nothing depends on, for the rollout comparison (synthetic only)."""
        return component_name(SYNTHETIC_LEVELS - 1, 0) if self.synthetic else None


def load_all(text: str) -> list[Obj]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(text, Loader=loader) if doc]


def component_of(obj: Obj) -> str | None:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(COMPONENT_LABEL)


def is_foundation(obj: Obj) -> bool:
    return obj.get("kind") in FOUNDATION_KINDS or component_of(obj) is None


def dependency_levels(order: Mapping[str, list[str]], components: set[str]) -> dict[str, int]:
    """Longest chain of dependencies below each component (the profile rejects cycles)."""
    levels: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in levels:
            deps = [d for d in order.get(name, []) if d in components and d != name]
            levels[name] = 1 + max(map(level, deps)) if deps else 0
        return levels[name]

    for name in sorted(components):
        level(name)
    return levels


def _rank(obj: Obj, order: tuple[str, ...]) -> int:
    return order.index(obj["kind"]) if obj["kind"] in order else len(order)


def ordered_batches(objects: list[Obj], levels: Mapping[str, int]) -> list[list[Obj]]:
    """The ordered kubectl workflow's applies: the foundation (with the Namespace), then
    each level's objects, workloads first."""
    namespace = next(o["metadata"]["namespace"] for o in objects if "namespace" in o["metadata"])
    foundation = sorted(
        (o for o in objects if is_foundation(o)), key=lambda o: _rank(o, FOUNDATION_KINDS)
    )
    if not any(o["kind"] == "Namespace" for o in foundation):
        foundation.insert(
            0, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
    batches = [foundation]
    for level in range(max(levels.values(), default=-1) + 1):
        batch = [
            o
            for o in objects
            if not is_foundation(o) and levels.get(component_of(o) or "") == level
        ]
        batches.append(sorted(batch, key=lambda o: _rank(o, COMPONENT_KIND_ORDER)))
    return batches


def workloads(batch: list[Obj]) -> list[str]:
    """`kind/name` of each workload in a batch, for `kubectl rollout status`."""
    return [
        f"{o['kind'].lower()}/{o['metadata']['name']}" for o in batch if o["kind"] in WORKLOAD_KINDS
    ]


def write_yaml(path: Path, objects: list[Obj]) -> Path:
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    return path


# Helm: every object a file of the chart, all emitted by one template. `.Files.Get`
# content is not templated again, so config files that contain `{{` stay as they are.
CHART_TEMPLATE = """\
{{- range $path, $_ := .Files.Glob "objects/*.yaml" }}
---
{{ $.Files.Get $path }}
{{- end }}
"""


def write_chart(folder: Path, objects: list[Obj], name: str = "bench") -> Path:
    """A Helm chart of the objects; the Namespace is left to `helm install --create-namespace`."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "templates").mkdir(parents=True)
    (folder / "objects").mkdir()
    chart = {"apiVersion": "v2", "name": name, "version": "0.1.0", "type": "application"}
    (folder / "Chart.yaml").write_text(yaml.safe_dump(chart, sort_keys=False))
    (folder / "templates" / "objects.yaml").write_text(CHART_TEMPLATE)
    kept = [o for o in objects if o["kind"] != "Namespace"]
    for index, obj in enumerate(kept):
        (folder / "objects" / f"{index:05d}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))
    return folder


# --- the shipped stacks ------------------------------------------------------------------


def shipped(env: str, workdir: Path) -> Work:
    """A copy of this repository's project, so its profile can be pointed elsewhere."""
    root = workdir / f"stack-{env}"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    # charts/ too: a profile renders from the chart (staging-chart), and every profile is
    # loaded, and checked, whichever one is deployed.
    for name in ("manifests", "charts", "environments"):
        shutil.copytree(REPO / name, root / name)
    profile = yaml.safe_load((root / "environments" / f"{env}.yaml").read_text())
    order = profile.get("order") or {}
    return Work(env, f"shipped {env} stack", root, env, synthetic=False, components=len(order))


def secret_values() -> dict[str, str]:
    """Dummy values for every variable `.env.example` names (staging and production need them)."""
    names = []
    for line in (REPO / ".env.example").read_text().splitlines():
        key, sep, _ = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            names.append(key.strip())
    return {name: f"bench-{name.lower().replace('_', '-')}-0123456789abcdef" for name in names}


# --- synthetic projects ---------------------------------------------------------------------


def component_name(level: int, index: int) -> str:
    return f"l{level}-c{index:03d}"


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": component, COMPONENT_LABEL: component}


def synthetic_component(component: str, level: int, depends_on: list[str]) -> list[Obj]:
    """The six objects of one synthetic component."""
    labels = {**_labels(component), "app.kubernetes.io/part-of": "bench"}
    selector = _labels(component)

    def meta(name: str = component) -> dict:
        return {"name": name, "labels": labels}

    pod_spec = {
        "serviceAccountName": component,
        "terminationGracePeriodSeconds": 1,
        "containers": [
            {
                "name": CONTAINER,
                "image": f"{IMAGE}:{TAG}",
                "ports": [{"containerPort": 8080, "name": "http"}],
                "envFrom": [{"configMapRef": {"name": component}}],
                "readinessProbe": {
                    "httpGet": {"path": "/healthz", "port": 8080},
                    "periodSeconds": 2,
                },
                "resources": {
                    "requests": {"cpu": "10m", "memory": "16Mi"},
                    "limits": {"memory": "64Mi"},
                },
            }
        ],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(),
            "data": {"LEVEL": str(level), "DEPENDS_ON": ",".join(depends_on), "LOG_LEVEL": "info"},
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta()},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(),
            "spec": {
                "selector": selector,
                "ports": [{"name": "http", "port": 8080, "targetPort": "http"}],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(),
            "spec": {
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "bench"}}}
                        ],
                        "ports": [{"port": 8080, "protocol": "TCP"}],
                    }
                ],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(),
            "spec": {
                "replicas": REPLICAS,
                "selector": {"matchLabels": selector},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": meta(),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}},
        },
    ]


def synthetic_order(components: int) -> dict[str, list[str]]:
    """Four levels of components/4 each; above level 0, each depends on two of the level below."""
    if components % SYNTHETIC_LEVELS or components < 2 * SYNTHETIC_LEVELS:
        raise ValueError(f"{components} components: need a multiple of {SYNTHETIC_LEVELS}, >= 8")
    per_level = components // SYNTHETIC_LEVELS
    order: dict[str, list[str]] = {}
    for level in range(SYNTHETIC_LEVELS):
        for index in range(per_level):
            below = [component_name(level - 1, (index + k) % per_level) for k in (0, 1)]
            order[component_name(level, index)] = below if level else []
    return order


def synthetic(components: int, workdir: Path) -> Work:
    """A generated project: manifests/base/<component>.yaml, one overlay, one profile."""
    root = workdir / f"synthetic-{components}"
    if root.exists():
        shutil.rmtree(root)
    base = root / "manifests" / "base"
    overlay = root / "manifests" / "overlays" / SYNTHETIC_ENV
    base.mkdir(parents=True)
    overlay.mkdir(parents=True)
    order = synthetic_order(components)
    files = []
    for name, deps in order.items():
        level = int(name[1 : name.index("-")])
        write_yaml(base / f"{name}.yaml", synthetic_component(name, level, deps))
        files.append(f"{name}.yaml")
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    (base / "kustomization.yaml").write_text(yaml.safe_dump({**kustomization, "resources": files}))
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump({**kustomization, "namespace": NAMESPACE_TOKEN, "resources": ["../../base"]})
    )
    (root / "environments").mkdir()
    profile = {
        "overlay": f"manifests/overlays/{SYNTHETIC_ENV}",
        "context": "unset",
        "namespace": NAMESPACE_TOKEN,
        "default": True,
        "timeouts": {"component": "2m", "unschedulable": "15s"},
        "order": order,
    }
    (root / "environments" / f"{SYNTHETIC_ENV}.yaml").write_text(
        yaml.safe_dump(profile, sort_keys=False)
    )
    return Work(f"c{components}", f"{components} components", root, SYNTHETIC_ENV, True, components)


def render(work: Work, deployctl: list[str], context: str, env: Mapping[str, str]) -> None:
    """Fill `work.rendered` from `deployctl render ENV --show-secrets` (namespace: the token)."""
    work.use_namespace(NAMESPACE_TOKEN, context)
    done = subprocess.run(
        [*deployctl, "render", work.env, "--show-secrets", "--project", str(work.root)],
        capture_output=True,
        text=True,
        env=dict(env),
    )
    if done.returncode != 0:
        raise RuntimeError(f"deployctl render {work.env} failed:\n{done.stderr.strip()}")
    work.rendered = done.stdout
    work.describe()
