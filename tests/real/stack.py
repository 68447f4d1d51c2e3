"""The deployed kind-real stack as the tests reach it: deployctl, kubectl, the stores' tools."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployctl.cluster import binaries

CLUSTER = "real"  # environments/kind-real.yaml's context is kind-real
ENV = "kind-real"
NAMESPACE = "ai-agent-real"


class CommandFailed(AssertionError):
    pass


@dataclass
class Stack:
    repo: Path
    kubeconfig: Path
    context: str
    namespace: str = NAMESPACE

    # -- the tools ------------------------------------------------------------------

    def deployctl(
        self, *args: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess:
        """This checkout's deployctl, as a user runs it against the stack's environment."""
        command = [sys.executable, "-m", "deployctl", *args]
        command += ["--kubeconfig", str(self.kubeconfig)]
        done = subprocess.run(
            command, cwd=self.repo, capture_output=True, text=True, timeout=timeout
        )
        if check and done.returncode != 0:
            raise CommandFailed(
                f"deployctl {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def kubectl(self, *args: str, timeout: float = 120, check: bool = True, stdin: str = "") -> str:
        command = [str(binaries.toolset().kubectl), "--kubeconfig", str(self.kubeconfig)]
        command += ["--context", self.context, "-n", self.namespace, *args]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, input=stdin or None
        )
        if check and done.returncode != 0:
            raise CommandFailed(f"kubectl {shlex.join(args)}: {done.stderr.strip()[-2000:]}")
        return done.stdout

    def exec(self, pod: str, container: str, script: str, timeout: float = 60) -> str:
        """A shell script in a container (the stores' images are Debian, with sh and bash)."""
        return self.kubectl("exec", pod, "-c", container, "--", "sh", "-c", script, timeout=timeout)

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def service_path(self, service: str, path: str) -> str:
        """The API server's proxy path to a Service's `http` port."""
        return f"/api/v1/namespaces/{self.namespace}/services/{service}:http/proxy/{path}"

    def image(self, workload: str, container: str) -> str:
        """The image a StatefulSet's container runs."""
        spec = self.json("get", "statefulset", workload)["spec"]["template"]["spec"]
        return next(c["image"] for c in spec["containers"] if c["name"] == container)

    # -- the stores' own tools ------------------------------------------------------

    def psql(self, sql: str, pod: str = "postgresql-0", host: str = "127.0.0.1") -> str:
        """One psql -At call as the postgres user, in a postgresql pod, to `host`."""
        script = (
            f'PGPASSWORD="$POSTGRES_PASSWORD" psql -X -At -v ON_ERROR_STOP=1 -h {host} '
            f"-U postgres -d orchestrator -c {shlex.quote(sql)}"
        )
        return self.exec(pod, "postgresql", script).strip()

    def redis_cli(self, pod: str, *args: str, port: int = 6379) -> str:
        container = "sentinel" if port == 26379 else "redis"
        script = f"redis-cli --raw -h 127.0.0.1 -p {port} {shlex.join(args)}"
        return self.exec(pod, container, script).strip()

    def sentinel_master(self) -> dict[str, str]:
        """SENTINEL MASTER mymaster, as a dict, asked of the first sentinel that answers."""
        for pod in ("redis-0", "redis-1", "redis-2"):
            try:
                fields = self.redis_cli(pod, "sentinel", "master", "mymaster", port=26379)
            except CommandFailed:
                continue
            lines = fields.splitlines()
            return dict(zip(lines[0::2], lines[1::2], strict=False))
        raise CommandFailed("no sentinel answers")

    def rabbitmq(self, pod: str, *args: str) -> Any:
        """rabbitmq-diagnostics/-queues with --formatter json, parsed."""
        script = f"{shlex.join(args)} --formatter json"
        return json.loads(self.exec(pod, "rabbitmq", script, timeout=90))

    def metrics(self, pod: str, container: str, port: int) -> str:
        """A pod's metrics page, fetched on its own loopback with bash's /dev/tcp."""
        script = (
            f"exec 3<>/dev/tcp/127.0.0.1/{port}; "
            f"printf 'GET /metrics HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3; cat <&3"
        )
        return self.kubectl("exec", pod, "-c", container, "--", "bash", "-c", script)

    # -- waiting --------------------------------------------------------------------

    def pods_ready(self, selector: str) -> bool:
        """Every running pod of the selector Ready (a finished Job's pods aside: a migration
        Job's, which belong to the component)."""
        pods = [
            pod
            for pod in self.json("get", "pods", "-l", selector)["items"]
            if pod["status"].get("phase") not in ("Succeeded", "Failed")
        ]
        return bool(pods) and all(
            pod["metadata"].get("deletionTimestamp") is None
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in pod["status"].get("conditions", [])
            )
            for pod in pods
        )


def eventually(check: Callable[[], Any], timeout: float, what: str, every: float = 1.0) -> Any:
    """check() until it returns something true (returned) or raises no more; else fail."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except (CommandFailed, ValueError, KeyError) as error:
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last})")
        time.sleep(every)
