"""components/monitoring inside each environment's overlay.

Built with kustomize (the cached build, or one on PATH), like
test_manifests_policy: the component builds into every overlay, its alerts
and dashboards land in the overlay's namespace with the stack's labels, and
deployctl's plan groups each PrometheusRule with the component it watches
(the dashboards, ConfigMaps, with the foundation). No overlay includes it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from deployctl import plan, profile, render

REPO = Path(__file__).resolve().parents[2]
COMPONENT = REPO / "manifests" / "components" / "monitoring"
ENVIRONMENTS = ("dev", "staging", "production")
RULES = {
    "ai-agent-orchestrator": "platform",
    "postgresql": "postgresql",
    "rabbitmq": "rabbitmq",
    "redis": "redis",
}
DASHBOARDS = {
    "grafana-dashboard-ai-agent-overview": ("platform", "overview.json"),
    "grafana-dashboard-postgresql": ("postgresql", "postgresql.json"),
    "grafana-dashboard-rabbitmq": ("rabbitmq", "rabbitmq.json"),
    "grafana-dashboard-redis": ("redis", "redis.json"),
}


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def with_monitoring(request, tmp_path_factory) -> tuple[str, list[dict]]:
    """The environment's overlay plus components/monitoring, in its namespace, as an overlay
    that lists the component among its own `components:` builds it."""
    env = request.param
    overlay = tmp_path_factory.mktemp(f"{env}-monitoring")
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": profile.load_profile(REPO, env).namespace,
                "resources": [os.path.relpath(REPO / "manifests" / "overlays" / env, overlay)],
                "components": [os.path.relpath(COMPONENT, overlay)],
            }
        )
    )
    done = subprocess.run(
        [*render.kustomize_command(), str(overlay)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return env, [o for o in yaml.safe_load_all(done.stdout) if o]


def labels(obj: dict) -> dict:
    return obj["metadata"].get("labels") or {}


def test_the_component_adds_its_alerts_and_dashboards_to_the_overlay(with_monitoring) -> None:
    env, objects = with_monitoring
    namespace = profile.load_profile(REPO, env).namespace
    rules = {o["metadata"]["name"]: o for o in objects if o["kind"] == "PrometheusRule"}
    boards = {o["metadata"]["name"]: o for o in objects if labels(o).get("grafana_dashboard")}
    assert set(rules) == set(RULES)
    assert set(boards) == set(DASHBOARDS)
    for name, obj in {**rules, **boards}.items():
        assert obj["metadata"]["namespace"] == namespace, name
        assert labels(obj)["app.kubernetes.io/part-of"] == "ai-agent-orchestrator", name
    for name, rule in rules.items():
        assert labels(rule)["app.kubernetes.io/component"] == RULES[name]
    for name, board in boards.items():
        component, key = DASHBOARDS[name]
        assert board["kind"] == "ConfigMap"
        assert labels(board)["app.kubernetes.io/component"] == component
        assert labels(board)["grafana_dashboard"] == "1"
        assert json.loads(board["data"][key])["uid"]


def test_deployctl_groups_each_alert_with_its_component(with_monitoring) -> None:
    env, objects = with_monitoring
    built = plan.build_plan(objects, profile.load_profile(REPO, env).order)
    for name, component in RULES.items():
        kinds = {(o["kind"], o["metadata"]["name"]) for o in built.components[component].objects}
        assert ("PrometheusRule", name) in kinds
    # The stack-wide rules: a component with nothing to wait for, applied first.
    assert built.components["platform"].workloads == []
    assert "platform" in built.waves[0]
    foundation = {o["metadata"]["name"] for o in built.foundation if o["kind"] == "ConfigMap"}
    assert set(DASHBOARDS) <= foundation


def test_no_environment_includes_the_component() -> None:
    for env in ENVIRONMENTS:
        objects = render.render_environment(REPO, profile.load_profile(REPO, env))
        assert not [o for o in objects if o["kind"] in ("PrometheusRule", "ServiceMonitor")], env
        assert not [o for o in objects if labels(o).get("grafana_dashboard")], env
