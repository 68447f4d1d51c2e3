"""Components, dependency order and waves, on plain dicts."""

from __future__ import annotations

import pytest

from deployctl.errors import ConfigError
from deployctl.plan import build_plan, find_cycle

ORDER = {
    "postgresql": [],
    "rabbitmq": [],
    "orchestrator": ["postgresql", "rabbitmq"],
    "worker": ["orchestrator"],
    "mcp-server": ["orchestrator"],
}


def obj(kind: str, name: str, component: str | None = None) -> dict:
    labels = {"app.kubernetes.io/component": component} if component else {}
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "labels": labels}}


def stack() -> list[dict]:
    return [
        obj("Deployment", "worker", "worker"),
        obj("HorizontalPodAutoscaler", "worker", "worker"),
        obj("Service", "orchestrator", "orchestrator"),
        obj("Deployment", "orchestrator", "orchestrator"),
        obj("StatefulSet", "postgresql", "postgresql"),
        obj("ConfigMap", "postgresql-config", "postgresql"),
        obj("StatefulSet", "rabbitmq", "rabbitmq"),
        obj("Deployment", "mcp-server", "mcp-server"),
        obj("Namespace", "app", "platform"),
        obj("Secret", "postgresql-credentials", "postgresql"),
        obj("PodDisruptionBudget", "worker", "worker"),
    ]


def test_stores_come_before_orchestrator_and_apps_after_it() -> None:
    plan = build_plan(stack(), ORDER)

    assert plan.waves == [["postgresql", "rabbitmq"], ["orchestrator"], ["mcp-server", "worker"]]


def test_foundation_objects_of_every_component_are_applied_first_namespace_leading() -> None:
    order = [(o["kind"], o["metadata"]["name"]) for o in build_plan(stack(), ORDER).apply_order()]

    assert order[:4] == [
        ("Namespace", "app"),
        ("Secret", "postgresql-credentials"),
        ("ConfigMap", "postgresql-config"),
        ("Service", "orchestrator"),
    ]
    assert order.index(("StatefulSet", "postgresql")) < order.index(("Deployment", "orchestrator"))
    assert order.index(("Deployment", "orchestrator")) < order.index(("Deployment", "worker"))


def test_a_workload_precedes_its_autoscaler_and_disruption_budget() -> None:
    worker = build_plan(stack(), ORDER).components["worker"]

    assert [o["kind"] for o in worker.objects] == [
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    ]


def test_component_without_order_entry_is_independent() -> None:
    plan = build_plan([*stack(), obj("Deployment", "extra", "extra")], ORDER)

    assert "extra" in plan.waves[0]


def test_cycle_is_found_and_named() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle(ORDER) is None
    with pytest.raises(ConfigError, match="dependency cycle"):
        build_plan(stack(), {**ORDER, "postgresql": ["worker"]})
