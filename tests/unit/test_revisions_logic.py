"""The riskiest pure logic of revisions, on plain dicts: the rollout and rollback merges,
image pins, the inventory a prune reads, and the prune choice itself."""

from __future__ import annotations

import pytest

from deployctl.commands.rollback import choose, merge
from deployctl.commands.rollout import retarget
from deployctl.deploy.carryover import apply_pins, inventory, prune_choice
from deployctl.errors import ConfigError
from deployctl.images import new_image
from deployctl.model import COMPONENT_LABEL, ENV_LABEL
from deployctl.releases import Revision


def workload(name: str, component: str, *images: str, kind: str = "Deployment") -> dict:
    containers = [
        {"name": f"c{i}" if i else name, "image": image} for i, image in enumerate(images)
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "ns", "labels": {COMPONENT_LABEL: component}},
        "spec": {"template": {"spec": {"containers": containers}}},
    }


def config(name: str, component: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "ns", "labels": {COMPONENT_LABEL: component}},
    }


def revision(number: int, *objects: dict, result: str = "deployed", pins=None) -> Revision:
    return Revision(
        number=number,
        environment="dev",
        action="up",
        result=result,
        objects=list(objects),
        pins=pins or {},
    )


def image_of(objects: list[dict], name: str) -> str:
    obj = next(o for o in objects if o["metadata"]["name"] == name)
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


# -- rollout ------------------------------------------------------------------------------


def test_a_tag_replaces_only_the_tag_and_a_reference_replaces_the_image() -> None:
    assert new_image("registry:5000/team/api:v1", "v2") == "registry:5000/team/api:v2"
    assert new_image("team/api@sha256:" + "a" * 64, "v2") == "team/api:v2"
    assert new_image("api:v1", "other.io/api:v3") == "other.io/api:v3"
    with pytest.raises(ConfigError, match="neither a tag"):
        new_image("api:v1", "Not A Tag!")


def test_a_rollout_changes_one_component_and_pins_the_image_against_the_manifests() -> None:
    current = revision(3, workload("api", "api", "api:v1"), workload("web", "web", "web:v1"))

    change = retarget(current, "api", "v2")

    assert image_of(change.objects, "api") == "api:v2"
    assert image_of(change.objects, "web") == "web:v1"
    assert change.pins == {"Deployment/api/api": {"image": "api:v2", "manifest": "api:v1"}}
    assert change.changes == ["Deployment/api/api: api:v1 -> api:v2"]
    assert image_of(current.objects, "api") == "api:v1"  # the record itself is not touched


def test_a_second_rollout_keeps_the_manifests_image_of_the_first_pin() -> None:
    pins = {"Deployment/api/api": {"image": "api:v2", "manifest": "api:v1"}}
    current = revision(4, workload("api", "api", "api:v2"), pins=pins)

    change = retarget(current, "api", "v3")

    assert change.pins["Deployment/api/api"] == {"image": "api:v3", "manifest": "api:v1"}


def test_a_rollout_to_the_running_version_changes_nothing() -> None:
    current = revision(2, workload("api", "api", "api:v1"))
    assert retarget(current, "api", "v1").changes == []


def test_a_rollout_of_an_unknown_component_or_an_ambiguous_container_is_refused() -> None:
    current = revision(2, workload("api", "api", "api:v1", "sidecar:v1"))
    with pytest.raises(ConfigError, match='unknown component "nope"'):
        retarget(current, "nope", "v2")
    assert retarget(current, "api", "v2").changes  # the container named like the component
    with pytest.raises(ConfigError, match='no container "x"'):
        retarget(current, "api", "v2", container="x")


# -- pins on a later up ---------------------------------------------------------------------


def test_an_up_keeps_a_pin_until_the_manifests_change_that_image() -> None:
    pins = {"Deployment/api/api": {"image": "api:v2", "manifest": "api:v1"}}
    said: list[str] = []

    unchanged = [workload("api", "api", "api:v1")]
    kept = apply_pins(unchanged, pins, said.append)
    assert image_of(unchanged, "api") == "api:v2" and kept == pins

    moved_on = [workload("api", "api", "api:v3")]
    kept = apply_pins(moved_on, pins, said.append)
    assert image_of(moved_on, "api") == "api:v3" and kept == {}
    assert "keeping Deployment/api/api at api:v2" in said[0]
    assert "no longer applies" in said[1]


# -- rollback -------------------------------------------------------------------------------


def test_a_rollback_of_one_component_takes_its_objects_and_pins_and_keeps_the_rest() -> None:
    old_pins = {"Deployment/api/api": {"image": "api:v1", "manifest": "api:v0"}}
    new_pins = {
        "Deployment/api/api": {"image": "api:v2", "manifest": "api:v0"},
        "Deployment/web/web": {"image": "web:v9", "manifest": "web:v1"},
    }
    before = revision(1, workload("api", "api", "api:v1"), config("api-conf", "api"), pins=old_pins)
    now = revision(2, workload("api", "api", "api:v2"), workload("web", "web", "web:v9"))
    now.pins = new_pins

    current, chosen = choose([before, now], "api", None)
    objects, pins = merge(current, chosen, "api")

    assert (current.number, chosen.number) == (2, 1)
    assert image_of(objects, "api") == "api:v1"
    assert image_of(objects, "web") == "web:v9"
    assert any(o["metadata"]["name"] == "api-conf" for o in objects)
    assert pins == {
        "Deployment/api/api": {"image": "api:v1", "manifest": "api:v0"},
        "Deployment/web/web": {"image": "web:v9", "manifest": "web:v1"},
    }


def test_a_rollback_skips_revisions_that_failed_or_do_not_differ() -> None:
    first = revision(1, workload("api", "api", "api:v1"), result="superseded")
    same = revision(2, workload("api", "api", "api:v2"), result="superseded")
    failed = revision(3, workload("api", "api", "api:v3"), result="failed")
    now = revision(4, workload("api", "api", "api:v2"))

    assert choose([first, same, failed, now], None, None)[1] is first
    with pytest.raises(ConfigError, match="not a kept successful revision"):
        choose([first, same, failed, now], None, 3)
    with pytest.raises(ConfigError, match="nothing to roll back to"):
        choose([same, now], None, None)


def test_a_whole_rollback_restores_the_chosen_revision_as_it_was() -> None:
    chosen = revision(1, workload("api", "api", "api:v1"), pins={"k/x/y": {"image": "a"}})
    current = revision(2, workload("api", "api", "api:v2"))
    objects, pins = merge(current, chosen, None)
    assert objects == chosen.objects and objects is not chosen.objects
    assert pins == chosen.pins


# -- inventory and prune ------------------------------------------------------------------


def test_the_inventory_is_the_deployed_revision_and_what_later_partial_runs_applied() -> None:
    deployed = revision(2, config("a", "x"))
    failed = revision(3, config("b", "x"), result="failed")
    interrupted = revision(4, config("c", "x"), result="interrupted")
    older = revision(1, config("old", "x"), result="superseded")
    undone = revision(5, config("d", "x"), result="rolled-back")

    names = [
        o["metadata"]["name"]
        for o in inventory([older, deployed, failed, interrupted, undone], deployed)
    ]

    assert names == ["a", "b", "c"]


def test_the_prune_takes_only_what_is_gone_from_the_manifests_and_still_marked_ours() -> None:
    def live_copy(obj: dict, environment: str | None = "dev") -> dict:
        copy = {**obj, "metadata": {**obj["metadata"], "labels": dict(obj["metadata"]["labels"])}}
        if environment:
            copy["metadata"]["labels"][ENV_LABEL] = environment
        return copy

    kept, gone, foreign, claim = (
        config("kept", "x"),
        config("gone", "x"),
        config("foreign", "x"),
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "ns", "labels": {}},
        },
    )
    vanished = config("vanished", "x")
    live = {
        "kept": live_copy(kept),
        "gone": live_copy(gone),
        "foreign": live_copy(foreign, environment="staging"),
        "data": live_copy(claim),
    }

    chosen = prune_choice(
        [kept],
        [kept, gone, gone, foreign, claim, vanished],
        lambda o: live.get(o["metadata"]["name"]),
        "dev",
    )

    assert [o["metadata"]["name"] for o in chosen] == ["gone"]
