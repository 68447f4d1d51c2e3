"""promtool over manifests/components/monitoring (no cluster needed).

- `promtool check rules` accepts the rule groups of every PrometheusRule.
- `promtool test rules` runs tests/e2e/promtool/*.yaml: for every alert, input
  series with which it fires and input series with which it stays quiet
  (test_monitoring.py checks that each alert and severity has both).
- Every PromQL expression of the dashboards (panels, annotations, variable
  selectors), with Grafana's variables substituted, parses: `promtool check
  rules` on them as recording rules.

promtool is built from source once into the binaries cache (`binaries.PROMTOOL`).
The test files live here, not in the component: they are test inputs, and
kustomize and the Helm chart's copies of the manifests have no use for them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deployctl.cluster import binaries

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import monitoring_sources as sources  # tests/, beside this folder

PROMTOOL_TESTS = Path(__file__).parent / "promtool"
TEST_FILES = sorted(PROMTOOL_TESTS.glob("*.yaml"))


@pytest.fixture(scope="session")
def promtool() -> Path:
    return binaries.ensure_tool(binaries.PROMTOOL).promtool


def run(promtool: Path, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(promtool), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def write_rules(path: Path) -> int:
    """The PrometheusRules' groups as one Prometheus rule file; the number of rules."""
    groups = sources.rule_groups()
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return sum(len(group["rules"]) for group in groups)


def test_promtool_check_rules_accepts_every_rule_group(promtool: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    count = write_rules(rules)
    assert count == len(sources.alerting_rules()) >= 10

    done = run(promtool, "check", "rules", rules)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {count} rules found" in done.stdout, done.stdout


def test_there_are_promtool_tests() -> None:
    assert {p.name for p in TEST_FILES} >= {
        "platform.yaml",
        "postgresql.yaml",
        "rabbitmq.yaml",
        "redis.yaml",
    }


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_test_rules(promtool: Path, tmp_path: Path, test_file: Path) -> None:
    """Each file's cases: the alerts that should fire fire, with their labels and texts."""
    write_rules(tmp_path / "rules.yaml")
    shutil.copy(test_file, tmp_path / test_file.name)
    cases = [t for t in yaml.safe_load(test_file.read_text())["tests"] if t["alert_rule_test"]]
    assert cases, f"{test_file.name} tests no alert"

    done = run(promtool, "test", "rules", test_file.name, cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout, done.stdout


def test_promtool_test_rules_fails_when_an_expected_alert_is_wrong(
    promtool: Path, tmp_path: Path
) -> None:
    """Not vacuous: a case that expects the wrong severity fails."""
    write_rules(tmp_path / "rules.yaml")
    text = (PROMTOOL_TESTS / "platform.yaml").read_text()
    broken = text.replace("severity: critical", "severity: warning", 1)
    assert broken != text
    (tmp_path / "broken.yaml").write_text(broken)

    done = run(promtool, "test", "rules", "broken.yaml", cwd=tmp_path)

    assert done.returncode != 0, done.stdout
    assert "AiAgentComponentUnavailable" in done.stdout + done.stderr


def test_every_dashboard_expression_parses(promtool: Path, tmp_path: Path) -> None:
    expressions = sources.all_dashboard_expressions()
    assert len(expressions) >= 40, "the dashboards lost their queries"
    groups: dict[str, list[dict]] = {}
    where: dict[str, str] = {}
    for i, expression in enumerate(expressions):
        board = expression.where.split(" ", 1)[0].removesuffix(".json").replace("-", "_")
        record = f"dashboard:{board}_{i}:check"
        where[record] = expression.where
        groups.setdefault(board, []).append(
            {"record": record, "expr": sources.substitute_grafana_variables(expression.expr)}
        )
    rules = tmp_path / "dashboards.yaml"
    rules.write_text(
        yaml.safe_dump({"groups": [{"name": n, "rules": r} for n, r in groups.items()]})
    )

    done = run(promtool, "check", "rules", rules)

    failed = sorted({where[m] for m in re.findall(r"dashboard:\w+:check", done.stderr)})
    assert done.returncode == 0, f"{failed}\n{done.stdout}{done.stderr}"
    assert f"SUCCESS: {len(expressions)} rules found" in done.stdout, done.stdout
