"""The shape of a kwok Stage that selects with jq conditions (pods and nodes)."""

from __future__ import annotations

from typing import Any

# Pod and Node stages select with jq: kwok's CEL cannot resolve typed nested lists
# (v1.NodeCondition, v1.Container) in v0.8.0. A condition is (jq key, operator, values).
Condition = tuple[str, str, tuple[str, ...]]


def stage(
    name: str,
    kind: str,
    conditions: list[Condition],
    *,
    status_template: str | None = None,
    delay_ms: int | None = None,
    delay_annotation: str | None = None,
    event: tuple[str, str, str] | None = None,
    delete: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "resourceRef": {"apiGroup": "v1", "kind": kind},
        "selector": {
            "matchExpressions": [
                {"key": key, "operator": op, **({"values": list(values)} if values else {})}
                for key, op, values in conditions
            ]
        },
        "next": {},
    }
    if delay_ms is not None:
        spec["delay"] = {"durationMilliseconds": delay_ms}
        if delay_annotation:
            spec["delay"]["durationFrom"] = {
                "expressionFrom": f'.metadata.annotations["{delay_annotation}"]'
            }
    if status_template is not None:
        spec["next"]["statusTemplate"] = status_template
    if event is not None:
        kind_, reason, message = event
        spec["next"]["event"] = {"type": kind_, "reason": reason, "message": message}
    if delete:
        spec["next"]["delete"] = True
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": spec,
    }
