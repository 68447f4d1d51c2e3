"""The benchmark's 3-cluster case: the profiles it writes, and the figures it reports."""

from __future__ import annotations

from pathlib import Path

import yaml

from benchmarks import fleet, projects, report
from deployctl import profile

CLUSTERS = {"bench-fleet-a": "kwok-a", "bench-fleet-b": "kwok-b", "bench-fleet-c": "kwok-c"}


def write(project: projects.Work, number: int) -> dict[str, dict]:
    base = yaml.safe_load(project.profile_path.read_text())
    made = fleet.profiles(base, CLUSTERS, fleet.namespaces(number))
    for env, settings in made.items():
        (project.profile_path.parent / f"{env}.yaml").write_text(yaml.safe_dump(settings))
    return made


def test_one_stage_of_three_clusters_three_stages_of_one_and_a_profile_per_cluster(
    tmp_path: Path,
) -> None:
    project = projects.synthetic(8, tmp_path)

    write(project, 1)
    loaded = {p.name: p for p in profile.load_all(project.root)}  # also: no two collide

    parallel, staged = loaded["fleet-one-stage"], loaded["fleet-three-stages"]
    assert [(c.name, c.stage, c.context) for c in parallel.clusters] == [
        (name, 1, context) for name, context in CLUSTERS.items()
    ]
    assert [(c.name, c.stage) for c in staged.clusters] == [
        (name, stage) for stage, name in enumerate(CLUSTERS, start=1)
    ]
    assert parallel.namespace == "m1-one-stage" and staged.namespace == "m1-three-stages"
    for name, context in CLUSTERS.items():
        single = loaded[f"single-{name}"]
        assert (single.context, single.namespace, single.fleet) == (context, "m1-in-turn", False)
    made = [loaded[env] for envs in fleet.environments(CLUSTERS).values() for env in envs]
    assert not any(p.default for p in made)  # the project's own profile stays the default
    assert {p.order == loaded["bench"].order for p in made} == {True}


def test_every_run_has_fresh_namespaces() -> None:
    first, second = fleet.namespaces(1), fleet.namespaces(2)

    assert set(first) == set(fleet.VARIANTS)
    assert len(set(first.values())) == 3 and not set(first.values()) & set(second.values())


def test_works_by_key() -> None:
    for key in ("dev", "c20", "c100"):
        fleet.check_work(key)
    for key in ("c10", "c", "twenty", "c-4"):
        try:
            fleet.check_work(key)
        except ValueError:
            continue
        raise AssertionError(f"{key} accepted")


def way(variant: str, number: int, *walls: float, ok: bool = True) -> dict:
    ups = [{"wall": w, "ok": True, "max_rss_mib": 80.0} for w in walls]
    return {"variant": variant, "run": number, "ok": ok, "wall": sum(walls), "ups": ups}


def test_medians_and_each_fleet_way_over_the_ups_in_turn() -> None:
    runs = [
        way("in-turn", 1, 6.0, 6.0, 6.0),
        way("in-turn", 2, 5.0, 6.0, 7.0),
        way("in-turn", 3, 7.0, 7.0, 6.0),
        way("one-stage", 1, 9.0),
        way("one-stage", 2, 8.0),
        way("one-stage", 3, 30.0, ok=False),
        way("three-stages", 1, 19.0),
        way("three-stages", 2, 20.0),
        way("three-stages", 3, 21.0),
    ]
    runs[5]["error"] = "fleet-one-stage: boom"

    summary = report.summarize_fleet({"runs": runs})

    variants = summary["variants"]
    assert variants["in-turn"]["median"] == 18.0 and variants["in-turn"]["ratio"] == 1.0
    assert variants["one-stage"]["median"] == 8.5  # the failed run is left out
    assert (variants["one-stage"]["ok"], variants["one-stage"]["runs"]) == (2, 3)
    assert variants["one-stage"]["errors"] == ["fleet-one-stage: boom"]
    assert variants["one-stage"]["ratio"] == 8.5 / 18.0
    assert variants["three-stages"]["ratio"] == 20.0 / 18.0
    assert summary["single_up"] == 6.0


def test_the_report_has_a_3_clusters_row_even_when_nothing_else_ran() -> None:
    results = {
        "generated": "then",
        "command": "nox -s bench -- --stacks none --sizes none --no-startup",
        "settings": {"runs": 1, "pod_ready_delay": 1.0, "pods_per_node": 200},
        "machine": {"nproc": 2, "cpu": "cpu", "memory_gib": 8.0},
        "works": [],
        "fleet": {
            "generated": "then",
            "title": "20 components",
            "objects": 120,
            "clusters": list(CLUSTERS),
            "settings": {"runs": 1, "pod_ready_delay": 1.0},
            "runs": [
                way("in-turn", 1, 6.0, 6.0, 6.0),
                way("one-stage", 1, 9.0),
                way("three-stages", 1, 20.0),
            ],
        },
    }

    text = report.markdown(results, report.summarize(results))

    row = next(line for line in text.splitlines() if line.startswith("| 3 clusters"))
    assert row == (
        f"| 3 clusters {report.X} 20 components | 120 | 18.0 s | 9.0 s | 0.50{report.X} "
        f"| 20.0 s | 1.11{report.X} |"
    )
    assert "## Fresh deploy" not in text and "## Issue 8's targets" not in text
