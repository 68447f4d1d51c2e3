"""The stores of kind-real, asked through their own tools: replication, Sentinel, the cluster."""

from __future__ import annotations

import json
import re
import time
import uuid

from tests.real.stack import Stack, eventually


def test_the_standby_streams_and_a_row_written_to_postgresql_is_read_from_postgresql_read(
    stack: Stack,
) -> None:
    replication = stack.psql("SELECT application_name, state FROM pg_stat_replication")
    assert replication.splitlines() == ["walreceiver|streaming"], replication
    assert stack.psql("SELECT pg_is_in_recovery()", pod="postgresql-1") == "t"

    marker = uuid.uuid4().hex
    stack.psql("CREATE TABLE IF NOT EXISTS replication_check (marker text PRIMARY KEY)")
    # Written through the primary's Service, from the standby's pod (a client elsewhere).
    written = time.monotonic()
    stack.psql(f"INSERT INTO replication_check VALUES ('{marker}')", "postgresql-1", "postgresql")

    def read_from_standby() -> bool:
        # postgresql-read balances over every pod: ask the standby itself to be sure.
        sql = f"SELECT count(*) FROM replication_check WHERE marker = '{marker}'"
        return stack.psql(sql, pod="postgresql-1", host="127.0.0.1") == "1"

    eventually(read_from_standby, timeout=5, what="the row on the standby", every=0.2)
    print(f"row on the standby {time.monotonic() - written:.2f} s after the INSERT returned")
    read = f"SELECT count(*) FROM replication_check WHERE marker = '{marker}'"
    assert stack.psql(read, pod="postgresql-1", host="postgresql-read") == "1"


def test_sentinel_reports_a_master_two_replicas_and_three_sentinels(stack: Stack) -> None:
    master = stack.sentinel_master()
    assert master["flags"] == "master", master
    assert master["num-slaves"] == "2", master
    assert master["num-other-sentinels"] == "2", master  # 3 sentinels in all
    assert int(master["quorum"]) == 2
    role = stack.redis_cli(master["ip"].split(".")[0], "role").splitlines()
    assert role[0] == "master"


def test_rabbitmq_runs_three_nodes_and_the_task_queue_has_three_members(stack: Stack) -> None:
    status = stack.rabbitmq("rabbitmq-0", "rabbitmq-diagnostics", "-q", "cluster_status")
    running = sorted(status["running_nodes"])
    assert len(running) == 3, running
    assert all(re.fullmatch(r"rabbit@rabbitmq-[012]\.rabbitmq-headless\..+", n) for n in running)

    # The orchestrator declares the quorum queue `tasks` when it starts.
    queues = stack.rabbitmq("rabbitmq-0", "rabbitmq-queues", "-q", "quorum_status", "tasks")
    members = sorted(q["Node Name"] for q in queues)
    assert members == running, queues
    assert sum(q["Raft State"] == "leader" for q in queues) == 1


def test_the_exporters_answer_with_their_stores_up(stack: Stack) -> None:
    pg = stack.metrics("postgresql-0", "postgresql", 9187)
    assert re.search(r"^pg_up 1$", pg, re.M), pg[-2000:]
    redis = stack.metrics("redis-0", "redis", 9121)
    assert re.search(r"^redis_up 1$", redis, re.M), redis[-2000:]
    rabbit = stack.metrics("rabbitmq-0", "rabbitmq", 15692)
    assert re.search(r"^rabbitmq_build_info\{", rabbit, re.M), rabbit[-2000:]


def test_every_metric_of_the_manifests_table_that_an_exporter_serves_is_live(stack: Stack) -> None:
    """manifests/README.md names the metrics the alerts and dashboards read."""
    table = (stack.repo / "manifests/README.md").read_text()
    pages = {
        "pg_": stack.metrics("postgresql-0", "postgresql", 9187)
        + stack.metrics("postgresql-1", "postgresql", 9187),
        "redis_": "".join(stack.metrics(f"redis-{n}", "redis", 9121) for n in range(3)),
        "rabbitmq_": stack.metrics("rabbitmq-0", "rabbitmq", 15692),
    }
    served = {
        name for page in pages.values() for name in re.findall(r"^([a-z_:]+)[{ ]", page, re.M)
    }
    exporters = "postgres_exporter|redis_exporter|RabbitMQ prometheus plugin"
    named = set(re.findall(rf"^\| `([a-z_:]+)` \| (?:{exporters}) \|", table, re.M))
    assert named, "manifests/README.md names no exporter metric"
    missing = sorted(named - served)
    print(f"{len(named)} metrics named; served: {len(named) - len(missing)}; missing: {missing}")
    assert not missing, f"named in manifests/README.md, not served live: {missing}"


def test_a_task_flows_through_every_role_and_mcp_server_reads_redis_else_the_standby(
    stack: Stack,
) -> None:
    """orchestrator -> PostgreSQL + RabbitMQ -> worker -> PostgreSQL + Redis -> mcp-server.

    Reached through the API server's service proxy: it runs on the node, whose traffic
    the NetworkPolicies admit, as the kubelet's probes."""
    task = f"flow-{uuid.uuid4().hex[:8]}"
    payload = json.dumps({"id": task, "payload": {"hello": "world"}})
    stack.kubectl(
        "create", "--raw", stack.service_path("orchestrator", "tasks"), "-f", "-", stdin=payload
    )

    def served() -> dict:
        return json.loads(
            stack.kubectl("get", "--raw", stack.service_path("mcp-server", f"results/{task}"))
        )

    first = eventually(served, timeout=30, what="the result served by mcp-server")
    assert first["source"] == "redis", first
    master = stack.sentinel_master()["ip"].split(".")[0]
    assert stack.redis_cli(master, "del", f"result:{task}") == "1"
    again = served()
    assert again["source"] == "postgresql" and again["result"] == first["result"], again
    assert re.fullmatch(r"[0-9a-f]{64}", first["result"])  # the payload's SHA-256
