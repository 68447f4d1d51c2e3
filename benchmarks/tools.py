"""Each tool run as a user would run it, timed as a whole process (or script of processes).

deployctl          `deployctl up ENV -o json --yes`, the console script of this environment
ordered kubectl    `kubectl apply --server-side` of the foundation, then for each dependency
                   level `kubectl apply --server-side` of its objects and `kubectl rollout
                   status` of each of its workloads, one after another, as a shell script would
helm               `helm install --wait` of a chart with every object: unordered

Wall time is time.monotonic() around the whole thing. Peak memory is ru_maxrss from
os.wait4() on that one child (Linux: the larger of the process and of any child it
waited for, such as kustomize).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import projects
from benchmarks.projects import Work

ORDERED_ROLLOUT_TIMEOUT = "10m"
HELM_TIMEOUT = "20m"
RELEASE = "bench"


@dataclass
class Proc:
    argv: list[str]
    code: int
    wall: float
    max_rss_mib: float
    stdout: str
    stderr: str

    def tail(self, lines: int = 8) -> str:
        return "\n".join((self.stderr or self.stdout).strip().splitlines()[-lines:])


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float | None = None) -> Proc:
    """Run one process to its end; wall time and its peak resident memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        # Files, not pipes: nothing reads while os.wait4 blocks, so a pipe could fill up.
        child = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        timer = threading.Timer(timeout, child.kill) if timeout else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
        if timer:
            timer.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Proc(
            argv,
            child.returncode,
            wall,
            usage.ru_maxrss / 1024,  # KiB on Linux
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def deployctl_command() -> list[str]:
    """The `deployctl` console script beside this Python (the nox session's virtualenv)."""
    beside = Path(sys.executable).with_name("deployctl")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("deployctl")
    return [found] if found else [sys.executable, "-m", "deployctl"]


@dataclass
class Tools:
    deployctl: list[str]
    kubectl: Path
    helm: Path | None
    kubeconfig: Path
    context: str
    workdir: Path
    env: dict[str, str]

    @classmethod
    def create(
        cls, kubectl: Path, helm: Path | None, kubeconfig: Path, context: str, workdir: Path
    ) -> Tools:
        env = {**os.environ, **projects.secret_values()}
        for name in ("DEPLOYCTL_ENV", "KUBECONFIG"):
            env.pop(name, None)
        helm_home = workdir / "helm"
        for name in ("CONFIG", "CACHE", "DATA"):
            env[f"HELM_{name}_HOME"] = str(helm_home / name.lower())
        return cls(deployctl_command(), kubectl, helm, kubeconfig, context, workdir, env)

    # -- plumbing ------------------------------------------------------------------------

    def _kubectl(self, *args: str) -> list[str]:
        return [
            str(self.kubectl),
            "--kubeconfig",
            str(self.kubeconfig),
            "--context",
            self.context,
            *args,
        ]

    def kubectl_run(self, *args: str, timeout: float | None = None) -> Proc:
        return run(self._kubectl(*args), self.env, timeout)

    def _deployctl(self, work: Work, *args: str) -> list[str]:
        return [
            *self.deployctl,
            *args,
            "--project",
            str(work.root),
            "--kubeconfig",
            str(self.kubeconfig),
            "-o",
            "json",
            "--yes",
        ]

    def delete_namespace(self, namespace: str) -> None:
        """Delete a run's namespace and wait until it is gone, so runs do not overlap."""
        done = self.kubectl_run(
            "delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=10m"
        )
        if done.code != 0:
            raise RuntimeError(f"deleting namespace {namespace} failed: {done.tail()}")

    def image_of(self, namespace: str, deployment: str) -> str:
        done = self.kubectl_run(
            "get",
            "deployment",
            deployment,
            "-n",
            namespace,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        )
        return done.stdout.strip()

    # -- deploys: prepare_* writes what the tool reads, then returns the timed part ----

    def prepare_deployctl(self, work: Work, namespace: str) -> Callable[[], dict[str, Any]]:
        work.use_namespace(namespace, self.context)
        return lambda: self.deployctl_up(work)

    def deployctl_up(self, work: Work, env: str | None = None) -> dict[str, Any]:
        """One `deployctl up` of the work's environment (or of `env`, another profile of
        the same project) as its profile stands."""
        proc = run(self._deployctl(work, "up", env or work.env), self.env)
        return _deployctl_result("deployctl", proc, ok_results=("deployed", "unchanged"))

    def prepare_kubectl(self, work: Work, namespace: str) -> Callable[[], dict[str, Any]]:
        """The ordered kubectl script: one file per batch, applied and waited for in turn."""
        folder = self.workdir / "kubectl" / namespace
        folder.mkdir(parents=True, exist_ok=True)
        batches = projects.ordered_batches(work.objects(namespace), work.levels)
        files = [projects.write_yaml(folder / f"{i}.yaml", b) for i, b in enumerate(batches)]
        return lambda: self._kubectl_ordered(namespace, list(zip(files, batches, strict=True)))

    def _kubectl_ordered(self, namespace: str, batches: list[tuple[Path, list]]) -> dict[str, Any]:
        steps: list[dict[str, Any]] = []
        started = time.monotonic()
        for index, (path, batch) in enumerate(batches):
            name = "foundation" if index == 0 else f"level {index - 1}"
            apply = self.kubectl_run("apply", "--server-side", "-f", str(path))
            step = {"batch": name, "objects": len(batch), "apply": round(apply.wall, 3)}
            steps.append(step)
            if apply.code != 0:
                return _failed("kubectl", time.monotonic() - started, apply, steps=steps)
            waited = time.monotonic()
            for workload in projects.workloads(batch):
                status = self.kubectl_run(
                    "rollout",
                    "status",
                    workload,
                    "-n",
                    namespace,
                    f"--timeout={ORDERED_ROLLOUT_TIMEOUT}",
                )
                if status.code != 0:
                    return _failed("kubectl", time.monotonic() - started, status, steps=steps)
            step["rollout_status"] = round(time.monotonic() - waited, 3)
        return {"tool": "kubectl", "ok": True, "exit": 0, "wall": _round(started), "steps": steps}

    def prepare_helm(self, work: Work, namespace: str) -> Callable[[], dict[str, Any]]:
        """`helm install --wait` (the watcher strategy) of a chart of every object."""
        assert self.helm is not None
        chart = projects.write_chart(self.workdir / "charts" / namespace, work.objects(namespace))
        argv = [
            str(self.helm),
            "install",
            RELEASE,
            str(chart),
            "--namespace",
            namespace,
            "--create-namespace",
            "--wait",
            "--timeout",
            HELM_TIMEOUT,
            "--kubeconfig",
            str(self.kubeconfig),
            "--kube-context",
            self.context,
        ]
        return lambda: self._helm_install(argv)

    def _helm_install(self, argv: list[str]) -> dict[str, Any]:
        proc = run(argv, self.env)
        if proc.code != 0:
            return _failed("helm", proc.wall, proc)
        return {
            "tool": "helm",
            "ok": True,
            "exit": 0,
            "wall": round(proc.wall, 3),
            "max_rss_mib": round(proc.max_rss_mib, 1),
        }

    # -- a failing rollout and its rollback ----------------------------------------------

    def deployctl_rollout(
        self, work: Work, namespace: str, component: str, tag: str, timeout_s: int
    ) -> dict[str, Any]:
        """`deployctl rollout` to a crash-looping tag: it fails and rolls back by itself."""
        argv = self._deployctl(
            work, "rollout", component, tag, "--env", work.env, "--timeout", f"{timeout_s}s"
        )
        result = _deployctl_result("deployctl", run(argv, self.env), ok_results=("rolled-back",))
        result["ok"] = result.get("result") == "rolled-back"
        return self._restored(result, namespace, component)

    def kubectl_rollout(
        self, namespace: str, component: str, tag: str, timeout_s: int
    ) -> dict[str, Any]:
        """`kubectl set image`, `rollout status` (fails at its --timeout), `rollout undo`,
        `rollout status`."""
        target = f"deployment/{component}"
        image = f"{projects.IMAGE}:{tag}"
        steps: list[dict[str, Any]] = []
        started = time.monotonic()
        for args, want_ok in (
            (("set", "image", target, f"{projects.CONTAINER}={image}"), True),
            (("rollout", "status", target, f"--timeout={timeout_s}s"), False),
            (("rollout", "undo", target), True),
            (("rollout", "status", target, f"--timeout={ORDERED_ROLLOUT_TIMEOUT}"), True),
        ):
            proc = self.kubectl_run(*args, "-n", namespace)
            steps.append(
                {"step": " ".join(args[:2]), "wall": round(proc.wall, 3), "exit": proc.code}
            )
            if (proc.code == 0) != want_ok:
                return _failed("kubectl", time.monotonic() - started, proc, steps=steps)
        result = {"tool": "kubectl", "ok": True, "exit": 0, "wall": _round(started), "steps": steps}
        return self._restored(result, namespace, component)

    def _restored(self, result: dict[str, Any], namespace: str, component: str) -> dict[str, Any]:
        image = self.image_of(namespace, component)
        result["image_after"] = image
        if image != f"{projects.IMAGE}:{projects.TAG}":
            result["ok"] = False
            result["error"] = (result.get("error") or "") + f" image after: {image}"
        return result

    # -- facts ---------------------------------------------------------------------------

    def versions(self) -> dict[str, str]:
        def first_line(argv: list[str]) -> str:
            try:
                done = subprocess.run(argv, capture_output=True, text=True, env=self.env)
            except OSError as error:
                return f"unavailable ({error})"
            return (done.stdout or done.stderr).strip().splitlines()[0] if done.stdout else "?"

        facts = {
            "deployctl": first_line([*self.deployctl, "--version"]).removeprefix("deployctl "),
            "kubectl": first_line([str(self.kubectl), "version", "--client"]).split()[-1],
            "python": sys.version.split()[0],
            "go": first_line(["go", "version"]).removeprefix("go version "),
        }
        if self.helm is not None:
            facts["helm"] = first_line([str(self.helm), "version", "--short"])
        server = self.kubectl_run("version", "-o", "json")
        if server.code == 0:
            facts["server"] = json.loads(server.stdout).get("serverVersion", {}).get("gitVersion")
        return facts


def _round(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _failed(tool: str, wall: float, proc: Proc, **extra: Any) -> dict[str, Any]:
    """A step that went wrong: which command (without its kubeconfig), and its last lines."""
    words, skip = [Path(proc.argv[0]).name], False
    for arg in proc.argv[1:]:
        if not skip and arg not in ("--kubeconfig", "--context", "--kube-context"):
            words.append(arg)
        skip = arg in ("--kubeconfig", "--context", "--kube-context")
    return {
        "tool": tool,
        "ok": False,
        "exit": proc.code,
        "wall": round(wall, 3),
        "error": f"{' '.join(words)[:200]}: {proc.tail()}",
        **extra,
    }


def _deployctl_result(tool: str, proc: Proc, ok_results: tuple[str, ...]) -> dict[str, Any]:
    """Wall, exit, peak memory and what the `-o json` report says (requests when present)."""
    result: dict[str, Any] = {
        "tool": tool,
        "exit": proc.code,
        "wall": round(proc.wall, 3),
        "max_rss_mib": round(proc.max_rss_mib, 1),
    }
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = None
    if isinstance(report, dict):
        result["result"] = report.get("result")
        result["changed"] = report.get("changed")
        result["duration"] = report.get("duration")
        result["requests"] = report.get("requests")  # the rewritten engine's counts, if any
        result["components"] = {
            name: {k: c.get(k) for k in ("state", "started", "finished")}
            for name, c in (report.get("components") or {}).items()
            if isinstance(c, dict)
        }
        if isinstance(report.get("clusters"), dict):  # an environment across clusters
            result["clusters"] = {
                name: {
                    "stage": c.get("stage"),
                    "result": c.get("result"),
                    "duration": (c.get("report") or {}).get("duration"),
                    "requests": (c.get("report") or {}).get("requests"),
                }
                for name, c in report["clusters"].items()
                if isinstance(c, dict)
            }
    result["ok"] = proc.code == 0 and result.get("result") in ok_results
    if not result["ok"]:
        result["error"] = proc.tail()
    return result
