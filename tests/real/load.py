"""A bounded load through the orchestrator's Service, and what became of every task.

The load generator (the reference application's `load` role, tests/e2e/app/load.go)
runs as a pod in the namespace `ingress-nginx`: the orchestrator's NetworkPolicy
admits traffic from there, as from the ingress controller it stands for. The test
marks steps (a rollout, a deleted pod) while it runs; afterwards each task is read
back from PostgreSQL, and per step the tasks created, the requests refused and the
p99 latency (created_at to completed_at, both the database's clock) are reported.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import yaml

from tests.real.stack import Stack, eventually

LOAD_NAMESPACE = "ingress-nginx"
LOAD_IMAGE = "deployctl.local/app-load:v1"


@dataclass
class Step:
    name: str
    start: float
    end: float = 0.0
    detail: str = ""


@dataclass
class Outcome:
    """What the load generator and the database say, per step."""

    steps: list[Step]
    summary: dict
    refusals: list[dict]
    tasks: dict[str, tuple[str, int, float, float]]  # id -> state, deliveries, created, done
    lost: list[str] = field(default_factory=list)

    def step_of(self, t: float) -> Step | None:
        for step in self.steps:
            if step.start <= t < (step.end or math.inf):
                return step
        return None

    def table(self) -> str:
        lines = [
            "| step | took | tasks | refused | p99 latency | redelivered |",
            "|---|---|---|---|---|---|",
        ]
        for step in [None, *self.steps]:  # None: before the first step and after the last
            tasks = [t for t in self.tasks.values() if self.step_of(t[2]) is step]
            latencies = sorted(done - created for _, _, created, done in tasks if done)
            refused = sum(1 for r in self.refusals if self.step_of(r["t"] / 1000) is step)
            redelivered = sum(1 for t in tasks if t[1] > 1)
            p99 = f"{percentile(latencies, 0.99) * 1000:.0f} ms" if latencies else "-"
            if step is None and not tasks and not refused:
                continue
            took = f"{step.end - step.start:.1f} s" if step else "-"
            name = step.name if step else "(outside the steps)"
            lines.append(f"| {name} | {took} | {len(tasks)} | {refused} | {p99} | {redelivered} |")
        return "\n".join(lines)

    def refused_in(self, name: str) -> int:
        step = next(s for s in self.steps if s.name == name)
        return sum(1 for r in self.refusals if self.step_of(r["t"] / 1000) is step)


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]


class Load:
    def __init__(self, stack: Stack, rate: float, patience: str = "90s") -> None:
        self.stack = stack
        self.prefix = f"load-{uuid.uuid4().hex[:8]}"
        self.pod = self.prefix
        self.steps: list[Step] = []
        stack.kubectl("create", "namespace", LOAD_NAMESPACE, check=False)
        target = f"http://orchestrator.{stack.namespace}.svc.cluster.local"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": self.pod, "namespace": LOAD_NAMESPACE},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "load",
                        "image": LOAD_IMAGE,
                        "imagePullPolicy": "Never",
                        "env": [
                            {"name": "LOAD_TARGET", "value": target},
                            {"name": "LOAD_PREFIX", "value": self.prefix},
                            {"name": "LOAD_RATE", "value": str(rate)},
                            {"name": "LOAD_PATIENCE", "value": patience},
                        ],
                        "ports": [{"containerPort": 8090}],
                        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                    }
                ],
            },
        }
        stack.kubectl("apply", "-n", LOAD_NAMESPACE, "-f", "-", stdin=yaml.safe_dump(pod))
        eventually(self._running, timeout=60, what=f"load pod {self.pod} running")
        # A new pod's first packets may precede the policy controller's sync of its address
        # (the orchestrator admits the namespace, not yet the pod): steps start once a
        # task is accepted; refusals before that are reported outside the steps.
        eventually(lambda: self.progress()["accepted"] > 0, timeout=60, what="a first task")

    def _pod(self) -> dict:
        return json.loads(
            self.stack.kubectl("get", "pod", self.pod, "-n", LOAD_NAMESPACE, "-o", "json")
        )

    def _running(self) -> bool:
        return self._pod()["status"].get("phase") == "Running"

    def _proxy(self, path: str) -> str:
        url = f"/api/v1/namespaces/{LOAD_NAMESPACE}/pods/{self.pod}:8090/proxy/{path}"
        return self.stack.kubectl("get", "--raw", url)

    def progress(self) -> dict:
        return json.loads(self._proxy("progress"))

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        step = Step(name, time.time())
        self.steps.append(step)
        try:
            yield step
        finally:
            step.end = time.time()
            print(f"step {name!r}: {step.end - step.start:.1f} s {step.detail}", flush=True)

    def finish(self, settle: float = 180) -> Outcome:
        """Stop the load, wait for every accepted task to complete, read them all back."""
        self._proxy("stop")
        eventually(
            lambda: self._pod()["status"].get("phase") in ("Succeeded", "Failed"),
            timeout=150,
            what="the load generator's end",
        )
        logs = self.stack.kubectl("logs", self.pod, "-n", LOAD_NAMESPACE)
        records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
        summary = next(r for r in records if r["event"] == "summary")
        refusals = [r for r in records if r["event"] == "refused"]
        accepted = summary["accepted"]

        def completed() -> int:
            sql = (
                f"SELECT count(*) FROM tasks WHERE id LIKE '{self.prefix}-%'"
                " AND state = 'completed'"
            )
            done = int(self.stack.psql(sql))
            return done >= accepted and done

        with contextlib.suppress(AssertionError):  # what never completed is reported as lost
            eventually(completed, timeout=settle, what="every accepted task completed", every=3)
        sql = (
            "SELECT id, state, deliveries, extract(epoch FROM created_at), "
            "coalesce(extract(epoch FROM completed_at), 0) "
            f"FROM tasks WHERE id LIKE '{self.prefix}-%'"
        )
        tasks = {}
        for line in self.stack.psql(sql).splitlines():
            task, state, deliveries, created, done = line.split("|")
            tasks[task] = (state, int(deliveries), float(created), float(done))
        self.stack.kubectl("delete", "pod", self.pod, "-n", LOAD_NAMESPACE, "--wait=false")
        sent = [f"{self.prefix}-{n:06d}" for n in range(summary["sent"])]
        given_up = set(summary["given_up"])
        lost = [t for t in sent if t not in given_up and tasks.get(t, ("",))[0] != "completed"]
        return Outcome(self.steps, summary, refusals, tasks, lost)
