"""Validation: everything a deploy checks before its first write, ending in a `Prepared`.

Rendering, secret values, ownership, and a server-side dry run (strict field
validation) of every object that may change. Live state is read in bulk: one
list per kind in the namespace, not a GET per object (`live.py`).

An object is not dry-run when nothing about it can have changed: the
manifests render it exactly as the current revision recorded it, and the live
object still carries the fingerprint recorded after the last deploy (its
uid, generation and the field managers' entries outside `status`). Anything
written behind deployctl's back — `kubectl edit`, `kubectl scale`, a label —
changes that fingerprint, so the object is dry-run and put back.

Only a new namespace (or CRD) is created during validation, because a
namespaced dry run needs it; `Scaffold` (`scaffold.py`) removes it again if
validation fails.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from deployctl import model, plan, releases, render, secrets
from deployctl.deploy.carryover import apply_pins, dependencies, inventory, prune_choice
from deployctl.deploy.live import Key, LiveState, Obj, fingerprint, object_key, record_key
from deployctl.deploy.removal import prune_groups
from deployctl.deploy.scaffold import Scaffold
from deployctl.errors import ConfigError
from deployctl.kube import IN_FLIGHT, ApplyConflict, Cluster, Invalid, NotServed, ref
from deployctl.model import ChangeAction
from deployctl.profile import Profile

ENV_LABEL = model.ENV_LABEL
MANAGED_BY = model.MANAGED_BY_LABEL
IGNORED_METADATA = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid")


@dataclass
class Options:
    context: str | None = None
    kubeconfig: str | None = None
    force_conflicts: bool = False
    adopt: bool = False
    timeout: float | None = None
    reset_pins: bool = False
    wait_lock: float = 0.0


@dataclass
class ObjectChange:
    obj: Obj
    action: ChangeAction  # UNKNOWN: a Secret whose values were not given, in a read-only run
    live: Obj | None = None
    dry_run: Obj | None = None
    force: bool = False  # take the fields back: adopted, --force-conflicts, or drift

    @property
    def ref(self) -> str:
        return ref(self.obj)


@dataclass
class Prepared:
    objects: list[Obj]
    plan: plan.Plan
    changes: list[ObjectChange]
    # What to prune, in the groups it is deleted in, one after another (removal.py).
    prune_groups: list[list[Obj]]
    previous: releases.Revision | None  # the newest deployed revision (pins come from it)
    pins: dict[str, dict[str, str]] = field(default_factory=dict)
    current: releases.Revision | None = None  # the revision the cluster runs now
    revisions: list[releases.Revision] = field(default_factory=list)  # every kept record
    live: LiveState | None = None  # what validation read: the watches start from it
    # What the live objects look like now, for the record of an unchanged deploy.
    fingerprints: dict[str, str] = field(default_factory=dict)
    dry_runs: int = 0
    # Going back (rollback, restore): migration Jobs are left as they are, never run; nothing
    # undoes a schema.
    keep_migrations: bool = False

    @property
    def prune(self) -> list[Obj]:
        """Every object to prune, in the order of deletion."""
        return [obj for group in self.prune_groups for obj in group]

    @property
    def changed(self) -> bool:
        writes = (ChangeAction.CREATE, ChangeAction.UPDATE, ChangeAction.REPLACE)
        return bool(self.prune) or any(c.action in writes for c in self.changes)


def identify(obj: Obj, environment: str) -> Obj:
    """The object with deployctl's ownership labels."""
    labelled = {**obj, "metadata": {**obj["metadata"]}}
    labels = dict(labelled["metadata"].get("labels") or {})
    labels[MANAGED_BY] = "deployctl"
    labels[ENV_LABEL] = environment
    labelled["metadata"]["labels"] = labels
    return labelled


def normalized(obj: Obj | None) -> Obj | None:
    if obj is None:
        return None
    clean = {k: v for k, v in obj.items() if k != "status"}
    clean["metadata"] = {
        k: v for k, v in (obj.get("metadata") or {}).items() if k not in IGNORED_METADATA
    }
    return clean


def kinds_defined_by_crds(objects: list[Obj]) -> set[tuple[str, str]]:
    kinds = set()
    for obj in objects:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            for version in spec.get("versions") or []:
                kinds.add((f"{spec.get('group')}/{version.get('name')}", spec["names"]["kind"]))
    return kinds


class Validation:
    """Builds the `Prepared` of one deploy; writes nothing but the scaffold."""

    def __init__(
        self,
        project: Path,
        profile: Profile,
        cluster: Cluster,
        options: Options,
        say: Callable[[str], None],
        environ: dict[str, str],
        scaffold: Scaffold,
    ) -> None:
        self.project = project
        self.profile = profile
        self.cluster = cluster
        self.options = options
        self.say = say
        self.environ = environ
        self.scaffold = scaffold
        self.namespace = profile.namespace
        self.adopted: set[Key] = set()
        self.keep_migrations = False

    def run(
        self,
        read_only: bool,
        given: list[Obj] | None,
        given_pins: dict[str, dict[str, str]] | None,
        keep_migrations: bool = False,
    ) -> Prepared:
        self.keep_migrations = keep_migrations
        revisions = releases.history(self.cluster, self.namespace, self.profile.name)
        previous = releases.deployed(revisions)
        current = releases.current_state(revisions)
        old_objects = inventory(revisions, previous)
        live = LiveState(self.cluster, self.namespace, set())
        objects, pins, with_values = self._objects_and_pins(
            read_only, given, given_pins, previous, live
        )
        plan.stamp_migrations(objects)
        deploy_plan = plan.build_plan(objects, self.profile.order)
        ordered = deploy_plan.apply_order()

        checkable = self._read_live(ordered, old_objects, live, read_only, with_values)
        recorded = {object_key(o): o for o in current.objects} if current else {}
        fingerprints = current.fingerprints if current else {}
        changes, to_check = self._changes(ordered, live, recorded, fingerprints, checkable)
        self._dry_run(to_check)
        self._judge_dry_runs(to_check, recorded)

        prune = prune_choice(ordered, old_objects, live.get, self.profile.name)
        # Components gone from the profile keep the dependencies they were deployed with.
        removal_order = dependencies(revisions, self.profile.order)
        now = {record_key(c.obj): fingerprint(c.live) for c in changes if c.live is not None}
        return Prepared(
            ordered,
            deploy_plan,
            changes,
            prune_groups(prune, removal_order),
            previous,
            pins,
            current,
            fingerprints=now,
            revisions=revisions,
            live=live,
            dry_runs=len(to_check),
            keep_migrations=keep_migrations,
        )

    def _objects_and_pins(
        self,
        read_only: bool,
        given: list[Obj] | None,
        given_pins: dict[str, dict[str, str]] | None,
        previous: releases.Revision | None,
        live: LiveState,
    ) -> tuple[list[Obj], dict[str, dict[str, str]], bool]:
        """The objects to deploy, the image pins that hold, and whether Secret values are known.

        Objects given (rollout, rollback) come with their pins; otherwise the
        manifests are rendered, and the previous revision's pins kept where they apply.
        """
        if given is not None:
            objects = [identify(o, self.profile.name) for o in given]
            return objects, dict(given_pins or {}), True
        objects, with_values = self._render(read_only, live)
        pins = {} if self.options.reset_pins or previous is None else previous.pins
        pins = apply_pins(objects, pins, self.say)
        return objects, pins, with_values

    def _read_live(
        self,
        ordered: list[Obj],
        old_objects: list[Obj],
        live: LiveState,
        read_only: bool,
        with_values: bool,
    ) -> Callable[[Obj], bool]:
        """Read the live state, check ownership, create the scaffold a dry run needs
        (unless `read_only`); return which objects can be dry-run."""
        live.new_kinds = kinds_defined_by_crds(ordered)
        live.read(ordered, old_objects)
        self._check_ownership(ordered, live)
        namespace_ready = self._namespace_exists(ordered, live)
        if not read_only:
            self.scaffold.ensure(ordered, live)
            namespace_ready = True
        # Read-only runs create nothing, so kinds whose CRD is still new cannot be checked.
        unserved = {k for k in live.new_kinds if not self.cluster.serves(*k)}

        def checkable(obj: Obj) -> bool:
            return (
                (with_values or obj["kind"] != "Secret")
                and (namespace_ready or not obj["metadata"].get("namespace"))
                and (obj["apiVersion"], obj["kind"]) not in unserved
            )

        return checkable

    def _changes(
        self,
        ordered: list[Obj],
        live: LiveState,
        recorded: dict[Key, Obj],
        fingerprints: dict[str, str],
        checkable: Callable[[Obj], bool],
    ) -> tuple[list[ObjectChange], list[ObjectChange]]:
        """A change for every object, and the changes to dry-run: all that can be
        checked, but those nothing can have changed since the last deploy."""
        changes: list[ObjectChange] = []
        to_check: list[ObjectChange] = []
        for obj in ordered:
            key = object_key(obj)
            current_live = live.get(obj)
            # Unchanged since the last deploy, and nobody wrote it since: nothing to check.
            same = recorded.get(key) == obj
            action = ChangeAction.CREATE if current_live is None else ChangeAction.UNCHANGED
            change = ObjectChange(obj, action, current_live)
            change.force = self.options.force_conflicts or key in self.adopted or same
            changes.append(change)
            if plan.is_migration(obj) and self.keep_migrations:
                change.action = ChangeAction.UNCHANGED  # left as it is, whatever it is
                continue
            if plan.is_migration(obj) and current_live and not plan.ran_already(obj, current_live):
                # Another migration (or a failed one): run it again, checked as new.
                change.action = ChangeAction.REPLACE
                if checkable(obj):
                    to_check.append(change)
                continue
            if (
                same
                and current_live is not None
                and fingerprints.get(record_key(obj)) == fingerprint(current_live)
            ):
                continue
            if checkable(obj):
                to_check.append(change)
            elif current_live is not None:
                change.action = ChangeAction.UNKNOWN  # a Secret whose values were not given
        return changes, to_check

    def _judge_dry_runs(self, checked: list[ObjectChange], recorded: dict[Key, Obj]) -> None:
        """An existing object whose dry run differs from it is an update; say so when
        the difference was written outside deployctl since the last deploy."""
        for change in checked:
            if change.live is not None and change.action != ChangeAction.REPLACE:
                same = normalized(change.dry_run) == normalized(change.live)
                change.action = ChangeAction.UNCHANGED if same else ChangeAction.UPDATE
                if not same and recorded.get(object_key(change.obj)) == change.obj:
                    self.say(
                        f"{change.ref} was changed outside deployctl since the last deploy; "
                        "deploying puts it back"
                    )

    def check_inputs(self) -> list[Obj]:
        """Render and value the Secrets (reading stored values, writing nothing)."""
        objects, _ = self._render(False, LiveState(self.cluster, self.namespace, set()))
        return objects

    def _render(self, read_only: bool, live: LiveState) -> tuple[list[Obj], bool]:
        specs = secrets.load_specs(self.project)
        values = generated = None
        stored: dict[str, dict[str, str]] = {}
        if self.profile.secrets.generate and specs:
            existing = live.kind("v1", "Secret")
            stored = {s.name: secrets.decode(existing[s.name]) for s in specs if s.name in existing}
        try:
            values, generated = secrets.resolve(specs, self.profile, self.environ, stored)
        except ConfigError:
            if not read_only:
                raise
        objects = [
            identify(o, self.profile.name)
            for o in render.render_environment(self.project, self.profile, values, generated)
        ]
        self._scope_by_discovery(objects)
        return objects, values is not None

    def _scope_by_discovery(self, objects: list[Obj]) -> None:
        """A kind render could not place (a custom one the cluster knows as cluster-scoped)
        loses the namespace render gave it."""
        for obj in objects:
            meta = obj["metadata"]
            if not meta.get("namespace") or obj["kind"] in render.CLUSTER_SCOPED_KINDS:
                continue
            try:
                namespaced = self.cluster.resource(obj["apiVersion"], obj["kind"]).namespaced
            except NotServed:
                continue  # its CRD comes with this deploy, or validation says so later
            if not namespaced:
                del meta["namespace"]

    def _namespace_exists(self, objects: list[Obj], live: LiveState) -> bool:
        for obj in objects:
            if obj["kind"] == "Namespace" and obj["metadata"]["name"] == self.namespace:
                return live.get(obj) is not None  # read with the rest already
        return self.cluster.get("v1", "Namespace", self.namespace) is not None

    def _check_ownership(self, objects: list[Obj], live: LiveState) -> None:
        for obj in objects:
            current = live.get(obj)
            if current is None:
                continue
            owner = ((current.get("metadata") or {}).get("labels") or {}).get(ENV_LABEL)
            if owner == self.profile.name:
                continue
            if owner and owner != self.profile.name:
                raise ConfigError(
                    f"{ref(obj)} belongs to environment {owner}, not {self.profile.name}; "
                    "two environments must not share objects"
                )
            if not self.options.adopt:
                raise ConfigError(
                    f"{ref(obj)} exists and was not created by deployctl; "
                    "pass --adopt to take it over, or delete it"
                )
            self.adopted.add(object_key(obj))  # taking it over means taking its fields too

    def _dry_run(self, changes: list[ObjectChange]) -> None:
        """A server-side dry run of each change, concurrently; every problem is exit 2."""

        def check(change: ObjectChange) -> str | None:
            obj = change.obj
            try:
                self.cluster.take_warnings()
                if change.action == ChangeAction.REPLACE:
                    # Its old Job still exists (a template cannot change in place): check the
                    # new one as a new object, under a name nothing has.
                    scratch = {**obj, "metadata": {**obj["metadata"], "name": _scratch(obj)}}
                    self.cluster.apply(scratch, dry_run=True, force=True)
                    change.dry_run = obj
                else:
                    change.dry_run = self.cluster.apply(obj, dry_run=True, force=change.force)
                for warning in self.cluster.take_warnings():
                    self.say(f"warning: {ref(obj)}: {warning}")
                return None
            except ApplyConflict as error:
                return (
                    f"{error}; another field manager owns these fields — "
                    "rerun with --force-conflicts to take them"
                )
            except Invalid as error:
                hint = ""
                # Most kinds say "field is immutable"; a StatefulSet says "Forbidden:
                # updates to statefulset spec for fields other than ... are forbidden".
                text = str(error)
                if "immutable" in text or "updates to statefulset spec" in text:
                    hint = (
                        " — this field cannot change in place: delete the object "
                        "(for a StatefulSet: kubectl delete statefulset NAME --cascade=orphan) "
                        "and deploy again"
                    )
                return f"{error}{hint}"

        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            problems = [p for p in pool.map(check, changes) if p]
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ConfigError(f"validation failed: {problems[0]}{more}")


def _scratch(obj: Obj) -> str:
    """A name for the dry run of a Job that replaces one of the same name."""
    return f"{obj['metadata']['name'][:40]}-deployctl-check"
