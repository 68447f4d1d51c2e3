"""Which permissions a deploy lacks, from the rules a SelfSubjectRulesReview returns."""

from __future__ import annotations

from deployctl.deploy.access import Need, missing, needs_for
from deployctl.kube import Resource

ROLE = [
    {"apiGroups": [""], "resources": ["configmaps", "secrets", "pods"], "verbs": ["*"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
    {
        "apiGroups": [""],
        "resources": ["namespaces"],
        "verbs": ["get", "patch"],
        "resourceNames": ["shop"],
    },
]


class Discovery:
    def resource(self, api_version, kind):
        plural = {"ConfigMap": "configmaps", "Deployment": "deployments", "Namespace": "namespaces"}
        return Resource(api_version, kind, plural[kind], kind != "Namespace")


def test_a_verb_the_rules_do_not_grant_is_missing_and_named() -> None:
    needs = [Need("apps", "deployments", "patch"), Need("apps", "deployments", "list")]

    lacking = missing(ROLE, needs)

    assert lacking == [Need("apps", "deployments", "patch")]
    assert str(lacking[0]) == "patch deployments.apps"


def test_wildcards_grant_and_resource_names_grant_only_that_object() -> None:
    assert missing(ROLE, [Need("", "configmaps", "delete")]) == []
    assert missing(ROLE, [Need("", "namespaces", "patch", "shop")]) == []
    assert missing(ROLE, [Need("", "namespaces", "patch", "other")]) != []
    assert missing(ROLE, [Need("", "namespaces", "list")]) != []  # names never grant a list


def test_a_deploy_needs_every_verb_on_its_kinds_and_deployctls_own() -> None:
    objects = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    ]

    needs = {str(n) for n in needs_for(Discovery(), objects)}  # type: ignore[arg-type]

    for verb in ("get", "list", "watch", "create", "patch", "delete"):
        assert f"{verb} deployments.apps" in needs
    assert {"get namespaces shop", "patch namespaces shop"} <= needs
    assert "delete namespaces shop" not in needs  # never pruned, never taken down
    assert {"create leases.coordination.k8s.io", "get pods/log", "list events"} <= needs
