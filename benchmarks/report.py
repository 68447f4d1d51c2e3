"""From raw runs to medians, ratios and issue 8's targets; latest.md, latest.json, latest.png."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

TOOLS = ("deployctl", "kubectl", "helm")
TOOL_TITLES = {"deployctl": "deployctl", "kubectl": "ordered kubectl", "helm": "helm (unordered)"}
TARGET_WORK = "c100"  # 600 objects in 4 levels
MEMORY_WORK = "c200"  # 1,200 objects
LOCK_RENEWAL_S = 5.0
X = "\N{MULTIPLICATION SIGN}"
# The 3-cluster case (fleet.py): two fleet ways against three single-cluster ups in turn.
FLEET_VARIANTS = ("one-stage", "three-stages", "in-turn")
FLEET_BASELINE = "in-turn"


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _ok(runs: list[dict], tool: str) -> list[dict]:
    return [r for r in runs if r.get("tool") == tool and r.get("ok")]


def _requests_total(run: dict) -> int | None:
    requests = run.get("requests")
    return requests.get("total") if isinstance(requests, dict) else None


def summarize_work(work: dict[str, Any]) -> dict[str, Any]:
    runs = work["runs"]
    summary: dict[str, Any] = {"tools": {}}
    for tool in TOOLS:
        tried = [r for r in runs if r.get("tool") == tool and not r.get("skipped")]
        ok = _ok(runs, tool)
        summary["tools"][tool] = {
            "median": median([r["wall"] for r in ok]),
            "ok": len(ok),
            "runs": len(tried),
            "skipped": next(
                (r["skipped"] for r in runs if r.get("tool") == tool and r.get("skipped")), None
            ),
            "errors": [r["error"] for r in tried if not r.get("ok") and r.get("error")],
        }
    walls = {t: summary["tools"][t]["median"] for t in TOOLS}
    for tool in ("kubectl", "helm"):
        mine, theirs = walls["deployctl"], walls[tool]
        summary[f"{tool}_ratio"] = theirs / mine if mine and theirs else None
    deployctl = _ok(runs, "deployctl")
    paths = [r["critical_path"] for r in deployctl if r.get("critical_path") is not None]
    summary["critical_path"] = median(paths)
    summary["critical_path_server"] = median(
        [r["critical_path_server"] for r in deployctl if r.get("critical_path_server") is not None]
    )
    summary["critical_path_levels"] = median(
        [r["critical_path_levels"] for r in deployctl if r.get("critical_path_levels") is not None]
    )
    summary["critical_path_in_kubectl_runs"] = median(
        [r["critical_path"] for r in _ok(runs, "kubectl") if r.get("critical_path") is not None]
    )
    summary["overhead"] = median(
        [r["wall"] - r["critical_path"] for r in deployctl if r.get("critical_path") is not None]
    )
    totals = [(r, _requests_total(r)) for r in deployctl]
    counted = [(r, n) for r, n in totals if n is not None]
    summary["requests"] = median([n for _, n in counted])
    summary["requests_per_object"] = (
        summary["requests"] / work["objects"] if summary["requests"] is not None else None
    )
    summary["request_budget"] = [
        {"requests": n, "budget": request_budget(work, r["wall"]), "wall": r["wall"]}
        for r, n in counted
    ]
    unchanged = [r for r in work.get("unchanged", []) if r.get("ok")]
    summary["peak_rss_mib"] = max(
        (r["max_rss_mib"] for r in [*deployctl, *unchanged] if r.get("max_rss_mib")), default=None
    )
    summary["unchanged"] = median([r["wall"] for r in unchanged])
    summary["unchanged_requests"] = median(
        [n for n in (_requests_total(r) for r in unchanged) if n is not None]
    )
    summary["unchanged_ok"] = f"{len(unchanged)}/{len(work.get('unchanged', []))}"
    return summary


def request_budget(work: dict[str, Any], wall: float) -> int:
    """Issue 8: at most 2 per object, plus one per kind, plus the lock's renewals."""
    return 2 * work["objects"] + work["kinds"] + math.ceil(wall / LOCK_RENEWAL_S)


def summarize_fleet(fleet: dict[str, Any]) -> dict[str, Any]:
    """Each way's median wall time, and each fleet way's over the single-cluster ups in turn
    (below 1: the one `up` across the clusters is faster)."""
    runs = fleet.get("runs") or []
    variants: dict[str, Any] = {}
    for variant in FLEET_VARIANTS:
        tried = [r for r in runs if r.get("variant") == variant]
        ok = [r for r in tried if r.get("ok")]
        variants[variant] = {
            "median": median([r["wall"] for r in ok]),
            "ok": len(ok),
            "runs": len(tried),
            "errors": [r["error"] for r in tried if not r.get("ok") and r.get("error")],
            "peak_rss_mib": max(
                (u["max_rss_mib"] for r in ok for u in r["ups"] if u.get("max_rss_mib")),
                default=None,
            ),
        }
    baseline = variants[FLEET_BASELINE]["median"]
    for variant in FLEET_VARIANTS:
        variants[variant]["ratio"] = _ratio(variants[variant]["median"], baseline)
    singles = [
        u["wall"]
        for r in runs
        if r.get("variant") == FLEET_BASELINE and r.get("ok")
        for u in r["ups"]
    ]
    return {"variants": variants, "single_up": median(singles)}


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    works = {w["key"]: summarize_work(w) for w in results["works"]}
    rollout = results.get("rollout") or {}
    rollout_summary = {
        tool: {
            "median": median([r["wall"] for r in _ok(rollout.get("runs", []), tool)]),
            "ok": len(_ok(rollout.get("runs", []), tool)),
            "runs": len([r for r in rollout.get("runs", []) if r.get("tool") == tool]),
        }
        for tool in ("deployctl", "kubectl")
    }
    startup = {name: median(samples) for name, samples in (results.get("startup") or {}).items()}
    summary = {"works": works, "rollout": rollout_summary, "startup": startup}
    if results.get("fleet"):
        summary["fleet"] = summarize_fleet(results["fleet"])
    summary["targets"] = targets(results, summary)
    return summary


# -- targets -------------------------------------------------------------------------------


def _status(
    value: float | None,
    limit: float,
    *,
    at_least: bool,
    unit: str,
    why: str = "",
    digits: int = 2,
) -> tuple[str, str]:
    """(met / missed / not measured, the figure and by how much it misses)."""
    if value is None:
        return "not measured", why or "not measured"
    met = value >= limit if at_least else value <= limit
    shown = f"{value:.{digits}f}{unit}"
    if met:
        return "met", shown
    if at_least:
        return "missed", f"{shown}: short by {limit - value:.{digits}f}{unit}"
    return "missed", f"{shown}: over by {value - limit:.{digits}f}{unit}"


def targets(results: dict[str, Any], summary: dict[str, Any]) -> list[dict[str, str]]:
    works = summary["works"]
    big = works.get(TARGET_WORK, {})
    dev = works.get("dev", {})

    def why(work: dict, name: str, *tools: str, otherwise: str = "no critical path") -> str:
        """Why a figure is missing: the work, or one of its tools, did not run or failed."""
        if not work:
            return f"{name} was not run"
        for tool in tools:
            state = work["tools"][tool]
            if state["skipped"]:
                return f"{tool} not run ({state['skipped']})"
            if state["median"] is None:
                return f"{tool} did not succeed at {name}"
        return otherwise

    no = why(big, "the 600-object project", "deployctl", "kubectl")
    no_dev = why(dev, "the dev stack", "deployctl", "kubectl")

    rows = []

    def add(target: str, status: tuple[str, str]) -> None:
        rows.append({"target": target, "status": status[0], "measured": status[1]})

    add(
        f"600 objects: deployctl ≥ 2{X} faster than ordered kubectl",
        _status(big.get("kubectl_ratio"), 2.0, at_least=True, unit=X, why=no),
    )
    add(
        f"600 objects: deployctl ≥ 5{X} faster than Helm",
        _status(
            big.get("helm_ratio"),
            5.0,
            at_least=True,
            unit=X,
            why=why(big, "the 600-object project", "deployctl", "helm"),
        ),
    )
    add(
        "600 objects: at most 3 s over the critical path",
        _status(
            big.get("overhead"),
            3.0,
            at_least=False,
            unit=" s",
            why=why(big, "the 600-object project", "deployctl"),
        ),
    )
    add(
        "shipped dev stack: no slower than ordered kubectl",
        _status(dev.get("kubectl_ratio"), 1.0, at_least=True, unit=X, why=no_dev),
    )
    add(
        "shipped dev stack: at most 1 s over the critical path",
        _status(dev.get("overhead"), 1.0, at_least=False, unit=" s", why=no_dev),
    )
    add(
        "unchanged up at 600 objects: under 1.5 s wall",
        _status(
            big.get("unchanged"),
            1.5,
            at_least=False,
            unit=" s",
            why=why(big, "the 600-object project", "deployctl", otherwise="it failed"),
        ),
    )
    no_requests = "deployctl's report has no request counts"
    add(
        "unchanged up at 600 objects: at most 30 API requests",
        _status(
            big.get("unchanged_requests"),
            30,
            at_least=False,
            unit=" requests",
            digits=0,
            why=why(big, "the 600-object project", "deployctl", otherwise=no_requests),
        ),
    )
    budgets = [(key, b) for key, w in works.items() for b in w.get("request_budget", [])]
    if budgets:
        key, worst = max(budgets, key=lambda kb: kb[1]["requests"] - kb[1]["budget"])
        over = worst["requests"] - worst["budget"]
        status = "met" if over <= 0 else "missed"
        detail = f"worst: {key}, {worst['requests']} requests, budget {worst['budget']}"
        add(
            "fresh up: ≤ 2 requests per object + 1 per kind + lock renewals",
            (status, detail if over <= 0 else f"{detail}: {over} over"),
        )
    else:
        add(
            "fresh up: ≤ 2 requests per object + 1 per kind + lock renewals",
            ("not measured", no_requests),
        )
    startup = summary["startup"]
    for name, limit in (("deployctl --version", 0.080), ("deployctl --help", 0.150)):
        value = startup.get(name)
        status = _status(
            value * 1000 if value is not None else None,
            limit * 1000,
            at_least=False,
            unit=" ms",
            digits=0,
            why="startup not measured",
        )
        add(f"`{name}` under {limit * 1000:.0f} ms", status)
    memory = works.get(MEMORY_WORK, {})
    add(
        "peak memory at 1,200 objects under 200 MiB",
        _status(
            memory.get("peak_rss_mib"),
            200,
            at_least=False,
            unit=" MiB",
            digits=0,
            why=f"{MEMORY_WORK} (1,200 objects) was not run",
        ),
    )
    return rows


# -- writing -------------------------------------------------------------------------------


def _s(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _sec(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f} s"


def _x(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}{X}"


def _tool_cell(tool: dict[str, Any]) -> str:
    if tool["skipped"] or not tool["runs"]:
        return "not run"
    if tool["median"] is None:
        return f"failed ({tool['runs']} runs)" if tool["runs"] else ""
    cell = f"{tool['median']:.1f} s"
    if tool["ok"] < tool["runs"]:
        cell += f" ({tool['runs'] - tool['ok']} of {tool['runs']} failed)"
    return cell


def _single_cluster(results: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """The fresh-deploy and cost tables of the works on the benchmark's cluster."""
    works = summary["works"]
    lines = [
        "",
        "## Fresh deploy, wall time",
        "",
        "| work | objects | levels | deployctl | ordered kubectl | helm (unordered) "
        "| kubectl / deployctl | helm / deployctl | critical path | deployctl over it |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for work in results["works"]:
        s = summary["works"][work["key"]]
        tools = s["tools"]
        lines.append(
            f"| {work['title']} | {work['objects']} | {work['levels']} "
            f"| {_tool_cell(tools['deployctl'])} | {_tool_cell(tools['kubectl'])} "
            f"| {_tool_cell(tools['helm'])} | {_x(s['kubectl_ratio'])} | {_x(s['helm_ratio'])} "
            f"| {_sec(s['critical_path'])} | {_sec(s['overhead'])} |"
        )
    lines += [
        "",
        f"Ratios above 1{X} mean deployctl is faster. The critical path is what an ideal "
        "orchestrator, starting each component the moment its dependencies are Ready and "
        "spending nothing itself, would take: the longest chain, along the profile's "
        "dependencies, of each component's own time from its workload created to its last pod "
        "Ready (with even levels: the sum over the levels of the slowest component). It is "
        "measured in deployctl's own runs, by a watch in the benchmark process that stamps "
        "events on arrival (millisecond resolution); the API server's own timestamps, whole "
        "seconds, give "
        + ", ".join(
            f"{w['key']} {_sec(summary['works'][w['key']]['critical_path_server'], 1) or 'n/a'}"
            for w in results["works"]
        )
        + ". The same measure in the ordered kubectl runs, where each level's pods all start "
        "at once, gives "
        + ", ".join(
            f"{w['key']} {_sec(works[w['key']]['critical_path_in_kubectl_runs']) or 'n/a'}"
            for w in results["works"]
        )
        + ". latest.json also has the per-level figure (each level from its first workload "
        "created to its last pod Ready, summed), which matches the critical path only when a "
        "tool goes level by level without delay.",
        "",
        "## What deployctl costs",
        "",
        "| work | objects | unchanged `up` | API requests, fresh `up` (per object) "
        "| API requests, unchanged `up` | peak memory |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for work in results["works"]:
        s = summary["works"][work["key"]]
        fresh = (
            f"{s['requests']:.0f} ({s['requests_per_object']:.2f})"
            if s["requests"] is not None
            else "not reported"
        )
        unchanged_requests = (
            f"{s['unchanged_requests']:.0f}" if s["unchanged_requests"] is not None else ""
        )
        lines.append(
            f"| {work['title']} | {work['objects']} | {_sec(s['unchanged'])} "
            f"| {fresh} | {unchanged_requests or 'not reported'} "
            f"| {_s(s['peak_rss_mib'], 0)}{' MiB' if s['peak_rss_mib'] else ''} |"
        )
    lines += [
        "",
        "Requests are what deployctl's `-o json` report counts. Peak memory is the deployctl "
        "process's ru_maxrss (os.wait4), the largest over its fresh and unchanged runs.",
    ]
    return lines


def _fleet(results: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """The 3-cluster section: each fleet way against three single-cluster ups in turn."""
    fleet = results["fleet"]
    variants = summary["variants"]

    def cell(variant: str) -> str:
        v = variants[variant]
        if not v["runs"]:
            return "not run"
        if v["median"] is None:
            return f"failed ({v['runs']} runs)"
        failed = v["runs"] - v["ok"]
        return f"{v['median']:.1f} s" + (f" ({failed} of {v['runs']} failed)" if failed else "")

    settings = fleet.get("settings", {})
    clusters = fleet.get("clusters", [])
    lines = [
        "",
        "## 3 clusters",
        "",
        "| work | objects per cluster | 3 single-cluster `up`s in turn "
        "| one `up`, 3 clusters in one stage | one stage / in turn "
        "| one `up`, 3 stages of one cluster | 3 stages / in turn |",
        "|---|--:|--:|--:|--:|--:|--:|",
        f"| 3 clusters {X} {fleet.get('title', '?')} | {fleet.get('objects', '')} "
        f"| {cell('in-turn')} | {cell('one-stage')} | {_x(variants['one-stage']['ratio'])} "
        f"| {cell('three-stages')} | {_x(variants['three-stages']['ratio'])} |",
        "",
        f"The same work on each of {len(clusters)} sandbox clusters of the benchmark's own "
        f"({', '.join(clusters)}; one kubeconfig, pod-ready delay "
        f"{settings.get('pod_ready_delay', 0):g} s), three ways, alternating within each of "
        f"{settings.get('runs', '?')} run(s), each into a fresh namespace on every cluster, "
        "deleted (and gone) everywhere before the next: one `deployctl up` of an environment "
        "whose `stages:` holds the three clusters in one stage (in parallel); one `deployctl "
        "up` of an environment of three stages of one cluster each (canary-style, each once "
        "the one before is healthy); and three `deployctl up`s of single-cluster "
        "environments, one per cluster, one after another. Wall time of the whole (the in-turn "
        f"way pays three process startups). Ratios are the fleet `up`'s median over the "
        f"in-turn median: below 1{X}, the one `up` across the clusters is faster.",
    ]
    single = summary.get("single_up")
    peak = variants["one-stage"]["peak_rss_mib"]
    facts = []
    if single is not None:
        facts.append(f"one single-cluster `up` took {single:.1f} s (median of the in-turn ones)")
    if peak is not None:
        facts.append(f"the one-stage `up` peaked at {peak:.0f} MiB (ru_maxrss)")
    if facts:
        lines += ["", facts[0][0].upper() + "; ".join(facts)[1:] + "."]
    others = fleet.get("other_clusters")
    if others:
        cores = results["machine"]["nproc"]
        lines += [
            "",
            f"Other sandbox clusters ran at the same time and shared the {cores} cores: "
            f"{', '.join(others)}.",
        ]
    if fleet.get("generated") and fleet["generated"] != results.get("generated"):
        lines += ["", f"Measured apart from the rest: {fleet['generated']}, `{fleet['command']}`."]
    return lines


def markdown(results: dict[str, Any], summary: dict[str, Any]) -> str:
    settings, machine = results["settings"], results["machine"]
    versions = machine.get("versions", {})
    lines = [
        "# deployctl benchmark",
        "",
        f"{results['generated']}. Sandbox cluster (`deployctl cluster up`, Kubernetes "
        f"{versions.get('server', '?')}, kwok nodes), pod-ready delay "
        f"{settings['pod_ready_delay']:g} s; {machine['nproc']} cores, {machine['cpu']}. "
        f"Median of {settings['runs']} run(s), the tools alternating within each run, each "
        "into a fresh namespace deleted (and gone) before the next.",
        "",
        f"Command: `{results['command']}`"
        + (f" — **incomplete**: {results['incomplete']}" if results.get("incomplete") else ""),
    ]
    if results["works"]:
        lines += _single_cluster(results, summary)
    rollout = results.get("rollout")
    if rollout:
        r = summary["rollout"]
        lines += [
            "",
            f"## A rollout to a crash-looping image, and back ({rollout['title']}, "
            f"component {rollout['component']})",
            "",
            "| deployctl rollout (rolls back by itself) | kubectl set image + rollout status "
            "+ rollout undo + rollout status | kubectl / deployctl |",
            "|--:|--:|--:|",
            f"| {_sec(r['deployctl']['median'], 1)} ({r['deployctl']['ok']}/"
            f"{r['deployctl']['runs']} ok) | {_sec(r['kubectl']['median'], 1)} "
            f"({r['kubectl']['ok']}/{r['kubectl']['runs']} ok) "
            f"| {_x(_ratio(r['kubectl']['median'], r['deployctl']['median']))} |",
            "",
            f"Both wait at most {rollout['timeout_s']} s for the new image (deployctl "
            f"`--timeout {rollout['timeout_s']}s`, the component timeout; kubectl "
            f"`rollout status --timeout={rollout['timeout_s']}s`). deployctl stops at the "
            "first CrashLoopBackOff; `kubectl rollout status` cannot tell a crash loop from a "
            "slow start and waits out its timeout.",
        ]
    if summary["startup"]:
        runs = results["settings"]["startup_runs"]
        lines += [
            "",
            f"## CLI startup (whole process, median of {runs})",
            "",
            "| command | time |",
            "|---|--:|",
            *(
                f"| `{name}` | {value * 1000:.0f} ms |"
                for name, value in summary["startup"].items()
                if value is not None
            ),
        ]
    if results.get("fleet"):
        lines += _fleet(results, summary["fleet"])
    if results["works"] or summary["startup"]:
        lines += [
            "",
            "## Issue 8's targets",
            "",
            "| target | measured | status |",
            "|---|---|---|",
            *(f"| {t['target']} | {t['measured']} | {t['status']} |" for t in summary["targets"]),
        ]
    lines += [
        "",
        "## Setup",
        "",
        f"- Versions: {', '.join(f'{k} {v}' for k, v in versions.items())}.",
        f"- Machine: {machine['nproc']} cores ({machine['cpu']}), {machine['memory_gib']} GiB; "
        f"nodes with {settings['pods_per_node']} pods each."
        + (
            f" Other sandbox clusters were present and shared the CPU: "
            f"{', '.join(machine['other_clusters'])}."
            if machine.get("other_clusters")
            else ""
        ),
        "- deployctl: `deployctl up ENV -o json --yes` in the project (the shipped one, copied, "
        "or a generated one), profile pointed at the run's namespace.",
    ]
    if results["works"]:
        lines += [
            "- ordered kubectl: `kubectl apply --server-side` of the foundation (with the "
            "Namespace), then per dependency level `kubectl apply --server-side` of the level's "
            "objects and `kubectl rollout status` of each of its workloads in turn.",
            "- helm: `helm install --wait` (the watcher strategy) of a chart holding every "
            "object, `--create-namespace`.",
            "- kubectl and Helm get the objects `deployctl render ENV --show-secrets` prints.",
        ]
    skipped = {
        w["title"]: summary["works"][w["key"]]["tools"]["helm"]["skipped"]
        for w in results["works"]
        if summary["works"][w["key"]]["tools"]["helm"]["skipped"]
    }
    if skipped:
        lines.append(
            "- helm not run: " + "; ".join(f"{title} ({why})" for title, why in skipped.items())
        )
    failures = [
        f"{w['title']}, {tool}: {error}"
        for w in results["works"]
        for tool, t in summary["works"][w["key"]]["tools"].items()
        for error in t["errors"][:1]
    ]
    for variant, v in (summary.get("fleet") or {}).get("variants", {}).items():
        failures += [f"3 clusters, {variant}: {error}" for error in v["errors"][:1]]
    if failures:
        lines += ["", "## Failures", "", *(f"- {f}" for f in failures)]
    return "\n".join(lines) + "\n"


def _ratio(theirs: float | None, mine: float | None) -> float | None:
    return theirs / mine if theirs and mine else None


def plot(results: dict[str, Any], summary: dict[str, Any], path: Path) -> bool:
    """Time against objects: a line per tool (and the critical path) through the synthetic
    projects; the shipped stacks as squares, named."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
        from matplotlib.ticker import NullFormatter
    except ImportError:
        return False
    if not results["works"]:
        return False
    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    colours = {"deployctl": "C0", "kubectl": "C1", "helm": "C2", "critical path": "black"}
    series = {**{tool: tool for tool in TOOLS}, "critical path": None}
    works = sorted(results["works"], key=lambda w: w["objects"])
    for name, tool in series.items():
        for synthetic in (True, False):
            points = []
            for work in (w for w in works if w["synthetic"] == synthetic):
                s = summary["works"][work["key"]]
                y = s["tools"][tool]["median"] if tool else s["critical_path"]
                if y is not None:
                    points.append((work["objects"], y, work["key"]))
            if not points:
                continue
            xs, ys, _ = zip(*points, strict=True)
            axes.plot(
                xs,
                ys,
                marker="o" if synthetic else "s",
                color=colours[name],
                linestyle=("--" if tool is None else "-") if synthetic else "none",
            )
            if not synthetic and tool == "deployctl":
                for x, y, key in points:
                    axes.annotate(key, (x, y), textcoords="offset points", xytext=(6, 4))
    handles = [
        Line2D([], [], color=colours[n], linestyle="--" if n == "critical path" else "-")
        for n in series
    ]
    labels = [TOOL_TITLES.get(n, n) for n in series]
    handles += [
        Line2D([], [], color="grey", marker="o", linestyle="none"),
        Line2D([], [], color="grey", marker="s", linestyle="none"),
    ]
    labels += ["synthetic, 4 levels", "shipped stacks"]
    axes.legend(handles, labels, fontsize="small")
    axes.set_xscale("log")
    ticks = sorted({w["objects"] for w in works})
    axes.set_xticks(ticks, [str(t) for t in ticks])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_ylim(bottom=0)
    axes.set_xlabel("objects")
    axes.set_ylabel("wall time, s (median)")
    delay = results["settings"]["pod_ready_delay"]
    axes.set_title(f"Fresh deploy on the sandbox (pod-ready delay {delay:g} s)")
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


def write(results: dict[str, Any], folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    summary = summarize(results)
    paths = {"json": folder / "latest.json", "md": folder / "latest.md"}
    paths["json"].write_text(json.dumps({**results, "summary": summary}, indent=1) + "\n")
    paths["md"].write_text(markdown(results, summary))
    if plot(results, summary, folder / "latest.png"):
        paths["png"] = folder / "latest.png"
    return paths


def main(argv: list[str] | None = None) -> None:
    """Re-write latest.md and latest.png from a latest.json (after changing this module),
    optionally with the 3-cluster section of another run."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.report")
    parser.add_argument("json", type=Path, help="a latest.json written by benchmarks.run")
    parser.add_argument("--output", type=Path, help="folder (default: the JSON's)")
    parser.add_argument(
        "--fleet-from",
        type=Path,
        metavar="JSON",
        help="take the 3-cluster section from another run's latest.json (say, a run of only "
        "that case); the report says when and how it was measured",
    )
    args = parser.parse_args(argv)
    results = json.loads(args.json.read_text())
    results.pop("summary", None)
    if args.fleet_from:
        fleet = json.loads(args.fleet_from.read_text()).get("fleet")
        if not fleet:
            parser.error(f"--fleet-from: {args.fleet_from} has no 3-cluster section")
        results["fleet"] = fleet
    for path in write(results, args.output or args.json.parent).values():
        print(path)


if __name__ == "__main__":
    main()
