"""The sandbox's node objects: capacity for the stack, more pods when asked."""

from __future__ import annotations

import yaml

from deployctl.cluster import sandbox


def nodes(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d and d["kind"] == "Node"]


def test_three_nodes_in_three_zones_with_kubelets_default_pod_capacity() -> None:
    found = nodes(sandbox._cluster_objects())

    assert len(found) == 3
    assert {n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in found} == set(
        sandbox.ZONES
    )
    assert {n["status"]["capacity"]["pods"] for n in found} == {"110"}


def test_pods_per_node_raises_capacity_and_allocatable() -> None:
    for node in nodes(sandbox._cluster_objects(250)):
        assert node["status"]["capacity"]["pods"] == "250"
        assert node["status"]["allocatable"]["pods"] == "250"
