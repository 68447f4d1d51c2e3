"""Migration Jobs, as plain dicts: which objects are migrations, their digest, rollout."""

from __future__ import annotations

import copy

import pytest

from deployctl import images, releases
from deployctl.errors import ConfigError
from deployctl.model import ChangeAction
from deployctl.plan import build_plan, ran_already, stamp_migrations, template_digest


def job(name="api-migrate", component="api", image="app:v1", annotation="true", kind="Job"):
    annotations = {"deployctl.dev/migration": annotation} if annotation is not None else {}
    labels = {"app.kubernetes.io/component": component} if component else {}
    return {
        "apiVersion": "batch/v1",
        "kind": kind,
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {"template": {"spec": {"containers": [{"name": "migrate", "image": image}]}}},
    }


def deployment(image="app:v1"):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "labels": {"app.kubernetes.io/component": "api"}},
        "spec": {"template": {"spec": {"containers": [{"name": "api", "image": image}]}}},
    }


def test_a_component_s_migrations_come_first_and_the_rest_after():
    plain = job(name="backup", annotation=None)
    plan = build_plan([deployment(), job(), plain], {"api": []})
    api = plan.components["api"]
    assert [o["metadata"]["name"] for o in api.migrations] == ["api-migrate"]
    assert [o["kind"] for o in api.rollout] == ["Deployment", "Job"]  # a plain Job is no migration


@pytest.mark.parametrize(
    ("obj", "says"),
    [
        (job(kind="Deployment"), "is for Jobs only"),
        (job(annotation="yes"), 'must be "true"'),
        (job(component=None), "needs the app.kubernetes.io/component label"),
    ],
)
def test_a_misplaced_migration_annotation_is_a_located_error(obj, says):
    with pytest.raises(ConfigError, match=says) as raised:
        build_plan([obj], {})
    assert "api-migrate" in str(raised.value)


def test_the_digest_changes_with_the_template_only():
    one, other = job(), job()
    other["metadata"]["labels"]["extra"] = "label"
    assert template_digest(one) == template_digest(other)
    assert template_digest(job(image="app:v2")) != template_digest(one)


def test_a_live_job_ran_already_when_its_digest_matches_and_it_did_not_fail():
    new = job()
    stamp_migrations([new])
    live = copy.deepcopy(new)
    assert ran_already(new, live)
    assert not ran_already(new, None)
    changed = job(image="app:v2")
    stamp_migrations([changed])
    assert not ran_already(changed, live)
    live["status"] = {"conditions": [{"type": "Failed", "status": "True"}]}
    assert not ran_already(new, live)


def test_rollout_picks_the_migration_of_the_same_image_with_the_app():
    other = job(name="seed", image="tools:v1")
    picked = images.pick_container([deployment(), job(), other], "api", None)
    assert [(w["metadata"]["name"], c["name"]) for w, c in picked] == [
        ("api-migrate", "migrate"),
        ("api", "api"),
    ]


def test_a_revision_records_the_migrations_its_deploy_created_or_replaced():
    ran, kept = job(), job(name="old-migrate")
    stamp_migrations([ran, kept])
    changes = [
        (ran, ChangeAction.REPLACE),
        (kept, ChangeAction.UNCHANGED),
        (deployment(), "update"),
    ]
    assert releases.migrations_run(changes) == [
        {
            "component": "api",
            "job": "api-migrate",
            "digest": template_digest(ran),
            "images": ["app:v1"],
        }
    ]
