"""Revision records: what each deploy applied, kept in the cluster.

Each record is a Secret (it holds the applied Secrets too) named
`deployctl-<env>-v<N>` in the environment's namespace, its payload gzipped
JSON, as Helm keeps releases. A record lists every applied object, so it is
also the inventory that the next deploy prunes against, and the source that
a rollback re-applies.
"""

from __future__ import annotations

import base64
import dataclasses
import getpass
import gzip
import json
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from deployctl.errors import ConfigError
from deployctl.kube import Cluster
from deployctl.model import (
    ENV_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    RECORD_LABEL,
    RESULT_LABEL,
    REVISION_LABEL,
    TEMPLATE_ANNOTATION,
    ChangeAction,
    Obj,
    RevisionResult,
)
from deployctl.plan import component_objects, component_of, containers_of, is_migration

KEEP = 10


@dataclass
class Revision:
    number: int
    environment: str
    action: str
    result: str  # a RevisionResult
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    user: str = field(default_factory=lambda: user_at_host())
    images: dict[str, list[str]] = field(default_factory=dict)
    objects: list[Obj] = field(default_factory=list)
    note: str = ""
    # Images set by `rollout` that later `up`s keep: "Kind/name/container" ->
    # {"image": the rolled-out image, "manifest": the manifests' image at the time}.
    pins: dict[str, dict[str, str]] = field(default_factory=dict)
    # What each object looked like in the cluster after this deploy ("group/Kind/ns/name" ->
    # fingerprint): an object rendered as recorded and still so needs no dry run next time.
    fingerprints: dict[str, str] = field(default_factory=dict)
    # The profile's dependency order when it was deployed: prune removes the components the
    # profile no longer has in it, dependents first.
    order: dict[str, list[str]] = field(default_factory=dict)
    # The migration Jobs this deploy ran (created, or deleted and created again): each a
    # {"component", "job", "digest", "images"}; a rollback past one warns (revisions.md).
    migrations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def successful(self) -> bool:
        return RevisionResult(self.result).successful


def user_at_host() -> str:
    """Who is deploying, as history and the lock name them."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def migrations_run(changes: list[tuple[Obj, str]]) -> list[dict[str, Any]]:
    """The migration Jobs among (object, action) pairs that a deploy creates or replaces."""
    return [
        {
            "component": component_of(obj),
            "job": obj["metadata"]["name"],
            "digest": (obj["metadata"].get("annotations") or {}).get(TEMPLATE_ANNOTATION, ""),
            "images": [c["image"] for c in containers_of(obj)],
        }
        for obj, action in changes
        if is_migration(obj) and action in (ChangeAction.CREATE, ChangeAction.REPLACE)
    ]


def migrations_between(
    revisions: list[Revision], after: int, upto: int, component: str | None
) -> list[tuple[int, dict[str, Any]]]:
    """(revision, migration) of every migration run after revision `after` up to `upto`
    (a failed one may have run halfway), of `component` or of all: what going back to
    revision `after`'s code passes."""
    return [
        (r.number, m)
        for r in revisions
        if after < r.number <= upto
        for m in r.migrations
        if component is None or m.get("component") == component
    ]


def images_by_component(objects: list[Obj]) -> dict[str, list[str]]:
    images: dict[str, list[str]] = {}
    for obj in objects:
        component = component_of(obj) or obj["metadata"]["name"]
        for container in containers_of(obj):
            images.setdefault(component, []).append(container["image"])
    return images


def record_name(environment: str, number: int) -> str:
    return f"deployctl-{environment}-v{number}"


def _encode(revision: Revision) -> str:
    # Its fields are plain data already: asdict's deep copy of every object would cost more.
    fields = {f.name: getattr(revision, f.name) for f in dataclasses.fields(revision)}
    payload = json.dumps(fields, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(payload)).decode()


def _decode(secret: Obj) -> Revision:
    name = (secret.get("metadata") or {}).get("name", "?")
    try:
        raw = base64.b64decode(secret["data"]["release"])
        fields = json.loads(gzip.decompress(raw))
        known = {f.name for f in dataclasses.fields(Revision)}
        return Revision(**{k: v for k, v in fields.items() if k in known})
    except (KeyError, TypeError, ValueError, OSError) as error:
        raise ConfigError(
            f"Secret/{name}: not a readable deployctl revision record ({error}); "
            "delete it if it is damaged"
        ) from None


def history(cluster: Cluster, namespace: str, environment: str) -> list[Revision]:
    """Every kept record, oldest first."""
    items, _ = cluster.list(
        "v1",
        "Secret",
        namespace,
        label_selector=f"{RECORD_LABEL}=revision,{ENV_LABEL}={environment}",
    )
    return sorted((_decode(s) for s in items), key=lambda r: r.number)


def deployed(revisions: list[Revision]) -> Revision | None:
    """The newest revision that deployed healthy and still stands (result deployed)."""
    standing = [r for r in revisions if r.result == RevisionResult.DEPLOYED]
    return max(standing, key=lambda r: r.number, default=None)


def settle(
    cluster: Cluster,
    namespace: str,
    revision: Revision,
    keep: int = KEEP,
    known: list[Revision] | None = None,
) -> None:
    """Save a finished record; a new deployed one supersedes the one before it.

    `known`: the records as this run last read them (it holds the lock), to
    save listing them again.
    """
    older = known if known is not None else history(cluster, namespace, revision.environment)
    if revision.result == RevisionResult.DEPLOYED:
        # Chosen first: each save may drop old records from `older` (and from the cluster).
        standing = [r for r in older if r.result == RevisionResult.DEPLOYED]
        for other in standing:
            if other.number != revision.number and any(r is other for r in older):
                other.result = RevisionResult.SUPERSEDED
                save(cluster, namespace, other, keep, older)
    save(cluster, namespace, revision, keep, older)


def _newest_successful(revisions: list[Revision]) -> Revision | None:
    good = [r for r in revisions if r.successful]
    return max(good, key=lambda r: r.number) if good else None


def current_state(revisions: list[Revision]) -> Revision | None:
    """The revision the cluster runs now: the newest one whose changes were not undone.

    A failed, interrupted or pending revision left its objects in the cluster; a
    rolled-back one did not (its rollout restored the revision before it).
    """
    newest_first = sorted(revisions, key=lambda r: r.number, reverse=True)
    for revision in newest_first:
        if revision.result == RevisionResult.ROLLED_BACK:
            # Its rollout restored the revision the cluster ran before it.
            return deployed(revisions)
        if revision.result != RevisionResult.SUPERSEDED:
            return revision
    return None


def rollback_target(
    revisions: list[Revision], current: Revision, component: str | None
) -> Revision | None:
    """The newest earlier successful revision that differs from the current one.

    With a component, only that component's objects are compared, so a
    rollback always undoes something.
    """
    mine = component_objects(current.objects, component)
    for revision in sorted(revisions, key=lambda r: r.number, reverse=True):
        if revision.number >= current.number or not revision.successful:
            continue
        if component_objects(revision.objects, component) != mine:
            return revision
    return None


def save(
    cluster: Cluster,
    namespace: str,
    revision: Revision,
    keep: int = KEEP,
    known: list[Revision] | None = None,
) -> None:
    """Write the record, then drop the oldest beyond `keep` (`known`: see `settle`)."""
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
                MANAGED_BY_LABEL: MANAGED_BY,
            },
        },
        "data": {"release": _encode(revision)},
    }
    cluster.apply(secret, force=True)
    if known is None:
        older = history(cluster, namespace, revision.environment)
    else:
        if all(r.number != revision.number for r in known):
            known.append(revision)
        older = sorted(known, key=lambda r: r.number)
    # Never drop what the cluster runs, nor the newest good revision (rollback, pins).
    protected = {r.number for r in (current_state(older), _newest_successful(older)) if r}
    for stale in older[: max(0, len(older) - keep)]:
        if stale.number not in protected:
            cluster.delete("v1", "Secret", record_name(stale.environment, stale.number), namespace)
            if known is not None:
                known.remove(stale)
