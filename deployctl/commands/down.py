"""`deployctl down ENV`: delete the workloads in reverse dependency order.

Kept: claims (data), the namespace (deployctl's records), CRDs, and generated
Secret values (kept volumes must still match them), unless asked otherwise.
"""

from __future__ import annotations

import time
from typing import Any

from deployctl import plan as plans
from deployctl import releases
from deployctl.commands import Result, fleet
from deployctl.commands.session import Session, locked
from deployctl.commands.target import Target
from deployctl.engine import DeployFailed, inventory, object_key
from deployctl.errors import ConfigError, DeployctlError, ExitStatus
from deployctl.model import GENERATED_ANNOTATION, KEPT_KINDS, ObjectRef, ref
from deployctl.present import Reporter

Obj = dict[str, Any]
GONE_TIMEOUT = 120.0
POLL = 0.5


def removable(obj: Obj) -> bool:
    """Pure: whether `down` deletes this object."""
    if obj["kind"] in KEPT_KINDS:
        return False
    annotations = obj["metadata"].get("annotations") or {}
    return not (obj["kind"] == "Secret" and annotations.get(GENERATED_ANNOTATION))


def claims_of(objects: list[Obj], claims: list[Obj]) -> list[Obj]:
    """Pure: the claims that the StatefulSets among `objects` made."""
    selectors = [
        (o["spec"].get("selector") or {}).get("matchLabels") or {}
        for o in objects
        if o["kind"] == "StatefulSet"
    ]
    return [
        claim
        for claim in claims
        if any(
            s and all((claim["metadata"].get("labels") or {}).get(k) == v for k, v in s.items())
            for s in selectors
        )
    ]


class Teardown:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.cluster = session.cluster
        self.namespace = session.profile.namespace
        self.removed: list[str] = []

    def remove(self, group: list[Obj]) -> None:
        deleted = []
        for obj in filter(removable, group):
            self.session.guard()
            if self.cluster.remove(obj, propagation="Foreground"):
                deleted.append(obj)
                self.removed.append(ref(obj))
                self.session.reporter.object(ref(obj), "deleted")
        self.wait_gone(deleted)

    def wait_gone(self, objects: list[Obj], timeout: float = GONE_TIMEOUT) -> None:
        """Until every deleted object is really gone (finalizers, foreground deletion):
        one list per kind each round, not one read per object."""
        deadline = time.monotonic() + timeout
        remaining = {ObjectRef.of(o) for o in objects}
        while remaining and time.monotonic() < deadline:
            self.session.guard()
            present = set()
            for api_version, kind, namespace in {
                (r.api_version, r.kind, r.namespace) for r in remaining
            }:
                items, _ = self.cluster.list(api_version, kind, namespace)
                present |= {ObjectRef.of(item) for item in items}
            remaining &= present
            if remaining:
                time.sleep(POLL)
        if remaining:
            names = ", ".join(str(r) for r in sorted(remaining))
            raise ConfigError(f"still being deleted after {timeout:.0f} s: {names}")

    def delete_claims(self, objects: list[Obj]) -> None:
        claims, _ = self.cluster.list("v1", "PersistentVolumeClaim", self.namespace)
        for claim in claims_of(objects, claims):
            self.cluster.delete(
                "v1", "PersistentVolumeClaim", claim["metadata"]["name"], self.namespace
            )
            self.removed.append(ref(claim))
            self.session.reporter.object(ref(claim), "deleted")


def down(
    target: Target,
    reporter: Reporter,
    delete_volumes: bool = False,
    delete_namespace: bool = False,
) -> Result:
    if target.profile.fleet:
        return fleet.down(
            target, reporter, lambda session: take_down(session, delete_volumes, delete_namespace)
        )
    return locked(
        target,
        reporter,
        "take down",
        lambda session: take_down(session, delete_volumes, delete_namespace),
    )


def take_down(session: Session, delete_volumes: bool, delete_namespace: bool) -> Result:
    """The teardown, under the held lock."""
    profile = session.profile
    reporter = session.reporter
    revisions = session.history()
    objects = list(
        {object_key(o): o for o in inventory(revisions, releases.deployed(revisions))}.values()
    )
    order = plans.build_plan(objects, profile.order)
    teardown = Teardown(session)
    try:
        for wave in reversed(order.waves):
            for name in wave:
                reporter.info(f"removing {name}")
            teardown.remove([o for name in wave for o in order.components[name].objects])
        teardown.remove(list(reversed(order.foundation)))
        if delete_volumes:
            teardown.delete_claims(objects)
        if delete_namespace:
            assert session.lock is not None
            session.lock.release()
            session.cluster.delete("v1", "Namespace", profile.namespace)
            reporter.info(f"namespace {profile.namespace} deleted, with deployctl's records")
    except DeployctlError as error:
        if teardown.removed and error.exit_status == ExitStatus.NOTHING_CHANGED:
            removed = len(teardown.removed)
            raise DeployFailed(f"{error} — after removing {removed} objects") from None
        raise
    reporter.info(f"{profile.where}: down ({len(teardown.removed)} objects removed)")
    return Result(ExitStatus.OK, {"environment": profile.name, "removed": teardown.removed})
