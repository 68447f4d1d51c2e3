"""components/monitoring's alerts and dashboards, read as data (no binaries).

- Every alert has a severity, a summary, a description and a runbook_url whose
  anchor is a heading of docs/alerts.md; every PrometheusRule and dashboard
  ConfigMap carries a component deployctl knows.
- Every metric name a rule or a dashboard uses is in the table of
  manifests/README.md, and the table lists nothing unused. The extractor that
  finds those names is tested on its own.
- Dashboards are valid JSON, generated into ConfigMaps with the sidecar label,
  with the $namespace and datasource variables and deploy annotations.
- promtool's test files (tests/e2e/promtool/) fire and stay quiet for every
  alert (tests/e2e/test_promtool.py runs them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import monitoring_sources as sources  # tests/, beside this folder

PROMTOOL_TESTS = sources.REPO / "tests" / "e2e" / "promtool"
SEVERITIES = {"critical", "warning"}


def component_kustomization() -> dict:
    return yaml.safe_load((sources.COMPONENT / "kustomization.yaml").read_text())


def known_components() -> set[str]:
    """The components deployctl finds in the base and the shared components."""
    found = set()
    manifests = sources.REPO / "manifests"
    for path in [*manifests.glob("base/**/*.yaml"), *manifests.glob("components/*/*.yaml")]:
        if path.parent == sources.COMPONENT:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            labels = ((doc or {}).get("metadata") or {}).get("labels") or {}
            if component := labels.get("app.kubernetes.io/component"):
                found.add(component)
    return found


# -- alerts --------------------------------------------------------------------------


def test_there_are_alerts_and_each_is_complete() -> None:
    rules = sources.alerting_rules()
    assert len({r["alert"] for r in rules}) >= 10, "prometheusrules.yaml lost its alerts"
    for rule in rules:
        where = rule["alert"]
        assert rule.get("expr", "").strip(), where
        assert rule.get("labels", {}).get("severity") in SEVERITIES, where
        annotations = rule.get("annotations") or {}
        for key in ("summary", "description", "runbook_url"):
            assert str(annotations.get(key, "")).strip(), f"{where}: no {key}"


def test_every_runbook_url_points_at_its_own_heading_in_docs_alerts() -> None:
    anchors = sources.runbook_anchors()
    for rule in sources.alerting_rules():
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "docs/alerts.md", f"{rule['alert']}: {url}"
        assert anchor in anchors, f"{rule['alert']}: docs/alerts.md has no heading #{anchor}"
        assert anchor == sources.github_anchor(rule["alert"]), f"{rule['alert']}: {url}"


def test_an_alert_with_two_copies_has_one_per_severity() -> None:
    seen: dict[str, list[str]] = {}
    for rule in sources.alerting_rules():
        seen.setdefault(rule["alert"], []).append(rule["labels"]["severity"])
    for alert, severities in seen.items():
        assert len(severities) == len(set(severities)), f"{alert}: {severities}"


def test_the_required_alerts_are_there() -> None:
    names = {r["alert"] for r in sources.alerting_rules()}
    assert {
        "AiAgentComponentUnavailable",
        "AiAgentPodCrashLooping",
        "AiAgentHPAAtMaximum",
        "AiAgentVolumeNearlyFull",
        "RabbitMQQueueGrowing",
        "RabbitMQNoConsumers",
        "RabbitMQUnackedMessages",
        "PostgreSQLReplicationLag",
        "PostgreSQLStandbyDown",
        "PostgreSQLConnectionsNearLimit",
        "RedisMemoryNearMaxmemory",
        "RedisSentinelFailover",
    } <= names


def test_no_rule_names_a_namespace() -> None:
    """The stack deploys to any namespace: rules group by it, never select one."""
    for rule in sources.alerting_rules():
        assert "namespace=" not in rule["expr"].replace(" ", ""), rule["alert"]
        assert "namespace!=" not in rule["expr"].replace(" ", ""), rule["alert"]


def test_the_prometheus_rules_are_in_the_component_and_labelled_with_known_components() -> None:
    assert "prometheusrules.yaml" in component_kustomization()["resources"]
    known = known_components()
    rules = sources.prometheus_rules()
    assert rules
    for obj in rules:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] in known, obj["metadata"]["name"]
        assert labels.get("app.kubernetes.io/name"), obj["metadata"]["name"]


# -- dashboards ----------------------------------------------------------------------


def test_dashboards_are_json_with_the_variables_and_deploy_annotations() -> None:
    boards = sources.dashboards()
    assert {"overview.json", "postgresql.json", "rabbitmq.json", "redis.json"} <= set(boards)
    uids = set()
    for name, board in boards.items():
        json.loads((sources.DASHBOARDS / name).read_text())
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", name
        assert variables["datasource"]["query"] == "prometheus", name
        assert variables["namespace"]["type"] == "query", name
        annotations = [a for a in board["annotations"]["list"] if a.get("expr")]
        assert any("kube_deployment_metadata_generation" in a["expr"] for a in annotations), name
        assert any("kube_statefulset_metadata_generation" in a["expr"] for a in annotations), name
        expressions = sources.dashboard_expressions(board, name)
        assert len(expressions) >= 5, name
        for e in expressions:
            if "variable" not in e.where:
                assert "$namespace" in e.expr, e.where
        for panel in board["panels"]:
            for target in panel.get("targets") or []:
                assert target["datasource"]["uid"] == "${datasource}", f"{name} {panel['title']}"
        uids.add(board["uid"])
    assert len(uids) == len(boards)


def test_dashboard_panels_have_unique_ids_and_do_not_overlap() -> None:
    for name, board in sources.dashboards().items():
        ids: set[int] = set()
        cells: dict[tuple[int, int], str] = {}
        for panel in board["panels"]:
            assert panel["id"] not in ids, f"{name}: id {panel['id']} twice"
            ids.add(panel["id"])
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, f"{name} {panel['title']}"
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    other = cells.setdefault((x, y), panel["title"])
                    assert other == panel["title"], f"{name}: {panel['title']!r} over {other!r}"


def test_each_dashboard_becomes_a_configmap_with_the_sidecar_label() -> None:
    generators = component_kustomization()["configMapGenerator"]
    files = {Path(f).name for g in generators for f in g["files"]}
    assert files == set(sources.dashboards())
    known = known_components()
    for generator in generators:
        options = generator["options"]
        assert options["disableNameSuffixHash"] is True, generator["name"]
        assert options["labels"]["grafana_dashboard"] == "1", generator["name"]
        assert options["labels"]["app.kubernetes.io/component"] in known, generator["name"]


def test_grafana_variables_are_substituted_and_unknown_ones_refused() -> None:
    expressions = sources.all_dashboard_expressions()
    assert expressions
    for expression in expressions:
        assert "$" not in sources.substitute_grafana_variables(expression.expr), expression.where
    assert (
        sources.substitute_grafana_variables('rate(x{namespace="$namespace"}[$__rate_interval])')
        == 'rate(x{namespace="ai-agent-test"}[2m])'
    )
    with pytest.raises(KeyError):
        sources.substitute_grafana_variables('up{job="$unknown"}')


# -- metric names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('rate(http_requests_total{job="api", code=~"5.."}[5m])', {"http_requests_total"}),
        (
            'sum by (namespace, pod) (pg_stat_activity_count{pod=~"postgresql-[0-9]+"})'
            " / on (namespace, pod) group_left (x) max by (namespace, pod)"
            " (pg_settings_max_connections) > 0.8",
            {"pg_stat_activity_count", "pg_settings_max_connections"},
        ),
        (
            "a_metric unless on (pod) b:recorded:rule offset 10m"
            " and ignoring (x) c_metric @ 1700000000",
            {"a_metric", "b:recorded:rule", "c_metric"},
        ),
        (
            'label_replace(max(m1) > 0, "alarm", "memory", "", "") or vector(0) * 1e3 + inf',
            {"m1"},
        ),
        (
            'sum(rate(x_total{namespace="$namespace"}[$__rate_interval])) by (pod) / ${other:raw}',
            {"x_total"},
        ),
        ("histogram_quantile(0.9, sum without (instance) (rate(h_bucket[1m:30s])))", {"h_bucket"}),
        ("count(y) or z # a comment with not_a_metric", {"y", "z"}),
        ("sum(rate(q[5m])) == bool bool_metric", {"q", "bool_metric"}),
    ],
)
def test_metric_names_finds_the_metrics_and_nothing_else(expr: str, names: set[str]) -> None:
    assert sources.metric_names(expr) == names


def test_the_extractor_finds_every_metric_of_the_rules() -> None:
    """Not vacuous: the rules use names from each exporter."""
    used = sources.rule_metric_names()
    for prefix in ("kube_", "kubelet_", "pg_", "rabbitmq_", "redis_"):
        assert any(n.startswith(prefix) for n in used), prefix
    assert "by" not in used and "namespace" not in used and "max" not in used


def test_a_metric_missing_from_the_readme_table_is_found() -> None:
    table = sources.readme_metrics_table()
    used = set(sources.rule_metric_names()) | set(sources.dashboard_metric_names())
    victim = sorted(used)[0]
    text = sources.README.read_text()
    without = "\n".join(line for line in text.splitlines() if f"`{victim}`" not in line)
    assert victim in table
    assert victim not in sources.readme_metrics_table(without)
    assert used - set(sources.readme_metrics_table(without)) == {victim}


def test_every_metric_used_is_in_the_readme_table_and_nothing_else() -> None:
    table = sources.readme_metrics_table()
    rules = sources.rule_metric_names()
    boards = sources.dashboard_metric_names()
    used = set(rules) | set(boards)
    assert len(used) > 40
    missing = {name: sorted(rules.get(name, set()) | boards.get(name, set())) for name in used}
    missing = {n: w for n, w in missing.items() if n not in table}
    assert not missing, f"metrics used but not in manifests/README.md's table: {missing}"
    assert not set(table) - used, f"in the table, used nowhere: {sorted(set(table) - used)}"
    for name, exporter in table.items():
        assert exporter in sources.EXPORTERS, f"{name}: served by {exporter!r}?"


# -- promtool test files -------------------------------------------------------------


def promtool_cases() -> list[dict]:
    cases = []
    for path in sorted(PROMTOOL_TESTS.glob("*.yaml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            cases += test.get("alert_rule_tests") or test.get("alert_rule_test") or []
    return cases


def test_promtool_tests_fire_and_stay_quiet_for_every_alert() -> None:
    cases = promtool_cases()
    assert cases, f"no promtool test cases in {PROMTOOL_TESTS}"
    fires = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    alerts = {r["alert"] for r in sources.alerting_rules()}
    assert not alerts - fires, f"never seen firing: {sorted(alerts - fires)}"
    assert not alerts - quiet, f"never seen quiet: {sorted(alerts - quiet)}"
    severities = {(r["alert"], r["labels"]["severity"]) for r in sources.alerting_rules()}
    fired = {
        (c["alertname"], a["exp_labels"]["severity"])
        for c in cases
        for a in c.get("exp_alerts") or []
    }
    assert not severities - fired, f"severities never seen firing: {sorted(severities - fired)}"
