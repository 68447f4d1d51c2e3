"""Choosing what a rollback restores, on plain records."""

from __future__ import annotations

from deployctl.releases import Revision, current_state, rollback_target


def deployment(component: str, image: str) -> dict:
    return {
        "kind": "Deployment",
        "metadata": {"name": component, "labels": {"app.kubernetes.io/component": component}},
        "spec": {"template": {"spec": {"containers": [{"name": component, "image": image}]}}},
    }


def revision(number: int, result: str, api: str, web: str = "web:v1") -> Revision:
    return Revision(
        number=number,
        environment="dev",
        action="up",
        result=result,
        objects=[deployment("api", api), deployment("web", web)],
    )


def test_rollback_skips_identical_and_unsuccessful_revisions() -> None:
    revisions = [
        revision(1, "superseded", "api:v1"),
        revision(2, "superseded", "api:v2"),
        revision(3, "failed", "api:v3"),
        revision(4, "deployed", "api:v2"),  # same as 2: rolling back to 2 would undo nothing
    ]

    target = rollback_target(revisions, revisions[-1], None)

    assert target is not None and target.number == 1


def test_a_component_rollback_compares_only_that_component() -> None:
    revisions = [
        revision(1, "superseded", "api:v1", web="web:v1"),
        revision(2, "superseded", "api:v1", web="web:v2"),
        revision(3, "deployed", "api:v1", web="web:v3"),
    ]

    assert rollback_target(revisions, revisions[-1], "api") is None
    assert rollback_target(revisions, revisions[-1], "web").number == 2


def test_the_current_state_ignores_undone_rollouts_but_not_failed_deploys() -> None:
    deployed = revision(1, "deployed", "api:v1")
    undone = revision(2, "rolled-back", "api:v2")
    assert current_state([deployed, undone]) is deployed

    failed = revision(3, "failed", "api:v3")
    assert current_state([deployed, undone, failed]) is failed


def test_after_a_rollout_restored_the_deployed_revision_that_one_is_current() -> None:
    deployed = revision(3, "deployed", "api:v1")
    failed_up = revision(4, "failed", "api:v4")
    restored = revision(5, "rolled-back", "api:v5")

    assert current_state([deployed, failed_up, restored]) is deployed
