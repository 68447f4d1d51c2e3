"""End-to-end check of the reference application on Docker alone (no Kubernetes).

    python3 tests/e2e/app/check.py [--no-build] [--keep] [--tasks N]

On a Docker network of its own (h-app-net) it runs the stores' offline images
(`deployctl.local/postgres`, `rabbitmq`, `redis` as server and as one Sentinel)
and the three roles from `deployctl.local/app-*:v1`, each with the environment the
manifests give it (dev's ConfigMaps, the Secrets' keys, staging's REDIS_SENTINEL_*),
read-only root and the manifests' uid. Then, through published ports on 127.0.0.1:

1. POSTs N tasks (8 clients), SIGKILLs worker 1 mid-stream and starts it again;
2. POSTs N more, sends SIGTERM to worker 2 and then the orchestrator mid-stream,
   starts them again and re-POSTs every id that got no 202/200;
3. re-POSTs some accepted ids (idempotency: 200, no second task) and publishes a
   second message for 20 completed tasks straight to the queue (the worker's write);
4. waits until every task is completed and checks in PostgreSQL that each is
   completed once with the right result, in the workers' logs that each id was
   completed by exactly one delivery, and through mcp-server that each result reads.

`run_check()` returns the numbers and raises AssertionError on a failure, for a
later pytest to call; nothing collects this file by default. Every container and
the network it started are removed at the end (unless --keep).
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.e2e.app.load import app_image, build_app

NETWORK = "h-app-net"
PREFIX = "h-app-"
PG_PASSWORD = "pg-secret"
MQ_USER, MQ_PASSWORD = "app", "mq-secret"
REDIS_PASSWORD = "redis-secret"

# The ConfigMaps' values (manifests/base/*/configmap.yaml) and the Secrets' keys as the
# Deployments map them; Sentinel's from components/redis-sentinel (staging, production).
COMMON = {
    "LOG_LEVEL": "info",
    "POSTGRES_HOST": "postgresql",
    "POSTGRES_PORT": "5432",
    "POSTGRES_DB": "orchestrator",
    "POSTGRES_USER": "postgres",
    "POSTGRES_PASSWORD": PG_PASSWORD,
    "RABBITMQ_HOST": "rabbitmq",
    "RABBITMQ_PORT": "5672",
    "RABBITMQ_VHOST": "/",
    "RABBITMQ_USER": MQ_USER,
    "RABBITMQ_PASSWORD": MQ_PASSWORD,
    "REDIS_HOST": "redis",
    "REDIS_PORT": "6379",
    "REDIS_PASSWORD": REDIS_PASSWORD,
    "REDIS_SENTINEL_HOST": "redis-sentinel",
    "REDIS_SENTINEL_PORT": "26379",
    "REDIS_SENTINEL_MASTER": "mymaster",
}
ROLE_ENV = {
    "orchestrator": {**COMMON, "PORT": "8080"},
    # WORKER_WORK_DELAY: the check's own knob, so that work is in flight when it kills.
    "worker": {
        **COMMON,
        "METRICS_PORT": "8081",
        "WORKER_PREFETCH": "5",
        "WORKER_WORK_DELAY": "100ms",
    },
    # mcp-server: the manifests give it neither POSTGRES_* nor the orchestrator's port
    # (the Service maps 80 to 8080; here there is no Service).
    "mcp-server": {
        "LOG_LEVEL": "info",
        "PORT": "3001",
        "ORCHESTRATOR_URL": "http://orchestrator:8080",
        **{k: v for k, v in COMMON.items() if k.startswith(("REDIS_", "POSTGRES_"))},
        "POSTGRES_READ_HOST": "postgresql-read",
    },
}
ROLE_PORT = {"orchestrator": 8080, "worker": 8081, "mcp-server": 3001}
SENTINEL_CONF = f"""port 26379
dir /tmp
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel monitor mymaster redis 6379 1
sentinel down-after-milliseconds mymaster 5000
sentinel auth-pass mymaster "{REDIS_PASSWORD}"
requirepass "{REDIS_PASSWORD}"
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], check=False, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def store_image(name: str) -> str:
    """The newest `deployctl.local/<name>` image (built by `cluster build --stores`)."""
    out = docker("images", "--format", "{{.Repository}}:{{.Tag}}", f"deployctl.local/{name}")
    images = [line for line in out.splitlines() if line and not line.endswith(":<none>")]
    if not images:
        raise RuntimeError(f"no deployctl.local/{name} image: run deployctl cluster build --stores")
    return images[0]


class Stack:
    def __init__(self) -> None:
        self.started: list[str] = []

    def run(self, name, image, *cmd, env=None, aliases=(), port=None, extra=()) -> str:
        container = PREFIX + name
        args = ["run", "-d", "--name", container, "--hostname", name, "--network", NETWORK]
        for alias in aliases:
            args += ["--network-alias", alias]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        if port:
            args += ["-p", f"127.0.0.1::{port}"]
        docker(*args, *extra, image, *cmd)
        self.started.append(container)
        return container

    def app(self, role: str, name: str, tag: str = "v1") -> str:
        # As the manifests run it: read-only root, /tmp an emptyDir, no capabilities.
        extra = ("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--user", "10001:10001")
        aliases = (role,) if name == role else ()
        return self.run(
            name,
            app_image(role, tag),
            env=ROLE_ENV[role],
            aliases=aliases,
            port=ROLE_PORT[role],
            extra=extra,
        )

    def url(self, name: str, port: int) -> str:
        mapped = docker("port", PREFIX + name, f"{port}/tcp").splitlines()[0]
        return "http://127.0.0.1:" + mapped.rsplit(":", 1)[1]

    def cleanup(self) -> None:
        for container in reversed(self.started):
            docker("rm", "-f", "-v", container, check=False)
        docker("network", "rm", NETWORK, check=False)


def http(method: str, url: str, body=None, timeout: float = 20, auth=None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read() or b"{}")
        except ValueError:
            return err.code, {}


def wait_ready(url: str, path: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http("GET", url + path, timeout=3)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url}{path} not ready after {timeout:.0f}s")


def payload(task_id: str) -> dict:
    return {"n": int(task_id.split("-")[1]), "text": f"work for {task_id}"}


def expected_result(task_id: str) -> str:
    compact = json.dumps(payload(task_id), separators=(",", ":"))
    return hashlib.sha256(compact.encode()).hexdigest()


def psql(sql: str) -> list[list[str]]:
    out = docker(
        "exec",
        PREFIX + "postgres",
        "psql",
        "-U",
        "postgres",
        "-d",
        "orchestrator",
        "-At",
        "-F",
        "|",
        "-c",
        sql,
    )
    return [line.split("|") for line in out.splitlines() if line]


class Poster:
    """Eight clients POSTing ids; outcome per id; hooks run once at a count of 202s."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.outcome: dict[str, int | str] = {}
        self.lock = threading.Lock()
        self.accepted = 0

    def post(self, task_id: str, hooks: dict[int, callable]) -> None:
        try:
            code, _ = http(
                "POST",
                self.stack.url("orchestrator", 8080) + "/tasks",
                {"id": task_id, "payload": payload(task_id)},
            )
        except (OSError, RuntimeError) as err:
            code = f"error: {type(err).__name__}"
        hook = None
        with self.lock:
            self.outcome[task_id] = code
            if code == 202:
                self.accepted += 1
                hook = hooks.pop(self.accepted, None)
        if hook:
            hook()

    def run(self, ids: list[str], hooks: dict[int, callable]) -> None:
        self.accepted = 0  # the hooks count this run's 202s
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: self.post(i, hooks), ids))


def worker_events() -> tuple[collections.Counter, int, int]:
    """From both workers' logs: completions per id, duplicate deliveries, completions
    from a redelivered message."""
    completed: collections.Counter = collections.Counter()
    duplicates = redelivered = 0
    for name in ("worker-1", "worker-2"):
        for line in docker("logs", PREFIX + name).splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "task_completed":
                completed[entry["task"]] += 1
                redelivered += bool(entry.get("redelivered"))
            elif entry.get("event") == "task_duplicate":
                duplicates += 1
    return completed, duplicates, redelivered


def metrics(stack: Stack, name: str) -> dict[str, str]:
    """The app_* samples of a role's /metrics (since its last start)."""
    port = 8080 if name == "orchestrator" else 8081
    with urllib.request.urlopen(stack.url(name, port) + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("app_tasks"))


def run_check(tasks: int = 300, build: bool = True, keep: bool = False) -> dict:
    if build:
        log("building the app images")
        build_app(("v1",))
    stack = Stack()
    docker("network", "create", NETWORK)
    try:
        return _check(stack, tasks)
    finally:
        if keep:
            log(f"kept: {' '.join(stack.started)} on {NETWORK}")
        else:
            stack.cleanup()
            log("containers and network removed")


def _check(stack: Stack, tasks: int) -> dict:
    log("starting the stores")
    stack.run(
        "postgres",
        store_image("postgres"),
        # The manifests' postgresql.conf says listen_addresses = '*'; the image's default
        # is the official image's initdb default, localhost only.
        "postgres",
        "-c",
        "listen_addresses=*",
        aliases=("postgresql", "postgresql-read"),
        env={"POSTGRES_PASSWORD": PG_PASSWORD, "POSTGRES_DB": "orchestrator"},
        extra=("--tmpfs", "/var/lib/postgresql/data:uid=70,gid=70"),
    )
    stack.run(
        "rabbitmq",
        store_image("rabbitmq"),
        port=15672,
        env={
            "RABBITMQ_DEFAULT_USER": MQ_USER,
            "RABBITMQ_DEFAULT_PASS": MQ_PASSWORD,
            "RABBITMQ_ERLANG_COOKIE": "h-app-cookie",
        },
    )
    redis = store_image("redis")
    stack.run("redis", redis, "redis-server", "--requirepass", REDIS_PASSWORD)
    stack.run(
        "redis-sentinel",
        redis,
        "sh",
        "-c",
        'printf %s "$SENTINEL_CONF" > /tmp/sentinel.conf && exec redis-sentinel /tmp/sentinel.conf',
        env={"SENTINEL_CONF": SENTINEL_CONF},
        aliases=("redis-sentinel",),
        extra=("--tmpfs", "/tmp:uid=999,gid=1000"),
    )
    log("starting orchestrator, worker-1, worker-2, mcp-server (v1)")
    stack.app("orchestrator", "orchestrator")
    stack.app("worker", "worker-1")
    stack.app("worker", "worker-2")
    stack.app("mcp-server", "mcp-server")
    t0 = time.monotonic()
    wait_ready(stack.url("orchestrator", 8080), "/health/ready")
    for name in ("worker-1", "worker-2"):
        wait_ready(stack.url(name, 8081), "/health/ready")
    wait_ready(stack.url("mcp-server", 3001), "/health")
    log(f"all ready in {time.monotonic() - t0:.0f}s")

    poster = Poster(stack)
    events: list[str] = []

    def act(message: str, *args: str):
        def hook():
            log(message)
            events.append(message)
            docker(*args)

        return hook

    # 1. SIGKILL worker 1 mid-stream, start it again a little later.
    ids1 = [f"a-{n:04d}" for n in range(tasks)]
    third = max(tasks // 3, 1)
    poster.run(
        ids1,
        {
            third: act("SIGKILL worker-1", "kill", "-s", "KILL", PREFIX + "worker-1"),
            2 * third: act("start worker-1 again", "start", PREFIX + "worker-1"),
        },
    )
    log(f"phase 1: {sum(1 for i in ids1 if poster.outcome[i] == 202)}/{tasks} got 202")

    # 2. SIGTERM the orchestrator (and worker 2) mid-stream.
    ids2 = [f"b-{n:04d}" for n in range(tasks)]
    stop_at: dict[str, float] = {}

    def sigterm(name: str):
        def hook():
            log(f"SIGTERM {name}")
            events.append(f"SIGTERM {name}")
            stop_at[name] = time.monotonic()
            docker("kill", "-s", "TERM", PREFIX + name)

        return hook

    poster.run(ids2, {third: sigterm("worker-2"), third + 10: sigterm("orchestrator")})
    exits = {}
    for name in ("orchestrator", "worker-2"):
        assert name in stop_at, f"{name} was never sent SIGTERM"
        code = docker("wait", PREFIX + name)
        took = time.monotonic() - stop_at[name]
        exits[name] = {"exit_code": int(code), "seconds_after_sigterm": round(took, 1)}
        log(f"{name} exited {code} {took:.1f}s after SIGTERM")
    got = collections.Counter(str(poster.outcome[i]) for i in ids2)
    log(f"phase 2 outcomes: {dict(got)}")
    docker("start", PREFIX + "orchestrator")
    docker("start", PREFIX + "worker-2")
    wait_ready(stack.url("orchestrator", 8080), "/health/ready")
    accepted_first_try = [i for i in ids1 + ids2 if poster.outcome[i] == 202]
    retry = [i for i in ids1 + ids2 if poster.outcome[i] not in (200, 202)]
    log(f"re-POSTing {len(retry)} ids that got no 202/200")
    for _ in range(5):
        poster.run(retry, {})
        retry = [i for i in retry if poster.outcome[i] not in (200, 202)]
        if not retry:
            break
        time.sleep(2)
    assert not retry, f"never accepted: {retry[:10]}"

    # 3. Idempotency: a repeated POST of accepted ids answers 200 and creates nothing.
    repeats = accepted_first_try[:: max(len(accepted_first_try) // 25, 1)]
    repeat_codes = collections.Counter()
    for task_id in repeats:
        code, body = http(
            "POST",
            stack.url("orchestrator", 8080) + "/tasks",
            {"id": task_id, "payload": payload(task_id)},
        )
        repeat_codes[code] += 1
    conflict, _ = http(
        "POST",
        stack.url("orchestrator", 8080) + "/tasks",
        {"id": repeats[0], "payload": {"other": True}},
    )

    # 4. Everything completes, once.
    all_ids = ids1 + ids2
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        (done,) = map(int, psql("SELECT count(*) FROM tasks WHERE state = 'completed'")[0])
        if done >= len(all_ids):
            break
        time.sleep(2)
    # 5. A second message for completed tasks (as after a crash between commit and ack),
    # published straight to the queue through the management API: written nothing.
    injected = accepted_first_try[:20]
    for task_id in injected:
        body = json.dumps({"id": task_id, "payload": payload(task_id)}, separators=(",", ":"))
        code, answer = http(
            "POST",
            stack.url("rabbitmq", 15672) + "/api/exchanges/%2F/amq.default/publish",
            {"properties": {"delivery_mode": 2}, "routing_key": "tasks", "payload": body,
             "payload_encoding": "string"},
            auth=(MQ_USER, MQ_PASSWORD),
        )  # fmt: skip
        assert code == 200 and answer.get("routed"), f"management publish: {code} {answer}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        completed_events, duplicate_events, redelivered_completions = worker_events()
        if duplicate_events >= len(injected):
            break
        time.sleep(1)
    rows = {r[0]: r for r in psql("SELECT id, state, result, deliveries, completed_by FROM tasks")}
    # Some results evicted from Redis: mcp-server must read them from postgresql-read.
    evicted = all_ids[::20]
    docker("exec", PREFIX + "redis", "redis-cli", "--no-auth-warning", "-a", REDIS_PASSWORD,
           "DEL", *(f"result:{i}" for i in evicted))  # fmt: skip
    mcp = stack.url("mcp-server", 3001)
    sources: collections.Counter = collections.Counter()
    wrong_results = []
    for task_id in all_ids:
        code, body = http("GET", f"{mcp}/results/{task_id}")
        if code != 200 or body.get("result") != expected_result(task_id):
            wrong_results.append((task_id, code, body))
        sources[body.get("source", str(code))] += 1

    summary = {
        "tasks_sent": len(all_ids),
        "accepted_first_try": len(accepted_first_try),
        "accepted_after_retry": len(all_ids) - len(accepted_first_try),
        "phase2_first_outcomes": dict(got),
        "rows_in_postgresql": len(rows),
        "completed_in_postgresql": sum(1 for r in rows.values() if r[1] == "completed"),
        "wrong_result_in_postgresql": sum(
            1 for i in all_ids if i in rows and rows[i][2] != expected_result(i)
        ),
        "missing_in_postgresql": sum(1 for i in all_ids if i not in rows),
        "unexpected_rows": sorted(set(rows) - set(all_ids))[:10],
        "deliveries_total": sum(int(r[3]) for r in rows.values()),
        "completed_events": sum(completed_events.values()),
        "ids_completed_more_than_once": sorted(i for i, n in completed_events.items() if n > 1),
        "ids_never_completed_by_event": len(set(all_ids) - set(completed_events)),
        "duplicate_messages_injected": len(injected),
        "duplicate_deliveries_acked": duplicate_events,
        "completed_from_a_redelivery": redelivered_completions,
        "evicted_from_redis": len(evicted),
        "metrics": {
            name: metrics(stack, name) for name in ("orchestrator", "worker-1", "worker-2")
        },
        "repeat_posts": dict(repeat_codes),
        "conflicting_repeat_post": conflict,
        "mcp_results_ok": len(all_ids) - len(wrong_results),
        "mcp_sources": dict(sources),
        "exits_after_sigterm": exits,
        "events": events,
    }
    log(json.dumps(summary, indent=2))
    n = len(all_ids)
    assert summary["rows_in_postgresql"] == n, "a task is missing or extra in PostgreSQL"
    assert summary["completed_in_postgresql"] == n, "a task is not completed"
    assert summary["wrong_result_in_postgresql"] == 0
    assert summary["completed_events"] == n and not summary["ids_completed_more_than_once"]
    assert summary["ids_never_completed_by_event"] == 0
    assert duplicate_events >= len(injected), "an injected duplicate was not acked as one"
    # Worker 1 held deliveries when it was killed (a backlog, prefetch 5): they came back.
    assert redelivered_completions + duplicate_events >= 1, "the SIGKILL caught nothing in flight"
    assert set(repeat_codes) == {200}, "a repeated POST was not answered 200"
    assert conflict == 409
    assert not wrong_results, f"mcp-server: {wrong_results[:5]}"
    assert sources.get("postgresql") == len(evicted), "evicted results not read from PostgreSQL"
    assert exits["orchestrator"]["exit_code"] == 0 and exits["worker-2"]["exit_code"] == 0
    assert exits["orchestrator"]["seconds_after_sigterm"] < 60
    assert exits["worker-2"]["seconds_after_sigterm"] < 120
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-build", action="store_true", help="use the images as they are")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    parser.add_argument("--tasks", type=int, default=300, help="tasks per phase (default 300)")
    args = parser.parse_args()
    try:
        run_check(args.tasks, build=not args.no_build, keep=args.keep)
    except AssertionError as err:
        log(f"FAILED: {err}")
        return 1
    log("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
