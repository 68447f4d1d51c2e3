"""Policies over the rendered output of every shipped environment.

These render the real overlays with kustomize (the cached build, or one on
PATH) and check what a platform team would refuse to ship.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from deployctl import plan, profile, render
from deployctl.secrets import MASK

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "staging", "production")
WORKLOADS = ("Deployment", "StatefulSet")
STABLE_SELECTOR_KEYS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/component",
    "statefulset.kubernetes.io/pod-name",  # the PostgreSQL primary's client Service
}

# The plan's figures (replicas; HPA min/max/target) and our choices for the rest.
REPLICAS = {
    "dev": {
        "orchestrator": 1,
        "worker": 2,
        "mcp-server": 1,
        "postgresql": 1,
        "rabbitmq": 1,
        "redis": 1,
    },
    "production": {"mcp-server": 3, "postgresql": 3, "rabbitmq": 3, "redis": 3},
}
PRODUCTION_HPA = {"orchestrator": (3, 10, 70), "worker": (10, 50, 80)}
REQUESTS_PRODUCTION = {
    "orchestrator": ("1", "1Gi", "2", "2Gi"),
    "worker": ("500m", "512Mi", "1", "1Gi"),
    "postgresql": ("2", "4Gi", "4", "8Gi"),
    "rabbitmq": ("1", "2Gi", "2", "4Gi"),
    "redis": ("500m", "2Gi", "1", "6Gi"),
}
STORAGE_PRODUCTION = {"postgresql": "100Gi", "rabbitmq": "50Gi", "redis": "20Gi"}


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def rendered(request) -> tuple[str, list[dict]]:
    env = request.param
    prof = profile.load_profile(REPO, env)
    return env, render.render_environment(REPO, prof)


def workloads(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["kind"] in WORKLOADS]


def by_name(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def containers(workload: dict, init: bool = True) -> list[dict]:
    spec = workload["spec"]["template"]["spec"]
    return [*spec["containers"], *(spec.get("initContainers") or [] if init else [])]


def matches(selector: dict, labels: dict) -> bool:
    if not selector:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and value is None:
            return False
        if operator == "DoesNotExist" and value is not None:
            return False
    return True


def test_every_object_carries_part_of_name_and_component_labels(rendered) -> None:
    _, objects = rendered
    for obj in objects:
        labels = obj["metadata"].get("labels") or {}
        for key in (
            "app.kubernetes.io/part-of",
            "app.kubernetes.io/name",
            "app.kubernetes.io/component",
        ):
            assert labels.get(key), f"{render.object_ref(obj)} has no {key} label"


def test_selectors_use_stable_labels_only(rendered) -> None:
    _, objects = rendered
    for obj in objects:
        selector = (obj.get("spec") or {}).get("selector")
        if obj["kind"] == "Service":
            keys = set(selector or {})
        elif isinstance(selector, dict):
            keys = set(selector.get("matchLabels") or {})
        else:
            continue
        assert keys, f"{render.object_ref(obj)} selects nothing"
        assert keys <= STABLE_SELECTOR_KEYS, f"{render.object_ref(obj)} selects on {keys}"


def test_workload_selectors_match_their_pod_template(rendered) -> None:
    _, objects = rendered
    for workload in workloads(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert matches(workload["spec"]["selector"], labels), render.object_ref(workload)
        assert labels.get("app.kubernetes.io/component") == plan.component_of(workload)


def test_every_container_has_requests_limits_and_probes(rendered) -> None:
    _, objects = rendered
    for workload in workloads(objects):
        for container in containers(workload):
            where = f"{render.object_ref(workload)} container {container['name']}"
            resources = container.get("resources") or {}
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind) or {}), f"{where}: {kind}"
        for container in containers(workload, init=False):
            where = f"{render.object_ref(workload)} container {container['name']}"
            assert container.get("readinessProbe"), f"{where}: no readinessProbe"
            assert container.get("livenessProbe"), f"{where}: no livenessProbe"


def test_every_container_runs_as_restricted_non_root(rendered) -> None:
    _, objects = rendered
    for workload in workloads(objects):
        pod = workload["spec"]["template"]["spec"]
        pod_context = pod.get("securityContext") or {}
        for container in containers(workload):
            context = {**pod_context, **(container.get("securityContext") or {})}
            where = f"{render.object_ref(workload)} container {container['name']}"
            assert context.get("runAsNonRoot") is True, f"{where}: runAsNonRoot"
            assert context.get("runAsUser", 1) != 0, f"{where}: runs as uid 0"
            assert context.get("allowPrivilegeEscalation") is False, f"{where}: escalation"
            assert context.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: caps"
            assert (context.get("seccompProfile") or {}).get("type") == "RuntimeDefault", where


def test_every_container_requests_and_limits_ephemeral_storage(rendered) -> None:
    """Without them, eviction under disk pressure picks pods at random (kube-score)."""
    _, objects = rendered
    for workload in workloads(objects):
        for container in containers(workload):
            where = f"{render.object_ref(workload)} container {container['name']}"
            for kind in ("requests", "limits"):
                assert "ephemeral-storage" in container["resources"][kind], f"{where}: {kind}"


def _same_probe(readiness: dict, liveness: dict) -> bool:
    """kube-score's rule: the same HTTP path and port, TCP port, or command."""
    for handler in ("httpGet", "tcpSocket", "exec"):
        if handler in readiness and handler in liveness:
            r, li = readiness[handler], liveness[handler]
            if handler == "httpGet":
                return (r.get("path"), r["port"]) == (li.get("path"), li["port"])
            if handler == "tcpSocket":
                return r["port"] == li["port"]
            return r["command"] == li["command"]
    return False


def test_liveness_never_repeats_readiness(rendered) -> None:
    """A liveness probe that checks what readiness checks restarts healthy pods when a
    dependency fails: liveness asks only whether the process answers."""
    _, objects = rendered
    for workload in workloads(objects):
        for container in containers(workload, init=False):
            where = f"{render.object_ref(workload)} container {container['name']}"
            readiness, liveness = container["readinessProbe"], container["livenessProbe"]
            assert not _same_probe(readiness, liveness), f"{where}: liveness == readiness"


def test_the_stores_export_metrics_from_a_small_restricted_pinned_sidecar(rendered) -> None:
    _, objects = rendered
    sets = by_name(objects, "StatefulSet")
    expected = {
        "postgresql": ("quay.io/prometheuscommunity/postgres-exporter:", 9187),
        "redis": ("oliver006/redis_exporter:", 9121),
    }
    for store, (image, port) in expected.items():
        pod = sets[store]["spec"]["template"]
        (exporter,) = [c for c in pod["spec"]["containers"] if c["name"] == "exporter"]
        assert exporter["image"].startswith(image), exporter["image"]
        assert exporter["ports"] == [{"name": "metrics", "containerPort": port}]
        assert exporter["securityContext"]["readOnlyRootFilesystem"] is True
        assert exporter["resources"]["requests"] == {
            "cpu": "10m",
            "memory": "32Mi",
            "ephemeral-storage": "16Mi",
        }
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
        # The exporter's readiness is its own page, never the store's health.
        assert exporter["readinessProbe"]["httpGet"]["path"] == "/"
        headless = by_name(objects, "Service")[f"{store}-headless"]
        assert {"name": "metrics", "port": port, "targetPort": "metrics"} in headless["spec"][
            "ports"
        ]


def test_every_workload_prefers_one_pod_per_node(rendered) -> None:
    _, objects = rendered
    for workload in workloads(objects):
        pod = workload["spec"]["template"]
        terms = pod["spec"]["affinity"]["podAntiAffinity"][
            "preferredDuringSchedulingIgnoredDuringExecution"
        ]
        assert any(
            t["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
            and matches(t["podAffinityTerm"]["labelSelector"], pod["metadata"]["labels"])
            for t in terms
        ), render.object_ref(workload)


def test_production_ingresses_run_the_waf_and_it_is_switchable(rendered) -> None:
    env, objects = rendered
    for ingress in (o for o in objects if o["kind"] == "Ingress"):
        annotations = ingress["metadata"]["annotations"]
        waf = annotations.get("nginx.ingress.kubernetes.io/enable-modsecurity") == "true"
        owasp = annotations.get("nginx.ingress.kubernetes.io/enable-owasp-core-rules") == "true"
        assert waf == owasp == (env == "production"), f"{env}: {render.object_ref(ingress)}"


def test_images_are_pinned(rendered) -> None:
    _, objects = rendered
    for workload in workloads(objects):
        for container in containers(workload):
            image = container["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            assert "@sha256:" in image or (tag and tag != "latest"), f"{image} is not pinned"


def test_replicas_follow_the_plan(rendered) -> None:
    env, objects = rendered
    for name, count in REPLICAS.get(env, {}).items():
        workload = next(w for w in workloads(objects) if w["metadata"]["name"] == name)
        assert workload["spec"].get("replicas", 1) == count, f"{env}: {name}"


def test_production_autoscales_orchestrator_and_worker_and_never_sets_their_replicas(rendered):
    env, objects = rendered
    hpas = by_name(objects, "HorizontalPodAutoscaler")
    if env != "production":
        assert not hpas
        return
    assert set(hpas) == set(PRODUCTION_HPA)
    for name, (low, high, cpu) in PRODUCTION_HPA.items():
        hpa = hpas[name]["spec"]
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (low, high)
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        (metric,) = hpa["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["averageUtilization"] == cpu
        assert "replicas" not in by_name(objects, "Deployment")[name]["spec"]


def test_production_resources_and_storage_follow_the_plan(rendered) -> None:
    env, objects = rendered
    if env != "production":
        return
    for workload in workloads(objects):
        name = workload["metadata"]["name"]
        if name in REQUESTS_PRODUCTION:
            main = next(c for c in containers(workload, init=False) if c["name"] == name)
            r = main["resources"]
            figures = (
                r["requests"]["cpu"],
                r["requests"]["memory"],
                r["limits"]["cpu"],
                r["limits"]["memory"],
            )
            assert tuple(str(f) for f in figures) == REQUESTS_PRODUCTION[name], name
        if name in STORAGE_PRODUCTION:
            (claim,) = workload["spec"]["volumeClaimTemplates"]
            assert claim["spec"]["resources"]["requests"]["storage"] == STORAGE_PRODUCTION[name]


def test_every_workload_with_more_than_one_replica_has_a_disruption_budget(rendered) -> None:
    env, objects = rendered
    budgets = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    hpas = by_name(objects, "HorizontalPodAutoscaler")
    for workload in workloads(objects):
        name = workload["metadata"]["name"]
        replicas = (
            hpas[name]["spec"]["minReplicas"]
            if name in hpas
            else workload["spec"].get("replicas", 1)
        )
        labels = workload["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if matches(b["spec"]["selector"], labels)]
        if replicas > 1:
            assert len(covering) == 1, f"{env}: {name} ({replicas} replicas) has {len(covering)}"
        else:
            assert not covering, f"{env}: {name} has one replica and a PDB that blocks drains"


def test_every_pod_is_covered_by_a_network_policy_beyond_default_deny(rendered) -> None:
    _, objects = rendered
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    assert any(
        p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        for p in policies
    ), "no default-deny policy"
    specific = [p for p in policies if p["spec"]["podSelector"]]
    for workload in workloads(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert any(matches(p["spec"]["podSelector"], labels) for p in specific), (
            f"{render.object_ref(workload)}: no NetworkPolicy allows its traffic"
        )


def test_namespace_enforces_restricted_pod_security(rendered) -> None:
    env, objects = rendered
    (namespace,) = [o for o in objects if o["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == f"ai-agent-{env}"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_ingress_only_where_the_world_reaches_it(rendered) -> None:
    env, objects = rendered
    ingresses = [o for o in objects if o["kind"] == "Ingress"]
    if env == "dev":
        assert not ingresses
        return
    assert {plan.component_of(i) for i in ingresses} == {"orchestrator", "mcp-server"}
    for ingress in ingresses:
        assert ingress["spec"]["tls"], render.object_ref(ingress)
        assert "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"]


def test_secrets_are_only_those_deployctl_builds_and_render_holds_no_value(rendered) -> None:
    _, objects = rendered
    for secret in (o for o in objects if o["kind"] == "Secret"):
        assert set(secret["data"].values()) == {MASK}, render.object_ref(secret)


def test_no_literal_secret_value_is_committed() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    env_files = [f for f in tracked if Path(f).name.startswith(".env")]
    assert env_files == [".env.example"], env_files
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z_]+=(|change-me.*)", line), f".env.example: {line}"
    for path in (REPO / "manifests").rglob("*.yaml"):
        text = path.read_text()
        assert not re.search(r"^kind:\s*Secret\b", text, re.MULTILINE), f"{path}: a Secret"
        assert not re.search(r"(?i)password\s*[:=]\s*['\"]?[A-Za-z0-9]{6,}", text), path
