"""Namespaces at render time: the profile's namespace, with or without the overlay's."""

from __future__ import annotations

from deployctl.render import set_namespace


def obj(kind: str, name: str, namespace: str | None = None, **rest) -> dict:
    metadata = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "v1", "kind": kind, "metadata": metadata, **rest}


def test_an_overlay_without_a_namespace_still_lands_every_namespaced_object_in_the_profiles():
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"scope": "Cluster", "names": {"kind": "Widget"}},
    }
    binding = obj(
        "ClusterRoleBinding",
        "deployer",
        subjects=[{"kind": "ServiceAccount", "name": "deployer"}, {"kind": "User", "name": "ann"}],
    )
    rendered = [
        obj("NetworkPolicy", "default-deny"),
        obj("ConfigMap", "settings"),
        obj("ClusterRole", "reader"),
        binding,
        crd,
        obj("Widget", "global"),
        obj("Gadget", "local"),  # a custom kind this render does not define: namespaced
    ]

    placed = {o["metadata"]["name"]: o for o in set_namespace(rendered, "staging")}

    for name in ("default-deny", "settings", "local"):
        assert placed[name]["metadata"]["namespace"] == "staging"
    for name in ("reader", "deployer", "widgets.example.com", "global"):
        assert "namespace" not in placed[name]["metadata"]
    subjects = placed["deployer"]["subjects"]
    assert subjects[0]["namespace"] == "staging" and "namespace" not in subjects[1]


def test_the_overlays_namespace_is_replaced_and_the_namespace_object_renamed() -> None:
    rendered = [obj("Namespace", "from-overlay"), obj("Service", "api", "from-overlay")]

    placed = set_namespace(rendered, "dev")

    assert placed[0]["metadata"]["name"] == "dev"
    assert placed[1]["metadata"]["namespace"] == "dev"
    assert rendered[1]["metadata"]["namespace"] == "from-overlay"  # the input is not changed
