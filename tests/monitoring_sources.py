"""The alerts and dashboards of manifests/components/monitoring, read as data.

Shared by tests/unit/test_monitoring.py (pure Python) and
tests/e2e/test_promtool.py (promtool): the PrometheusRule groups, every PromQL
expression of the dashboards with Grafana's variables substituted, a PromQL
metric-name extractor and the README's table of metrics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
COMPONENT = REPO / "manifests" / "components" / "monitoring"
RULES_FILE = COMPONENT / "prometheusrules.yaml"
DASHBOARDS = COMPONENT / "dashboards"
README = REPO / "manifests" / "README.md"
RUNBOOK = REPO / "docs" / "alerts.md"
METRICS_HEADING = "## Metrics the alerts and dashboards use"

Obj = dict[str, Any]

# -- rules ---------------------------------------------------------------------------


def prometheus_rules() -> list[Obj]:
    """The PrometheusRule objects of prometheusrules.yaml."""
    docs = [d for d in yaml.safe_load_all(RULES_FILE.read_text()) if d]
    return [d for d in docs if d.get("kind") == "PrometheusRule"]


def rule_groups() -> list[Obj]:
    """Every rule group of every PrometheusRule: what a Prometheus rule file holds."""
    return [group for obj in prometheus_rules() for group in obj["spec"]["groups"]]


def alerting_rules() -> list[Obj]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


# -- dashboards ----------------------------------------------------------------------


def dashboards() -> dict[str, Obj]:
    """Each dashboard file's name and parsed JSON."""
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


@dataclass(frozen=True)
class Expression:
    where: str  # dashboard file and what in it: "overview.json panel 3 'CPU by pod' A"
    expr: str  # as written, with Grafana's variables


def _panels(panels: list[Obj]) -> Iterator[Obj]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])  # a collapsed row keeps its panels


LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.*),\s*(?P<label>[a-zA-Z_]\w*)\s*\)\s*$")


def variable_query(variable: Obj) -> str | None:
    """The PromQL selector of a `label_values(selector, label)` variable (None: not one)."""
    query = variable.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    if not isinstance(query, str) or variable.get("type") != "query":
        return None
    match = LABEL_VALUES.match(query)
    if not match:
        raise ValueError(f"variable {variable.get('name')}: not label_values(...): {query!r}")
    return match["selector"]


def dashboard_expressions(dashboard: Obj, name: str) -> list[Expression]:
    """Every PromQL expression: panel targets, annotation queries, variable selectors."""
    found: list[Expression] = []
    for panel in _panels(dashboard.get("panels") or []):
        for target in panel.get("targets") or []:
            if target.get("expr"):
                where = f"{name} panel {panel.get('id')} {panel.get('title')!r} {target['refId']}"
                found.append(Expression(where, target["expr"]))
    for annotation in (dashboard.get("annotations") or {}).get("list") or []:
        if annotation.get("expr"):
            where = f"{name} annotation {annotation['name']!r}"
            found.append(Expression(where, annotation["expr"]))
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if selector := variable_query(variable):
            found.append(Expression(f"{name} variable {variable['name']!r}", selector))
    return found


def all_dashboard_expressions() -> list[Expression]:
    return [e for name, board in dashboards().items() for e in dashboard_expressions(board, name)]


# What Grafana puts in place of its variables, for a check that the result parses.
GRAFANA_VARIABLES = {
    "namespace": "ai-agent-test",
    "datasource": "prometheus",
    "__rate_interval": "2m",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
GRAFANA_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def substitute_grafana_variables(expr: str) -> str:
    """`expr` with each Grafana variable replaced; an unknown variable is an error."""

    def value(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in GRAFANA_VARIABLES:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return GRAFANA_VARIABLES[name]

    return GRAFANA_VARIABLE.sub(value, expr)


# -- metric names --------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_COMMENT = re.compile(r"#[^\n]*")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")  # ranges and subqueries: durations only
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_OFFSET_AT = re.compile(r"\boffset\s+-?[\w.]+|@\s*(?:[\w.]+\(\)|[\d.]+)", re.IGNORECASE)
_CALL = re.compile(r"\b[a-zA-Z_][\w:]*\s*\(")
_WORD = re.compile(r"(?<![\w.$:])[a-zA-Z_:][\w:]*")
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "atan2",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (Grafana's variables allowed).

    Removes, in this order: strings, comments, Grafana variables, label matchers
    `{...}`, range and subquery brackets, `by/without/on/ignoring/group_left/
    group_right (...)` label lists, offset and @ modifiers, function and
    aggregation names before `(`; what is left that looks like a name, and is
    no keyword, is a metric. Numbers and durations never start a name here.
    """
    text = _STRING.sub(" ", expr)
    text = _COMMENT.sub(" ", text)
    text = GRAFANA_VARIABLE.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _OFFSET_AT.sub(" ", text)
    text = _CALL.sub("(", text)
    return {w for w in _WORD.findall(text) if w.lower() not in _KEYWORDS}


def rule_metric_names() -> dict[str, set[str]]:
    """Metric name -> the alerts that use it."""
    used: dict[str, set[str]] = {}
    for rule in alerting_rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, set()).add(rule["alert"])
    return used


def dashboard_metric_names() -> dict[str, set[str]]:
    """Metric name -> the dashboard files that use it."""
    used: dict[str, set[str]] = {}
    for name, board in dashboards().items():
        for expression in dashboard_expressions(board, name):
            for metric in metric_names(expression.expr):
                used.setdefault(metric, set()).add(name)
    return used


# -- the README's table --------------------------------------------------------------

EXPORTERS = (
    "postgres_exporter",
    "redis_exporter",
    "RabbitMQ prometheus plugin",
    "kube-state-metrics",
    "kubelet",
    "kubelet (cAdvisor)",
)


def readme_metrics_table(text: str | None = None) -> dict[str, str]:
    """Metric -> exporter, from the table under METRICS_HEADING in manifests/README.md."""
    text = README.read_text() if text is None else text
    if METRICS_HEADING not in text:
        raise AssertionError(f"manifests/README.md has no {METRICS_HEADING!r} section")
    section = text.split(METRICS_HEADING, 1)[1].split("\n## ", 1)[0]
    table: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2:
            continue
        if match := re.fullmatch(r"`([a-zA-Z_:][\w:]*)`", cells[0]):
            table[match[1]] = cells[1]
    return table


# -- docs/alerts.md ------------------------------------------------------------------


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_anchors(text: str | None = None) -> set[str]:
    text = RUNBOOK.read_text() if text is None else text
    in_code = False
    anchors = set()
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (match := re.match(r"#{1,6}\s+(.*)", line)):
            anchors.add(github_anchor(match[1]))
    return anchors
