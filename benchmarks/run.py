"""Run the benchmark: `nox -s bench -- [options]`, or `python -m benchmarks.run [options]`.

It starts its own sandbox cluster (`deployctl-bench`, own kubeconfig, pod-ready
delay 1 s, room for 200 pods per node), deploys every work with every tool in
turn, and removes the cluster at the end (`--keep-cluster` keeps it for the next
run). Then, on three more sandbox clusters of its own (fleet.py), one `deployctl up`
of an environment across the three against three single-cluster ups in turn
(`--no-fleet` skips it; `--stacks none --sizes none --no-startup` runs only it).
Results go to benchmarks/results/latest.{md,json,png}.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import fleet, projects, report
from benchmarks.critical_path import CriticalPathWatch
from benchmarks.tools import Tools, run
from deployctl.cluster import binaries, sandbox

CLUSTER = "deployctl-bench"
TOOLS = report.TOOLS
RESULTS = Path(__file__).resolve().parent / "results"
CRASHLOOP_TAG = f"{projects.TAG}-crashloop"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _list(text: str) -> list[str]:
    return [] if text.strip().lower() == "none" else [p.strip() for p in text.split(",") if p]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="nox -s bench --",
        description="deployctl against ordered kubectl and Helm on the sandbox cluster.",
    )
    parser.add_argument("--runs", type=int, help="repetitions of each comparison (default 3)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test: dev stack, 20 components and 3 clusters, 1 run",
    )
    parser.add_argument(
        "--stacks", help="shipped stacks to deploy (default dev,staging,production; or none)"
    )
    parser.add_argument(
        "--sizes", help="synthetic projects, in components (default 20,100,200; or none)"
    )
    parser.add_argument(
        "--helm-max-objects",
        type=int,
        default=600,
        help="do not run helm on works with more objects (default 600)",
    )
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help=f"tools to run (default {','.join(TOOLS)})"
    )
    parser.add_argument("--no-helm", action="store_true", help="as --tools without helm")
    parser.add_argument("--no-rollout", action="store_true", help="skip the rollout comparison")
    parser.add_argument(
        "--no-fleet", action="store_true", help="skip the 3-cluster comparison (deployctl only)"
    )
    parser.add_argument(
        "--fleet-work",
        default="c20",
        help="what the 3-cluster comparison deploys: a shipped stack or cN (default c20)",
    )
    parser.add_argument("--no-startup", action="store_true", help="skip CLI startup timings")
    parser.add_argument("--startup-runs", type=int, help="samples per command (default 10)")
    parser.add_argument(
        "--rollout-timeout",
        type=int,
        default=30,
        help="seconds both tools wait for a crash-looping rollout (default 30)",
    )
    parser.add_argument(
        "--pod-ready-delay", type=float, default=1.0, help="the sandbox's, in seconds (default 1)"
    )
    parser.add_argument(
        "--pods-per-node",
        type=int,
        default=200,
        help="the sandbox nodes' capacity (default 200: 200 components need 400 pods)",
    )
    parser.add_argument(
        "--keep-cluster",
        action="store_true",
        help="leave the clusters running (reused next time)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    quick = args.quick
    args.runs = args.runs or (1 if quick else 3)
    args.stacks = _list(
        args.stacks if args.stacks is not None else "dev" if quick else "dev,staging,production"
    )
    args.sizes = [
        int(s)
        for s in _list(args.sizes if args.sizes is not None else "20" if quick else "20,100,200")
    ]
    args.startup_runs = args.startup_runs or (3 if quick else 10)
    args.tools = [t for t in _list(args.tools) if not (args.no_helm and t == "helm")]
    args.no_helm = "helm" not in args.tools
    for tool in args.tools:
        if tool not in TOOLS:
            parser.error(f"--tools: unknown tool {tool!r} (known: {', '.join(TOOLS)})")
    if not args.tools:
        parser.error("--tools: name at least one tool")
    for size in args.sizes:
        try:
            projects.synthetic_order(size)
        except ValueError as error:
            parser.error(f"--sizes: {error}")
    for stack in args.stacks:
        if stack not in projects.SHIPPED_ENVIRONMENTS:
            parser.error(f"--stacks: unknown stack {stack!r}")
    try:
        fleet.check_work(args.fleet_work)
    except ValueError as error:
        parser.error(f"--fleet-work: {error}")
    args.no_fleet = args.no_fleet or "deployctl" not in args.tools
    return args


def machine() -> dict[str, Any]:
    cpu = "?"
    memory = 0.0
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = round(kib / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": memory,
        "platform": platform.platform(),
    }


def startup(tools: Tools, samples: int) -> dict[str, list[float]]:
    """Whole-process wall time of each command, the commands alternating."""
    commands = {
        "deployctl --version": [*tools.deployctl, "--version"],
        "deployctl --help": [*tools.deployctl, "--help"],
        "kubectl --help": [str(tools.kubectl), "--help"],
    }
    if tools.helm is not None:
        commands["helm version"] = [str(tools.helm), "version"]
    for argv in commands.values():  # warm the page cache; not counted
        run(argv, tools.env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(samples):
        for name, argv in commands.items():
            proc = run(argv, tools.env)
            if proc.code != 0:
                raise RuntimeError(f"{name} failed: {proc.tail()}")
            times[name].append(round(proc.wall, 4))
    return times


class Bench:
    def __init__(self, args: argparse.Namespace, tools: Tools, api) -> None:
        self.args = args
        self.tools = tools
        self.api = api

    def measure(self, work: projects.Work, tool: str, namespace: str) -> dict[str, Any]:
        """One fresh deploy by one tool into a new namespace, with the critical-path watch."""
        self.tools.delete_namespace(namespace)  # left over from an interrupted run
        prepare = {
            "deployctl": self.tools.prepare_deployctl,
            "kubectl": self.tools.prepare_kubectl,
            "helm": self.tools.prepare_helm,
        }[tool]
        timed = prepare(work, namespace)
        watch = CriticalPathWatch(self.api, namespace, work.levels, work.order)
        watch.start()
        origin = time.monotonic()
        try:
            result = timed()
        finally:
            timeline = watch.stop(origin)
        result.update(
            namespace=namespace,
            critical_path=timeline.pop("critical_path"),
            critical_path_server=timeline.pop("critical_path_server"),
            critical_path_levels=timeline.pop("critical_path_levels"),
            timeline=timeline,
        )
        return result

    def work(self, work: projects.Work) -> dict[str, Any]:
        record: dict[str, Any] = {
            "key": work.key,
            "title": work.title,
            "synthetic": work.synthetic,
            "objects": work.count,
            "kinds": work.kinds,
            "components": len(work.levels),
            "levels": max(work.levels.values(), default=-1) + 1,
            "runs": [],
            "unchanged": [],
        }
        skipped = {tool: "not in --tools" for tool in TOOLS if tool not in self.args.tools}
        if "helm" not in skipped and work.count > self.args.helm_max_objects:
            skipped["helm"] = f"over --helm-max-objects {self.args.helm_max_objects}"
        tools = [tool for tool in TOOLS if tool not in skipped]
        record["runs"] += [
            {"tool": tool, "run": number, "skipped": why}
            for number in range(1, self.args.runs + 1)
            for tool, why in skipped.items()
        ]
        for number in range(1, self.args.runs + 1):
            turn = (number - 1) % len(tools)
            for position, tool in enumerate(tools[turn:] + tools[:turn]):
                label = f"{work.key} run {number}/{self.args.runs}, {tool}"
                namespace = f"b{number}-{work.key}-{tool}"
                result = self.measure(work, tool, namespace)
                result.update(run=number, position=position)
                record["runs"].append(result)
                log(f"{label}: {_describe(result)}")
                if tool == "deployctl" and result["ok"]:
                    again = self.tools.deployctl_up(work)
                    again.update(tool="deployctl-unchanged", run=number, namespace=namespace)
                    again["ok"] = again["ok"] and again.get("changed") is not True
                    record["unchanged"].append(again)
                    log(f"{label}, unchanged up: {_describe(again)}")
                self.tools.delete_namespace(namespace)
        return record

    def rollout(self, work: projects.Work) -> dict[str, Any]:
        """deployctl rollout to a crash-looping tag vs kubectl set image + status + undo."""
        component = work.rollout_component
        assert component is not None
        timeout = self.args.rollout_timeout
        record: dict[str, Any] = {
            "work": work.key,
            "title": work.title,
            "component": component,
            "tag": CRASHLOOP_TAG,
            "timeout_s": timeout,
            "runs": [],
        }
        tools = [tool for tool in ("deployctl", "kubectl") if tool in self.args.tools]
        for number in range(1, self.args.runs + 1):
            turn = (number - 1) % len(tools)
            for tool in tools[turn:] + tools[:turn]:
                namespace = f"r{number}-{work.key}-{tool}"
                self.tools.delete_namespace(namespace)
                if tool == "deployctl":
                    setup = self.tools.prepare_deployctl(work, namespace)()
                else:
                    setup = self.tools.prepare_kubectl(work, namespace)()
                if not setup["ok"]:
                    result = {"tool": tool, "ok": False, "error": f"setup: {setup.get('error')}"}
                elif tool == "deployctl":
                    result = self.tools.deployctl_rollout(
                        work, namespace, component, CRASHLOOP_TAG, timeout
                    )
                else:
                    result = self.tools.kubectl_rollout(
                        namespace, component, CRASHLOOP_TAG, timeout
                    )
                result.update(run=number, namespace=namespace)
                record["runs"].append(result)
                log(f"rollout run {number}/{self.args.runs}, {tool}: {_describe(result)}")
                self.tools.delete_namespace(namespace)
        return record


def _describe(result: dict[str, Any]) -> str:
    if result.get("skipped"):
        return f"not run ({result['skipped']})"
    text = f"{result.get('wall', 0):.2f} s"
    if result.get("critical_path") is not None and result.get("tool") != "helm":
        text += f", critical path {result['critical_path']:.2f} s"
    if result.get("max_rss_mib"):
        text += f", {result['max_rss_mib']:.0f} MiB"
    if isinstance(result.get("requests"), dict):
        text += f", {result['requests'].get('total')} requests"
    return text + ("" if result.get("ok") else f" FAILED: {result.get('error', '')[-500:]}")


def single_cluster(
    args: argparse.Namespace,
    tools: Tools,
    kubeconfig: Path,
    context: str,
    workdir: Path,
    results: dict[str, Any],
) -> None:
    """The works and the rollout on the benchmark's cluster, started and (unless
    --keep-cluster) removed here."""
    others = [c for c in sandbox.list_clusters() if c != CLUSTER]
    if others:
        log(f"note: other sandbox clusters exist ({', '.join(others)}); they share the CPU")
    results["machine"]["other_clusters"] = others
    sandbox.up(
        CLUSTER,
        pod_ready_delay=args.pod_ready_delay,
        kubeconfig=kubeconfig,
        pods_per_node=args.pods_per_node,
        progress=log,
    )
    try:
        results["machine"]["versions"] = tools.versions()
        works = [projects.shipped(env, workdir) for env in args.stacks]
        works += [projects.synthetic(size, workdir) for size in args.sizes]
        for work in works:
            projects.render(work, tools.deployctl, context, tools.env)
            log(f"{work.title}: {work.count} objects, {len(work.levels)} components")
        from kubernetes import config

        api = config.new_client_from_config(config_file=str(kubeconfig), context=context)
        bench = Bench(args, tools, api)
        for work in works:
            results["works"].append(bench.work(work))
        rollout_work = next((w for w in works if w.synthetic), None)
        wanted = {"deployctl", "kubectl"} & set(args.tools)
        if not args.no_rollout and rollout_work is not None and wanted:
            results["rollout"] = bench.rollout(rollout_work)
    finally:
        if args.keep_cluster:
            log(f"cluster {CLUSTER} left running; kubeconfig {kubeconfig}")
        else:
            sandbox.down(CLUSTER, kubeconfig=kubeconfig, progress=log)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    log("binaries: the sandbox's" + ("" if args.no_helm else ", and helm"))
    toolset = binaries.ensure_binaries()
    if not args.no_helm:
        toolset = binaries.ensure_tool(binaries.HELM)
    workdir = Path(tempfile.mkdtemp(prefix="deployctl-bench-"))
    state = binaries.cache_dir() / "bench"
    state.mkdir(parents=True, exist_ok=True)
    kubeconfig = state / "kubeconfig"
    context = sandbox.context_name(CLUSTER)
    tools = Tools.create(
        toolset.kubectl, None if args.no_helm else toolset.helm, kubeconfig, context, workdir
    )
    results: dict[str, Any] = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["nox -s bench", *(["--", shlex.join(argv)] if argv else [])]),
        "settings": {
            "runs": args.runs,
            "pod_ready_delay": args.pod_ready_delay,
            "pods_per_node": args.pods_per_node,
            "tools": args.tools,
            "helm_max_objects": None if args.no_helm else args.helm_max_objects,
            "rollout_timeout_s": args.rollout_timeout,
            "startup_runs": args.startup_runs,
            "cluster": CLUSTER,
        },
        "machine": machine(),
        "works": [],
    }
    if not args.no_startup:
        log(f"CLI startup, {args.startup_runs} samples each, before the cluster starts")
        results["startup"] = startup(tools, args.startup_runs)
    try:
        if args.stacks or args.sizes:
            single_cluster(args, tools, kubeconfig, context, workdir, results)
        if not args.no_fleet:
            results["fleet"] = {}
            fleet.run(
                results["fleet"],
                work_key=args.fleet_work,
                runs=args.runs,
                toolset=toolset,
                state=state,
                workdir=workdir,
                pod_ready_delay=args.pod_ready_delay,
                pods_per_node=args.pods_per_node,
                keep_clusters=args.keep_cluster,
                log=log,
                generated=results["generated"],
                command=results["command"],
            )
            results["machine"].setdefault("versions", results["fleet"].get("versions", {}))
    except BaseException as error:
        results["incomplete"] = f"{type(error).__name__}: {error}"
        traceback.print_exc()
        raise
    finally:
        if results["works"] or results.get("startup") or results.get("fleet"):
            paths = report.write(results, args.output)
            log("wrote " + ", ".join(str(p) for p in paths.values()))
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
