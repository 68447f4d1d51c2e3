"""The multi-cluster case: one `deployctl up` of an environment on three clusters against
three single-cluster `deployctl up`s, one after another.

Three sandbox clusters of their own (bench-fleet-a, -b, -c; one kubeconfig, the same
settings as the benchmark's cluster) each get the same work (by default the
20-component project), three ways, alternating within each run, each into a fresh
namespace on every cluster, deleted (and gone) everywhere before the next:

one-stage     `deployctl up` of an environment whose `stages:` is one stage of the
              three clusters: they deploy in parallel
three-stages  `deployctl up` of an environment of three stages of one cluster each
              (canary-style): each cluster once the one before is healthy
in-turn       `deployctl up` of three single-cluster environments, one per cluster,
              one after another, as a shell script would

Wall time is time.monotonic() around the whole: one process for the two fleet ways,
the three processes for in-turn (so it pays three process startups; the fleet one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from benchmarks import projects, report
from benchmarks.tools import Tools
from deployctl.cluster import sandbox

CLUSTERS = ("bench-fleet-a", "bench-fleet-b", "bench-fleet-c")
VARIANTS = report.FLEET_VARIANTS  # ("one-stage", "three-stages", "in-turn")
# Not the profile's own: a fleet names a context per cluster, and the default is the base's.
_BASE_ONLY = ("context", "server", "default", "stages", "namespace")


def work_for(key: str, workdir: Path) -> projects.Work:
    """The work by its key (a shipped stack, or cN), in a folder of its own."""
    folder = workdir / "fleet"
    if key in projects.SHIPPED_ENVIRONMENTS:
        return projects.shipped(key, folder)
    return projects.synthetic(int(key.removeprefix("c")), folder)


def check_work(key: str) -> None:
    """ValueError unless `key` names a shipped stack or a valid synthetic size (c20, ...)."""
    if key in projects.SHIPPED_ENVIRONMENTS:
        return
    if not key.startswith("c") or not key[1:].isdigit():
        raise ValueError(
            f"{key!r}: a shipped stack ({', '.join(projects.SHIPPED_ENVIRONMENTS)}) or cN"
        )
    projects.synthetic_order(int(key[1:]))


def namespaces(number: int) -> dict[str, str]:
    """Each way's namespace in run `number`: fresh in every run, the same on every cluster."""
    return {variant: f"m{number}-{variant}" for variant in VARIANTS}


def environments(clusters: Mapping[str, str]) -> dict[str, list[str]]:
    """The environments each way deploys, in order: cluster name -> its kube context."""
    return {
        "one-stage": ["fleet-one-stage"],
        "three-stages": ["fleet-three-stages"],
        "in-turn": [f"single-{name}" for name in clusters],
    }


def profiles(
    base: Mapping[str, Any], clusters: Mapping[str, str], spaces: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Pure: the profiles of one run, by environment name.

    `base` is the work's own profile (its overlay, order, timeouts, ...); `clusters`
    maps each cluster's name to its kube context; `spaces` each way to its namespace.
    The fleet environments name no context but `stages:`; none is the default.
    """
    common = {k: v for k, v in base.items() if k not in _BASE_ONLY}
    contexts = {name: {"context": context} for name, context in clusters.items()}
    made: dict[str, dict[str, Any]] = {
        "fleet-one-stage": {
            **common,
            "namespace": spaces["one-stage"],
            "stages": [contexts],
        },
        "fleet-three-stages": {
            **common,
            "namespace": spaces["three-stages"],
            "stages": [{name: where} for name, where in contexts.items()],
        },
    }
    for name, context in clusters.items():
        made[f"single-{name}"] = {**common, "context": context, "namespace": spaces["in-turn"]}
    return made


class FleetBench:
    """The three ways on the three clusters; one Tools per cluster (one shared kubeconfig)."""

    def __init__(
        self,
        work: projects.Work,
        tools: Mapping[str, Tools],
        runs: int,
        log: Callable[[str], None],
    ) -> None:
        self.work = work
        self.tools = dict(tools)
        self.runs = runs
        self.log = log
        self.envs = environments({name: t.context for name, t in self.tools.items()})

    @property
    def any_tools(self) -> Tools:
        return next(iter(self.tools.values()))

    def write_profiles(self, number: int) -> dict[str, str]:
        spaces = namespaces(number)
        base = yaml.safe_load(self.work.profile_path.read_text())
        clusters = {name: t.context for name, t in self.tools.items()}
        folder = self.work.profile_path.parent
        for env, profile in profiles(base, clusters, spaces).items():
            (folder / f"{env}.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
        return spaces

    def delete_everywhere(self, namespace: str) -> None:
        """The namespace deleted, and gone, on every cluster (at once)."""
        with ThreadPoolExecutor(max_workers=len(self.tools)) as pool:
            for done in [pool.submit(t.delete_namespace, namespace) for t in self.tools.values()]:
                done.result()

    def measure(self, variant: str, namespace: str) -> dict[str, Any]:
        """One fresh deploy of the work to every cluster, one way."""
        self.delete_everywhere(namespace)  # left over from an interrupted run
        ups: list[dict[str, Any]] = []
        started = time.monotonic()
        for env in self.envs[variant]:
            up = self.any_tools.deployctl_up(self.work, env)
            up["environment"] = env
            ups.append(up)
            if not up["ok"]:
                break
        wall = round(time.monotonic() - started, 3)
        result: dict[str, Any] = {
            "variant": variant,
            "ok": len(ups) == len(self.envs[variant]) and all(u["ok"] for u in ups),
            "wall": wall,
            "namespace": namespace,
            "ups": ups,
        }
        failed = next((u for u in ups if not u["ok"]), None)
        if failed is not None:
            result["error"] = f"{failed['environment']}: {failed.get('error', '')}"
        return result

    def compare(self, runs: list[dict[str, Any]]) -> None:
        """Every run, into `runs` as it goes (so an interrupted comparison keeps its runs)."""
        for number in range(1, self.runs + 1):
            spaces = self.write_profiles(number)
            turn = (number - 1) % len(VARIANTS)
            for position, variant in enumerate(VARIANTS[turn:] + VARIANTS[:turn]):
                result = self.measure(variant, spaces[variant])
                result.update(run=number, position=position)
                runs.append(result)
                self.log(f"3 clusters run {number}/{self.runs}, {variant}: {describe(result)}")
                self.delete_everywhere(spaces[variant])


def describe(result: dict[str, Any]) -> str:
    text = f"{result['wall']:.2f} s"
    if result["variant"] == "in-turn":
        text += " (" + " + ".join(f"{u['wall']:.2f}" for u in result["ups"]) + ")"
    clusters = next((u.get("clusters") for u in result["ups"] if u.get("clusters")), None)
    if clusters:
        each = [f"{n} {c['duration']:.1f}" for n, c in clusters.items() if c.get("duration")]
        text += f" (per cluster, s: {', '.join(each)})" if each else ""
    return text + ("" if result["ok"] else f" FAILED: {result.get('error', '')[-500:]}")


def run(
    record: dict[str, Any],
    *,
    work_key: str,
    runs: int,
    toolset: Any,
    state: Path,
    workdir: Path,
    pod_ready_delay: float,
    pods_per_node: int,
    keep_clusters: bool,
    log: Callable[[str], None],
    generated: str,
    command: str,
) -> None:
    """Start the three clusters, compare the three ways into `record`, take the clusters
    down (unless `keep_clusters`)."""
    kubeconfig = state / "fleet-kubeconfig"
    record.update(
        generated=generated,
        command=command,
        clusters=list(CLUSTERS),
        settings={"runs": runs, "pod_ready_delay": pod_ready_delay, "pods_per_node": pods_per_node},
        runs=[],
    )
    others = [c for c in sandbox.list_clusters() if c not in CLUSTERS]
    if others:
        log(f"note: other sandbox clusters exist ({', '.join(others)}); they share the CPU")
    record["other_clusters"] = others
    try:
        tools: dict[str, Tools] = {}
        for name in CLUSTERS:
            context = sandbox.up(
                name,
                pod_ready_delay=pod_ready_delay,
                kubeconfig=kubeconfig,
                pods_per_node=pods_per_node,
                progress=log,
            )
            tools[name] = Tools.create(toolset.kubectl, None, kubeconfig, context, workdir)
        first = next(iter(tools.values()))
        record["versions"] = first.versions()
        work = work_for(work_key, workdir)
        projects.render(work, first.deployctl, first.context, first.env)
        record.update(
            key=work.key,
            title=work.title,
            objects=work.count,
            components=len(work.levels),
            levels=max(work.levels.values(), default=-1) + 1,
        )
        log(f"3 clusters: {work.title}, {work.count} objects on each of {', '.join(CLUSTERS)}")
        FleetBench(work, tools, runs, log).compare(record["runs"])
    finally:
        if keep_clusters:
            log(f"clusters {', '.join(CLUSTERS)} left running; kubeconfig {kubeconfig}")
        else:
            for name in CLUSTERS:
                sandbox.down(name, kubeconfig=kubeconfig, progress=log)
