"""The order prune and `down` delete in: dependents first, the foundation last."""

from deployctl.deploy.carryover import dependencies
from deployctl.deploy.removal import grace_of, prune_groups
from deployctl.releases import Revision


def obj(kind: str, name: str, component: str | None = None, **spec) -> dict:
    labels = {"app.kubernetes.io/component": component} if component else {}
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }


def names(groups: list[list[dict]]) -> list[list[str]]:
    return [[f"{o['kind']}/{o['metadata']['name']}" for o in group] for group in groups]


def test_prune_deletes_the_last_wave_first_and_the_foundation_last():
    objects = [  # as an inventory lists them: the apply order
        obj("Service", "db", "db"),
        obj("StatefulSet", "db", "db"),
        obj("ConfigMap", "api", "api"),
        obj("Deployment", "api", "api"),
        obj("HorizontalPodAutoscaler", "api", "api"),
        obj("Deployment", "web", "web"),
    ]
    order = {"db": [], "api": ["db"], "web": ["api"]}

    assert names(prune_groups(objects, order)) == [
        ["Deployment/web"],
        ["HorizontalPodAutoscaler/api", "Deployment/api"],  # nothing targets a missing object
        ["StatefulSet/db"],
        ["Service/db", "ConfigMap/api"],  # the foundation's apply order, reversed
    ]


def test_a_component_the_profile_no_longer_orders_goes_with_the_first_wave():
    objects = [obj("Deployment", "old", "old"), obj("Deployment", "web", "web")]
    assert names(prune_groups(objects, {"web": []})) == [["Deployment/old", "Deployment/web"]]


def test_a_group_may_take_its_pods_grace_period_longer():
    template = {"template": {"spec": {"terminationGracePeriodSeconds": 600, "containers": [{}]}}}
    job = {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{}]}}}}}
    assert grace_of([obj("ConfigMap", "c")]) == 0
    assert grace_of([obj("Deployment", "d", template={})]) == 30
    assert grace_of([obj("Deployment", "d", **template)]) == 600
    assert grace_of([obj("CronJob", "j", **job)]) == 30


def revision(number: int, order: dict) -> Revision:
    return Revision(number, "test", "up", "deployed", order=order)


def test_components_gone_from_the_profile_keep_the_dependencies_they_were_deployed_with():
    old = revision(1, {"db": [], "api": ["db"], "web": ["api"]})
    order = dependencies([old], {"db": []})
    objects = [obj("Deployment", "api", "api"), obj("Deployment", "web", "web")]

    assert names(prune_groups(objects, order)) == [["Deployment/web"], ["Deployment/api"]]
    # The profile's own order wins over the records'.
    assert dependencies([old], {"api": []}) == {"db": [], "api": [], "web": ["api"]}
    # Together with the records a cycle (db -> web -> api -> db): the profile's alone.
    assert dependencies([old], {"db": ["web"]}) == {"db": ["web"]}
