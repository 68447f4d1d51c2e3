"""The fingerprint that lets an unchanged object skip its dry run, and still catches drift."""

from __future__ import annotations

import copy

from deployctl.deploy.live import fingerprint


def deployment() -> dict:
    return {
        "metadata": {
            "name": "api",
            "uid": "u1",
            "generation": 4,
            "resourceVersion": "100",
            "managedFields": [
                {"manager": "deployctl", "operation": "Apply", "time": "2026-01-01T10:00:00Z"},
                {
                    "manager": "kube-controller-manager",
                    "operation": "Update",
                    "subresource": "status",
                    "time": "2026-01-01T10:00:03Z",
                },
            ],
        },
        "status": {"readyReplicas": 2},
    }


def test_status_updates_by_controllers_leave_the_fingerprint_alone() -> None:
    before = deployment()
    after = copy.deepcopy(before)
    after["metadata"]["resourceVersion"] = "250"
    after["metadata"]["managedFields"][1]["time"] = "2026-01-01T11:00:00Z"
    after["status"]["readyReplicas"] = 1

    assert fingerprint(after) == fingerprint(before)


def test_kubectl_scale_or_edit_changes_the_fingerprint() -> None:
    before = deployment()
    scaled = copy.deepcopy(before)
    scaled["metadata"]["generation"] = 5
    scaled["metadata"]["managedFields"].append(
        {"manager": "kubectl", "operation": "Update", "subresource": "scale", "time": "x"}
    )
    labelled = copy.deepcopy(before)  # metadata only: no new generation, a new manager entry
    labelled["metadata"]["managedFields"].append(
        {"manager": "kubectl-label", "operation": "Update", "time": "y"}
    )

    assert fingerprint(scaled) != fingerprint(before)
    assert fingerprint(labelled) != fingerprint(before)


def test_a_recreated_object_has_a_new_fingerprint() -> None:
    before = deployment()
    again = copy.deepcopy(before)
    again["metadata"]["uid"] = "u2"

    assert fingerprint(again) != fingerprint(before)
