"""Revision records: what each deploy applied, kept in the cluster.

Each record is a Secret (it holds the applied Secrets too) named
`deployctl-<env>-v<N>` in the environment's namespace, its payload gzipped
JSON, as Helm keeps releases. A record lists every applied object, so it is
also the inventory that the next deploy prunes against, and the source that
a rollback re-applies.
"""

from __future__ import annotations

import base64
import getpass
import gzip
import json
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from deployctl.kube import Cluster, KubeError

Obj = dict[str, Any]
ENV_LABEL = "deployctl.dev/environment"
RECORD_LABEL = "deployctl.dev/record"
REVISION_LABEL = "deployctl.dev/revision"
RESULT_LABEL = "deployctl.dev/result"
KEEP = 10


@dataclass
class Revision:
    number: int
    environment: str
    action: str
    result: str  # deployed | failed | rolled-back | interrupted | superseded | pending
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    user: str = field(default_factory=lambda: f"{_user()}@{socket.gethostname()}")
    images: dict[str, list[str]] = field(default_factory=dict)
    objects: list[Obj] = field(default_factory=list)
    note: str = ""


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def images_by_component(objects: list[Obj]) -> dict[str, list[str]]:
    images: dict[str, list[str]] = {}
    for obj in objects:
        template = (obj.get("spec") or {}).get("template") or {}
        containers = (template.get("spec") or {}).get("containers") or []
        component = ((obj.get("metadata") or {}).get("labels") or {}).get(
            "app.kubernetes.io/component", obj["metadata"]["name"]
        )
        for container in containers:
            images.setdefault(component, []).append(container["image"])
    return images


def record_name(environment: str, number: int) -> str:
    return f"deployctl-{environment}-v{number}"


def _encode(revision: Revision) -> str:
    payload = json.dumps(asdict(revision), separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(payload)).decode()


def _decode(secret: Obj) -> Revision:
    raw = base64.b64decode(secret["data"]["release"])
    return Revision(**json.loads(gzip.decompress(raw)))


def history(cluster: Cluster, namespace: str, environment: str) -> list[Revision]:
    """Every kept record, oldest first."""
    try:
        items, _ = cluster.list(
            "v1",
            "Secret",
            namespace,
            label_selector=f"{RECORD_LABEL}=revision,{ENV_LABEL}={environment}",
        )
    except KubeError:
        return []
    return sorted((_decode(s) for s in items), key=lambda r: r.number)


def latest(
    cluster: Cluster, namespace: str, environment: str, *, deployed: bool = False
) -> Revision | None:
    revisions = history(cluster, namespace, environment)
    if deployed:
        revisions = [r for r in revisions if r.result == "deployed"]
    return revisions[-1] if revisions else None


def save(cluster: Cluster, namespace: str, revision: Revision, keep: int = KEEP) -> None:
    """Write the record, then drop the oldest beyond `keep`."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "deployctl.dev/revision",
        "metadata": {
            "name": record_name(revision.environment, revision.number),
            "namespace": namespace,
            "labels": {
                ENV_LABEL: revision.environment,
                RECORD_LABEL: "revision",
                REVISION_LABEL: str(revision.number),
                RESULT_LABEL: revision.result,
                "app.kubernetes.io/managed-by": "deployctl",
            },
        },
        "data": {"release": _encode(revision)},
    }
    cluster.apply(secret, force=True)
    older = history(cluster, namespace, revision.environment)
    for stale in older[: max(0, len(older) - keep)]:
        cluster.delete("v1", "Secret", record_name(stale.environment, stale.number), namespace)


def next_number(cluster: Cluster, namespace: str, environment: str) -> int:
    revisions = history(cluster, namespace, environment)
    return revisions[-1].number + 1 if revisions else 1
