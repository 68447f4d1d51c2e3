"""What deploys and failures do to the running system: a steady load, nothing lost.

Each test runs the load generator (tests/real/load.py) through the orchestrator's
Service while it changes the stack one step after another, then reads every task
back from PostgreSQL. The tables (printed; `-s` shows them) give per step the tasks
created, the requests refused, the p99 latency and the redeliveries.
"""

from __future__ import annotations

import time

import pytest

from tests.real.load import Load, Step
from tests.real.stack import ENV, Stack, eventually

pytestmark = pytest.mark.disruptive

RATE = 20  # tasks per second


def healthy(stack: Stack) -> None:
    for component in ("postgresql", "redis", "rabbitmq", "orchestrator", "worker", "mcp-server"):
        eventually(
            lambda c=component: stack.pods_ready(f"app.kubernetes.io/component={c}"),
            timeout=300,
            what=f"{component}'s pods ready",
            every=2,
        )


def orchestrator_image(stack: Stack) -> str:
    path = "jsonpath={.spec.template.spec.containers[0].image}"
    return stack.kubectl("get", "deploy", "orchestrator", "-o", path)


def delete_redis_master(stack: Stack, step: Step) -> None:
    """Delete the master's pod; wait for Sentinel to promote a replica and the pod to return
    as a replica."""
    before = stack.sentinel_master()["ip"]
    pod = before.split(".")[0]
    deleted = time.monotonic()
    stack.kubectl("delete", "pod", pod, "--wait=false")
    after = eventually(
        lambda: (m := stack.sentinel_master()["ip"]) != before and m,
        timeout=120,
        what="Sentinel promoting a replica",
        every=0.5,
    )
    promoted = time.monotonic() - deleted
    eventually(
        lambda: stack.redis_cli(pod, "role").splitlines()[0] == "slave",
        timeout=180,
        what=f"{pod} back as a replica",
        every=2,
    )
    eventually(
        lambda: stack.sentinel_master()["num-slaves"] == "2",
        timeout=60,
        what="Sentinel seeing 2 replicas",
    )
    step.detail = f"(master {pod} -> {after.split('.')[0]}, promoted in {promoted:.1f} s)"


def report(outcome) -> None:
    print()
    print(outcome.table())
    summary = outcome.summary
    print(
        f"sent {summary['sent']}, accepted {summary['accepted']}, refused {summary['refused']}"
        f" times, given up {len(summary['given_up'])}, lost {len(outcome.lost)}"
    )


def test_no_task_is_lost_while_the_apps_roll_forward_and_back_and_redis_fails_over(
    stack: Stack,
) -> None:
    before = orchestrator_image(stack)
    load = Load(stack, rate=RATE)
    with load.step("steady"):
        time.sleep(10)
    with load.step("rollout worker v2"):
        stack.deployctl("rollout", "worker", "v2", "-e", ENV, "--yes")
    with load.step("rollout orchestrator v2"):
        stack.deployctl("rollout", "orchestrator", "v2", "-e", ENV, "--yes")
    with load.step("rollback"):
        stack.deployctl("rollback", "-e", ENV, "--yes")
    with load.step("Redis master deleted") as step:
        delete_redis_master(stack, step)
    with load.step("steady after"):
        time.sleep(10)
    outcome = load.finish()
    report(outcome)

    assert outcome.summary["sent"] >= 1000
    assert outcome.summary["given_up"] == []
    assert outcome.lost == [], f"{len(outcome.lost)} accepted tasks never completed"
    for step in ("rollout worker v2", "rollout orchestrator v2", "rollback"):
        assert outcome.refused_in(step) == 0, (step, outcome.table())
    # The workers kept writing to Redis through the failover: the results of the tasks
    # completed after it are cached on the new master.
    after = next(s for s in outcome.steps if s.name == "steady after")
    recent = sorted(t for t, v in outcome.tasks.items() if v[2] >= after.start and v[3])[:50]
    master = stack.sentinel_master()["ip"].split(".")[0]
    assert len(recent) == 50
    assert stack.redis_cli(master, "exists", *(f"result:{t}" for t in recent)) == "50"
    assert orchestrator_image(stack) == before  # the rollback restored the orchestrator
    healthy(stack)


def test_no_task_is_lost_when_a_rabbitmq_node_and_the_postgresql_primary_are_deleted(
    stack: Stack,
) -> None:
    marker_count = stack.psql("SELECT count(*) FROM tasks")
    load = Load(stack, rate=RATE)
    with load.step("steady"):
        time.sleep(10)
    with load.step("RabbitMQ node deleted") as step:
        stack.kubectl("delete", "pod", "rabbitmq-1", "--wait=false")
        eventually(
            lambda: (
                stack.pods_ready("app.kubernetes.io/component=rabbitmq")
                and len(
                    stack.rabbitmq("rabbitmq-0", "rabbitmq-diagnostics", "-q", "cluster_status")[
                        "running_nodes"
                    ]
                )
                == 3
            ),
            timeout=240,
            what="RabbitMQ back to 3 running nodes",
            every=3,
        )
    with load.step("PostgreSQL primary deleted") as step:
        deleted = time.monotonic()
        stack.kubectl("delete", "pod", "postgresql-0", "--wait=false")
        eventually(
            lambda: stack.pods_ready("statefulset.kubernetes.io/pod-name=postgresql-0"),
            timeout=240,
            what="postgresql-0 ready again",
            every=2,
        )
        step.detail = f"(ready again after {time.monotonic() - deleted:.1f} s)"
        healthy(stack)
    with load.step("steady after"):
        time.sleep(15)
    outcome = load.finish()
    report(outcome)

    # The primary came back with its data: every row before the load is still there.
    assert int(stack.psql("SELECT count(*) FROM tasks")) >= int(marker_count)
    replication = stack.psql("SELECT state FROM pg_stat_replication")
    assert replication == "streaming"
    assert outcome.summary["given_up"] == []
    assert outcome.lost == [], f"{len(outcome.lost)} accepted tasks never completed"
    # The application reconnected: tasks created after the primary returned completed.
    after = next(s for s in outcome.steps if s.name == "steady after")
    completed_after = [t for t in outcome.tasks.values() if t[2] >= after.start and t[3]]
    assert len(completed_after) >= RATE * 5
