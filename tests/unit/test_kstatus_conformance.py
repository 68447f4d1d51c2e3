"""kstatus conformance: every fixture of kstatus's own tests, judged by deployctl.

tests/unit/kstatus/fixtures.yaml holds the objects of status_compute_test.go
and core_test.go (sigs.k8s.io/cli-utils pkg/kstatus/status) with the status
kstatus computes. deployctl agrees on each, except the few where it is
deliberately stricter for a deploy: those entries carry deployctl's result
and why (docs/health.md, "Where deployctl is stricter than kstatus").
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployctl.health import HealthState, object_health

FIXTURES = Path(__file__).parent / "kstatus" / "fixtures.yaml"
KSTATUS_FIXTURES = 57  # 53 in status_compute_test.go, 4 in core_test.go
STRICTER = {
    "podCompletedFailed": HealthState.FAILED,  # a pod that ran and failed
    "jobInProgress": HealthState.IN_PROGRESS,  # a running Job is not done
    "serviceLBok": HealthState.IN_PROGRESS,  # a LoadBalancer without its address
}
CASES: list[dict[str, Any]] = yaml.safe_load(FIXTURES.read_text())


def with_now(value: Any, now: str) -> Any:
    """The object with every NOW replaced by the current time, as kstatus formats time.Now()."""
    if value == "NOW":
        return now
    if isinstance(value, dict):
        return {k: with_now(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [with_now(v, now) for v in value]
    return value


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_deployctl_agrees_with_kstatus_unless_stricter_on_purpose(case: dict[str, Any]) -> None:
    obj = with_now(copy.deepcopy(case["object"]), datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    health = object_health(obj)

    assert health.state.value == case.get("deployctl", case["kstatus"]), health.message
    if health.state is not HealthState.CURRENT:
        assert health.message  # someone reads why it is not Current


def test_every_kstatus_fixture_is_ported_and_only_the_deliberate_exceptions_differ() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names)) == KSTATUS_FIXTURES
    exceptions = {case["name"]: case for case in CASES if "deployctl" in case}
    assert {name: HealthState(case["deployctl"]) for name, case in exceptions.items()} == STRICTER
    for case in exceptions.values():
        assert case["deployctl"] != case["kstatus"] and case["why"].strip()
    agreeing = KSTATUS_FIXTURES - len(exceptions)
    assert (agreeing, len(exceptions)) == (54, 3)
