"""Volume stages: provision a PersistentVolume for each claim of the sandbox's class
that a pod needs, bind it, and delete it once released."""

from __future__ import annotations

from typing import Any

STORAGE_CLASS = "standard"

# Volumes select with CEL expressions.
OURS = f"has(self.spec.storageClassName) && self.spec.storageClassName == '{STORAGE_CLASS}'"
NOT_DELETING = "!has(self.metadata.deletionTimestamp)"
# WaitForFirstConsumer: the scheduler names the node once a pod needs the claim.
NODE_SELECTED = (
    "has(self.metadata.annotations) && "
    "'volume.kubernetes.io/selected-node' in self.metadata.annotations"
)
PV_TEMPLATE = """\
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pvc-{{ .metadata.uid }}
  annotations:
    pv.kubernetes.io/provisioned-by: sandbox.deployctl.dev/volume
spec:
  accessModes:
  {{ YAML .spec.accessModes 1 }}
  capacity:
    storage: {{ .spec.resources.requests.storage | Quote }}
  persistentVolumeReclaimPolicy: Delete
  storageClassName: {{ .spec.storageClassName | Quote }}
  volumeMode: {{ or .spec.volumeMode "Filesystem" | Quote }}
  claimRef:
    apiVersion: v1
    kind: PersistentVolumeClaim
    name: {{ .metadata.name | Quote }}
    namespace: {{ .metadata.namespace | Quote }}
    uid: {{ .metadata.uid | Quote }}
  hostPath:
    path: /tmp/deployctl-sandbox/pvc-{{ .metadata.uid }}
"""


def _stage(name: str, kind: str, conditions: list[str], steps: list[dict[str, Any]]) -> dict:
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": kind},
            "selector": {"matchExpressions": [{"cel": {"expression": c}} for c in conditions]},
            "steps": steps,
        },
    }


def volume_stages() -> list[dict[str, Any]]:
    """Provision a PersistentVolume for each claim of the sandbox's class that a pod needs."""
    return [
        _stage(
            "pvc-provision",
            "PersistentVolumeClaim",
            [OURS, NOT_DELETING, NODE_SELECTED, "!has(self.spec.volumeName)"],
            [
                {"apply": {"template": PV_TEMPLATE}},
                {"patch": {"root": "spec", "template": "volumeName: pvc-{{ .metadata.uid }}"}},
                {
                    "patch": {
                        "root": "status",
                        "subresource": "status",
                        "template": "phase: Bound\naccessModes:\n{{ YAML .spec.accessModes 0 }}"
                        "capacity:\n  storage: {{ .spec.resources.requests.storage | Quote }}\n",
                    }
                },
            ],
        ),
        _stage(
            "pv-bind",
            "PersistentVolume",
            [
                OURS,
                NOT_DELETING,
                "has(self.spec.claimRef)",
                "!has(self.status.phase) || !(self.status.phase in ['Bound', 'Released', 'Failed'])",
            ],
            [{"patch": {"root": "status", "subresource": "status", "template": "phase: Bound"}}],
        ),
        _stage(
            "pv-delete-released",
            "PersistentVolume",
            [OURS, NOT_DELETING, "has(self.status.phase) && self.status.phase == 'Released'"],
            [{"delete": True}],
        ),
    ]
