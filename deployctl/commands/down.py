"""`deployctl down ENV`: delete the workloads in reverse dependency order.

Kept: claims (data), the namespace (deployctl's records), CRDs, and generated
Secret values (kept volumes must still match them), unless asked otherwise.
"""

from __future__ import annotations

from deployctl import plan as plans
from deployctl import releases
from deployctl.commands import Result, fleet
from deployctl.commands.session import Session, locked
from deployctl.commands.target import Target
from deployctl.deploy.removal import Remover
from deployctl.engine import DeployFailed, inventory, object_key
from deployctl.errors import DeployctlError, ExitStatus
from deployctl.model import GENERATED_ANNOTATION, KEPT_KINDS, Obj, ref
from deployctl.present import Reporter


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
        self.remover = Remover(self.cluster, session.guard, self._deleted)

    def remove(self, group: list[Obj]) -> None:
        self.remover.remove(list(filter(removable, group)))

    def _deleted(self, obj: Obj) -> None:
        self.removed.append(ref(obj))
        self.session.reporter.object(ref(obj), "deleted")

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
            teardown.remove([o for name in wave for o in reversed(order.components[name].objects)])
        teardown.remove(list(reversed(order.foundation)))
        if delete_volumes:
            teardown.delete_claims(objects)
        if delete_namespace:
            # Deleted under the lock, so no other deploy starts in it meanwhile; the Lease
            # goes with it, so it is renewed no more.
            assert session.lock is not None
            session.lock.stop_renewing()
            session.cluster.delete("v1", "Namespace", profile.namespace)
            session.lock.release()
            reporter.info(f"namespace {profile.namespace} deleted, with deployctl's records")
    except DeployctlError as error:
        if teardown.removed and error.exit_status == ExitStatus.NOTHING_CHANGED:
            removed = len(teardown.removed)
            raise DeployFailed(f"{error} — after removing {removed} objects") from None
        raise
    reporter.info(f"{profile.where}: down ({len(teardown.removed)} objects removed)")
    return Result(ExitStatus.OK, {"environment": profile.name, "removed": teardown.removed})
