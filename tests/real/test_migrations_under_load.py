"""Schema migrations on the real stack, under load: migrate first, then roll; a failed
migration leaves the running version serving; going back keeps the expanded schema.

kind-real's orchestrator has a migration Job (manifests/overlays/kind-real/
orchestrator-migration.yaml) running the reference application's `migrate`:
v1 creates the schema, v2 adds tasks.accepted_version (which v2 writes), and
v2-badmigration fails halfway (tests/e2e/app/migrate.go).
"""

from __future__ import annotations

import json
import time

import pytest

from tests.real.load import Load
from tests.real.stack import ENV, Stack
from tests.real.test_under_load import RATE, healthy, orchestrator_image, report

pytestmark = pytest.mark.disruptive


def replica_sets(stack: Stack) -> list[dict]:
    found = stack.json("get", "replicasets", "-l", "app.kubernetes.io/name=orchestrator")
    return found["items"]


def test_migrations_run_first_fail_safely_and_a_rollback_keeps_the_expanded_schema(
    stack: Stack,
) -> None:
    load = Load(stack, rate=RATE)
    with load.step("steady"):
        time.sleep(10)

    with load.step("rollout orchestrator v2 (migrates first)"):
        rolled = stack.deployctl("rollout", "orchestrator", "v2", "-e", ENV, "--yes", "-o", "json")
    job = stack.json("get", "job", "orchestrator-migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v2")
    newest = max(replica_sets(stack), key=lambda rs: rs["metadata"]["creationTimestamp"])
    assert job["status"]["completionTime"] <= newest["metadata"]["creationTimestamp"]
    assert orchestrator_image(stack).endswith(":v2")
    actions = {
        row["object"].split(" ")[0]: row["action"] for row in json.loads(rolled.stdout)["objects"]
    }
    assert actions["Job/orchestrator-migrate"] in ("replace", "create")
    steps = stack.psql("SELECT step FROM schema_migrations ORDER BY step").splitlines()
    assert "v2-accepted-version" in steps

    sets_before = len(replica_sets(stack))
    with load.step("rollout orchestrator v2-badmigration (fails)"):
        bad = stack.deployctl(
            "rollout", "orchestrator", "v2-badmigration", "-e", ENV, "--yes", check=False
        )
    assert bad.returncode == 1, bad.stderr[-3000:]
    assert "migration failed: Job orchestrator-migrate" in bad.stderr
    assert "already exists (SQLSTATE 42701)" in bad.stderr  # the Job's last log lines
    assert orchestrator_image(stack).endswith(":v2")  # v2 kept serving
    assert len(replica_sets(stack)) == sets_before  # no ReplicaSet for the bad version
    assert stack.psql("SELECT to_regclass('task_audit') IS NOT NULL") == "t"  # halfway

    with load.step("rollback to v1 past the v2 migration"):
        back = stack.deployctl(
            "rollback",
            "-e",
            ENV,
            "--to-revision",
            first_revision(stack),
            "--yes",
            "--past-migrations",
        )
    assert "returns to code older than migration Job orchestrator-migrate" in back.stderr
    assert orchestrator_image(stack).endswith(":v1")
    with load.step("v1 on the expanded schema"):
        time.sleep(10)
    outcome = load.finish()
    report(outcome)

    assert outcome.summary["given_up"] == []
    assert outcome.lost == [], f"{len(outcome.lost)} accepted tasks never completed"
    for step in outcome.steps:
        assert outcome.refused_in(step.name) == 0, (step.name, outcome.table())
    # v2 wrote the new column; v1, rolled back onto the expanded schema, leaves it empty.
    by_version = stack.psql(
        f"SELECT coalesce(accepted_version, 'none'), count(*) FROM tasks "
        f"WHERE id LIKE '{load.prefix}-%' GROUP BY 1 ORDER BY 1"
    )
    versions = dict(line.split("|") for line in by_version.splitlines())
    assert int(versions.get("v2", 0)) > 0 and int(versions.get("none", 0)) > 0, versions
    healthy(stack)


def first_revision(stack: Stack) -> str:
    """The revision of the first deploy (the orchestrator's v1, before any migration past)."""
    rows = json.loads(stack.deployctl("history", "-e", ENV, "-o", "json").stdout)["revisions"]
    v1 = [
        r
        for r in rows
        if r["result"] in ("superseded", "deployed")
        and all(image.endswith(":v1") for image in r["images"].get("orchestrator", []))
    ]
    return str(v1[-1]["revision"])
