"""The dependency graph as a state machine: start all that may start, fail fast."""

from __future__ import annotations

from deployctl.deploy.scheduler import Scheduler
from deployctl.model import ComponentState

GRAPH = {
    "postgresql": (),
    "redis": (),
    "orchestrator": ("postgresql", "redis"),
    "worker": ("orchestrator",),
    "mcp-server": ("orchestrator",),
    "docs": (),
}


def test_every_component_whose_dependencies_are_healthy_starts_at_once() -> None:
    scheduler = Scheduler(GRAPH)

    assert scheduler.startable() == ["docs", "postgresql", "redis"]  # no batch limit


def test_a_dependent_starts_only_once_every_dependency_is_healthy() -> None:
    scheduler = Scheduler(GRAPH)
    for name in ("postgresql", "redis", "docs"):
        scheduler.move(name, ComponentState.WAITING)
    scheduler.move("postgresql", ComponentState.HEALTHY)

    assert scheduler.startable() == []  # redis is still waiting
    scheduler.move("redis", ComponentState.HEALTHY)
    assert scheduler.startable() == ["orchestrator"]
    scheduler.move("orchestrator", ComponentState.HEALTHY)
    assert scheduler.startable() == ["mcp-server", "worker"]


def test_a_failure_starts_nothing_new_and_names_the_dependency_of_what_did_not_start() -> None:
    scheduler = Scheduler(GRAPH)
    for name in ("postgresql", "redis"):
        scheduler.move(name, ComponentState.WAITING)
    scheduler.move("postgresql", ComponentState.FAILED)

    assert scheduler.startable() == []
    blocked = scheduler.blocked()
    assert blocked["orchestrator"] == "not started: postgresql did not become healthy"
    assert blocked["worker"] == "not started: orchestrator did not become healthy"
    assert blocked["docs"] == "not started: the deploy stopped"
    assert scheduler.state["redis"] is ComponentState.WAITING  # the loop stops it: it is in flight
    assert not scheduler.done
    scheduler.move("redis", ComponentState.STOPPED)
    assert scheduler.done


def test_the_graph_is_done_when_everything_is_healthy() -> None:
    scheduler = Scheduler({"a": (), "b": ("a",)})
    scheduler.move("a", ComponentState.HEALTHY)
    assert not scheduler.done
    scheduler.move("b", ComponentState.HEALTHY)
    assert scheduler.done and scheduler.blocked() == {}
