"""Runs a deploy: validate everything, apply in dependency order, wait, prune, record.

`prepare()` does every check before the first write — rendering, secrets,
the cluster and context, ownership, a server-side dry run of every object
with strict field validation — and works out what would change. Only a new
namespace is created for the dry run, and it is removed again if validation
fails, so a failed `prepare()` leaves the cluster as it was (exit 2).

`execute()` applies the foundation, then starts each component as soon as
every component it depends on is healthy (bounded parallelism), watches it
until it is healthy, fails, or times out, prunes what the environment no
longer has once everything is healthy, and records a revision.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deployctl import health, plan, releases, render, secrets
from deployctl.errors import ConfigError, DeployctlError, ExitStatus
from deployctl.kube import ApplyConflict, Cluster, Invalid, KubeError, NotFound, NotServed, ref
from deployctl.observe import ClusterView
from deployctl.plan import containers_of
from deployctl.profile import Profile
from deployctl.report import Reporter

Obj = dict[str, Any]
ENV_LABEL = releases.ENV_LABEL
MANAGED_BY = "app.kubernetes.io/managed-by"
NEVER_PRUNED = {"PersistentVolumeClaim", "Namespace", "CustomResourceDefinition"}
PARALLEL_APPLIES = 8
PARALLEL_COMPONENTS = 4
# How long an unschedulable pod may wait once the cluster autoscaler is adding nodes.
SCALE_UP_GRACE = 600.0
IGNORED_METADATA = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid")


class DeployFailed(DeployctlError):
    """The cluster was changed and then something failed (exit 1)."""

    exit_status = ExitStatus.FAILED


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
class Change:
    obj: Obj
    action: str  # create | update | unchanged | prune
    live: Obj | None = None
    dry_run: Obj | None = None

    @property
    def ref(self) -> str:
        return ref(self.obj)


@dataclass
class Prepared:
    objects: list[Obj]
    plan: plan.Plan
    changes: list[Change]
    prune: list[Obj]
    previous: releases.Revision | None
    pins: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.prune) or any(c.action in ("create", "update") for c in self.changes)


@dataclass
class ComponentResult:
    name: str
    state: str = (
        "pending"  # pending | applying | waiting | healthy | failed | not-started | stopped
    )
    message: str = ""
    details: list[str] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None


def connect(profile: Profile, options: Options) -> Cluster:
    """The profile's context (or --context); refuse a context pointing elsewhere."""
    context = options.context or profile.context
    cluster = Cluster.connect(context, options.kubeconfig)
    if profile.server and cluster.server.rstrip("/") != profile.server.rstrip("/"):
        raise ConfigError(
            f"{profile.path}: server: context {context} points at {cluster.server}, "
            f"not {profile.server}; use the right context or fix the profile"
        )
    cluster.server_version()  # reachable and answering, or Unreachable (exit 2)
    return cluster


def identify(obj: Obj, environment: str) -> Obj:
    """The object with deployctl's ownership labels."""
    labelled = {**obj, "metadata": {**obj["metadata"]}}
    labels = dict(labelled["metadata"].get("labels") or {})
    labels[MANAGED_BY] = "deployctl"
    labels[ENV_LABEL] = environment
    labelled["metadata"]["labels"] = labels
    return labelled


def pin_key(obj: Obj, container: str) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}/{container}"


def apply_pins(
    objects: list[Obj], pins: dict[str, dict[str, str]], reporter: Reporter
) -> dict[str, dict[str, str]]:
    """Keep images set by `rollout` while the manifests still say what they said then.

    Mutates the rendered workloads in place (they are this run's own copies) and
    returns the pins that still hold.
    """
    kept: dict[str, dict[str, str]] = {}
    for obj in objects:
        for container in containers_of(obj):
            key = pin_key(obj, container["name"])
            pin = pins.get(key)
            if pin is None:
                continue
            if container["image"] == pin["manifest"]:
                container["image"] = pin["image"]
                kept[key] = pin
                reporter.info(
                    f"keeping {key} at {pin['image']} (set by rollout; the manifests say "
                    f"{pin['manifest']}; `deployctl up --reset-pins` returns to them)"
                )
            else:
                reporter.info(
                    f"the manifests now set {key} to {container['image']}: "
                    f"the rollout pin {pin['image']} no longer applies"
                )
    return kept


def normalized(obj: Obj | None) -> Obj | None:
    if obj is None:
        return None
    clean = {k: v for k, v in obj.items() if k != "status"}
    clean["metadata"] = {
        k: v for k, v in (obj.get("metadata") or {}).items() if k not in IGNORED_METADATA
    }
    return clean


class Deploy:
    def __init__(
        self,
        project: Path,
        profile: Profile,
        cluster: Cluster,
        options: Options,
        reporter: Reporter,
        environ: dict[str, str] | None = None,
        guard: Callable[[], None] = lambda: None,
    ) -> None:
        self.project = project
        self.profile = profile
        self.cluster = cluster
        self.options = options
        self.reporter = reporter
        self.environ = dict(os.environ if environ is None else environ)
        self.namespace = profile.namespace
        self.guard = guard  # raises when this process may no longer write (lost lock)
        self.replace_stuck_pods = False
        self._replaced: set[str] = set()
        self._applied_generation: dict[tuple, int] = {}
        self._created_for_validation: list[Obj] = []
        self._adopted: set[tuple] = set()
        self.stop = threading.Event()
        # Events are stamped in whole seconds; anything from this second on is ours.
        self._started_at = datetime.now(UTC).replace(microsecond=0)

    # -- validation ------------------------------------------------------------------

    def prepare(
        self,
        *,
        read_only: bool = False,
        objects: list[Obj] | None = None,
        pins: dict[str, dict[str, str]] | None = None,
    ) -> Prepared:
        """Validate everything. `read_only` (plan, diff): write nothing, work without values.

        `objects` (rollout, rollback): deploy these recorded objects instead of
        rendering the manifests; `pins` are the image pins they carry.
        """
        try:
            return self._prepare(read_only, objects, pins)
        except BaseException:
            self.undo_scaffolding()
            raise

    def _prepare(
        self,
        read_only: bool,
        given: list[Obj] | None,
        given_pins: dict[str, dict[str, str]] | None,
    ) -> Prepared:
        revisions = releases.history(self.cluster, self.namespace, self.profile.name)
        previous = next((r for r in reversed(revisions) if r.result == "deployed"), None)
        if given is not None:
            objects = [identify(o, self.profile.name) for o in given]
            pins = dict(given_pins or {})
            with_values = True
        else:
            objects, with_values = self._render(read_only)
            pins = {} if self.options.reset_pins or previous is None else previous.pins
            pins = apply_pins(objects, pins, self.reporter)
        deploy_plan = plan.build_plan(objects, self.profile.order)
        ordered = deploy_plan.apply_order()

        live = self._live_objects(ordered)
        self._check_ownership(ordered, live)
        namespace_ready = self._namespace_exists()
        if not read_only:
            self.ensure_namespace(ordered)
            namespace_ready = True
        # Read-only runs create nothing, so kinds whose CRD is still new cannot be checked.
        unserved = {k for k in _kinds_defined_by_crds(ordered) if not self.cluster.serves(*k)}
        checkable = [
            o
            for o in ordered
            if (with_values or o["kind"] != "Secret")
            and (namespace_ready or not o["metadata"].get("namespace"))
            and (o["apiVersion"], o["kind"]) not in unserved
        ]
        dry_runs = self._dry_run(checkable)
        changes = []
        for obj in ordered:
            key = object_key(obj)
            current = live.get(key)
            if current is None:
                action = "create"
            elif key not in dry_runs:
                action = "unknown"  # a Secret whose values were not given: not judged
            elif normalized(dry_runs[key]) == normalized(current):
                action = "unchanged"
            else:
                action = "update"
            changes.append(Change(obj, action, current, dry_runs.get(key)))

        prune = self._prune_candidates(ordered, inventory(revisions, previous))
        return Prepared(ordered, deploy_plan, changes, prune, previous, pins)

    def _render(self, read_only: bool) -> tuple[list[Obj], bool]:
        specs = secrets.load_specs(self.project)
        values = generated = None
        stored = self._stored_secret_values(specs) if self.profile.secrets.generate else {}
        try:
            values, generated = secrets.resolve(specs, self.profile, self.environ, stored)
        except ConfigError:
            if not read_only:
                raise
        objects = [
            identify(o, self.profile.name)
            for o in render.render_environment(self.project, self.profile, values, generated)
        ]
        return objects, values is not None

    def _stored_secret_values(self, specs: list[secrets.SecretSpec]) -> dict[str, dict[str, str]]:
        stored = {}
        for spec in specs:
            if self._namespace_exists():
                found = self.cluster.get("v1", "Secret", spec.name, self.namespace)
                if found:
                    stored[spec.name] = secrets.decode(found)
        return stored

    def _namespace_exists(self) -> bool:
        return self.cluster.get("v1", "Namespace", self.namespace) is not None

    def _live_objects(self, objects: list[Obj]) -> dict[tuple, Obj]:
        defined = _kinds_defined_by_crds(objects)

        def fetch(obj: Obj) -> tuple[tuple, Obj | None]:
            meta = obj["metadata"]
            try:
                return object_key(obj), self.cluster.get(
                    obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")
                )
            except NotServed:
                if (obj["apiVersion"], obj["kind"]) in defined:
                    return object_key(obj), None  # its CRD comes with this deploy
                raise

        with ThreadPoolExecutor(PARALLEL_APPLIES) as pool:
            return {key: found for key, found in pool.map(fetch, objects) if found is not None}

    def _check_ownership(self, objects: list[Obj], live: dict[tuple, Obj]) -> None:
        for obj in objects:
            current = live.get(object_key(obj))
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
            self._adopted.add(object_key(obj))  # taking it over means taking its fields too

    def ensure_namespace(self, objects: list[Obj]) -> None:
        """A namespaced dry run (and the lock) needs its namespace: create it now,
        remove it again if validation fails."""
        for obj in objects:
            if obj["kind"] not in ("Namespace", "CustomResourceDefinition"):
                continue
            meta = obj["metadata"]
            if self.cluster.get(obj["apiVersion"], obj["kind"], meta["name"]) is None:
                self.cluster.apply(obj)
                self.reporter.info(f"created {ref(obj)} (needed to validate the rest)")
                self._created_for_validation.append(obj)
                if obj["kind"] == "CustomResourceDefinition":
                    self._wait_established(obj)

    def _wait_established(self, crd: Obj, timeout: float = 30) -> None:
        """A new CRD serves its kind only once Established; then discovery must be redone."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = self.cluster.get(crd["apiVersion"], crd["kind"], crd["metadata"]["name"])
            if live and health.crd_health(live).healthy:
                self.cluster.forget_discovery()
                return
            time.sleep(0.2)  # validation scaffolding: seconds at most, before any deploy
        raise ConfigError(f"{ref(crd)} was not Established within {timeout:.0f} s")

    def keep_scaffolding(self) -> None:
        self._created_for_validation.clear()

    def undo_scaffolding(self) -> None:
        for obj in reversed(self._created_for_validation):
            try:
                self.cluster.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])
                self.reporter.info(f"removed {ref(obj)} again: validation failed")
            except KubeError as error:
                self.reporter.info(f"could not remove {ref(obj)}: {error}")
        self._created_for_validation.clear()

    def _dry_run(self, objects: list[Obj]) -> dict[tuple, Obj]:
        def check(obj: Obj) -> tuple[tuple, Obj | str]:
            try:
                self.cluster.take_warnings()
                checked = self.cluster.apply(obj, dry_run=True, force=self._force(obj))
                for warning in self.cluster.take_warnings():
                    self.reporter.info(f"warning: {ref(obj)}: {warning}")
                return object_key(obj), checked
            except ApplyConflict as error:
                return object_key(obj), (
                    f"{error}; another field manager owns these fields — "
                    "rerun with --force-conflicts to take them"
                )
            except Invalid as error:
                hint = ""
                if "immutable" in str(error):
                    hint = (
                        " — this field cannot change in place: delete the object "
                        "(for a StatefulSet: kubectl delete statefulset NAME --cascade=orphan) "
                        "and deploy again"
                    )
                return object_key(obj), f"{error}{hint}"

        with ThreadPoolExecutor(PARALLEL_APPLIES) as pool:
            results = dict(pool.map(check, objects))
        problems = [message for message in results.values() if isinstance(message, str)]
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ConfigError(f"validation failed: {problems[0]}{more}")
        return {key: value for key, value in results.items() if isinstance(value, dict)}

    def _prune_candidates(self, objects: list[Obj], inventory: list[Obj]) -> list[Obj]:
        wanted = {object_key(o) for o in objects}
        candidates: list[Obj] = []
        seen: set[tuple] = set()
        for old in inventory:
            key = object_key(old)
            if key in wanted or key in seen or old["kind"] in NEVER_PRUNED:
                continue
            seen.add(key)
            meta = old["metadata"]
            try:
                current = self.cluster.get(
                    old["apiVersion"], old["kind"], meta["name"], meta.get("namespace")
                )
            except NotServed:
                continue  # its CRD is gone, and every object of that kind with it
            labels = ((current or {}).get("metadata") or {}).get("labels") or {}
            # Only what deployctl created for this environment, and still marked so.
            if current is not None and labels.get(ENV_LABEL) == self.profile.name:
                candidates.append(current)
        return candidates

    # -- execution -------------------------------------------------------------------

    def execute(self, prepared: Prepared) -> dict[str, ComponentResult]:
        self._created_for_validation.clear()  # validation passed: they stay
        self._apply_foundation(prepared)
        results = self._run_components(prepared)
        failed = [r for r in results.values() if r.state != "healthy"]
        if not failed and prepared.prune:
            self._prune(prepared.prune)
        return results

    def _apply_one(self, change: Change) -> None:
        if change.action in ("unchanged", "unknown"):
            return
        self.guard()
        result = self.cluster.apply(change.obj, force=self._force(change.obj))
        self._applied_generation[object_key(change.obj)] = result["metadata"].get("generation", 0)
        self.reporter.object(change.ref, change.action)

    def _force(self, obj: Obj) -> bool:
        return self.options.force_conflicts or object_key(obj) in self._adopted

    def _apply_foundation(self, prepared: Prepared) -> None:
        foundation_keys = {object_key(o) for o in prepared.plan.foundation}
        changes = [c for c in prepared.changes if object_key(c.obj) in foundation_keys]
        namespaces = [c for c in changes if c.obj["kind"] == "Namespace"]
        for change in namespaces:
            self._apply_one(change)
        with ThreadPoolExecutor(PARALLEL_APPLIES) as pool:
            list(pool.map(self._apply_one, [c for c in changes if c not in namespaces]))

    def _run_components(self, prepared: Prepared) -> dict[str, ComponentResult]:
        components = prepared.plan.components
        results = {name: ComponentResult(name) for name in components}
        changes = {object_key(c.obj): c for c in prepared.changes}
        view = ClusterView(self.cluster, self.namespace)
        for api_version, kind in _watched_kinds(components.values()):
            view.track(api_version, kind)
        pending = set(components)
        running: dict[Future, str] = {}
        try:
            with ThreadPoolExecutor(PARALLEL_COMPONENTS) as pool:
                try:
                    self._schedule(components, results, changes, view, pool, pending, running)
                except BaseException:
                    self.stop.set()  # Ctrl-C, SIGTERM, a lost lock: every waiter stops now
                    raise
        finally:
            view.stop()
        return results

    def _schedule(
        self,
        components: dict[str, plan.Component],
        results: dict[str, ComponentResult],
        changes: dict[tuple, Change],
        view: ClusterView,
        pool: ThreadPoolExecutor,
        pending: set[str],
        running: dict[Future, str],
    ) -> None:
        """Start each component once its dependencies are healthy; stop starting on a failure."""
        while pending or running:
            for name in sorted(pending):
                deps = components[name].depends_on
                if any(results[d].state in ("failed", "not-started", "stopped") for d in deps):
                    blocked = next(d for d in deps if results[d].state != "healthy")
                    results[name].state = "not-started"
                    results[name].message = f"not started: {blocked} did not become healthy"
                    self.reporter.component(results[name])
                    pending.discard(name)
                elif all(results[d].state == "healthy" for d in deps) and not self.stop.is_set():
                    pending.discard(name)
                    future = pool.submit(
                        self._run_component, components[name], results[name], changes, view
                    )
                    running[future] = name
            if not running:
                for name in sorted(pending):
                    results[name].state = "not-started"
                    results[name].message = "not started: the deploy stopped"
                    self.reporter.component(results[name])
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                future.result()
                if results[name].state == "failed":
                    self.stop.set()  # fail fast: start nothing new, stop waiting

    def _run_component(
        self,
        component: plan.Component,
        result: ComponentResult,
        changes: dict[tuple, Change],
        view: ClusterView,
    ) -> None:
        if self.stop.is_set():  # queued behind a failure or an interrupt: start nothing
            result.state = "not-started"
            result.message = "not started: the deploy stopped"
            self.reporter.component(result)
            return
        result.started = time.monotonic()
        result.state = "applying"
        self.reporter.component(result)
        try:
            for obj in component.objects:
                change = changes[object_key(obj)]
                self._apply_one(change)
                if change.action == "create":
                    self._bootstrap_autoscaled_replicas(obj, component)
            result.state = "waiting"
            self.reporter.component(result)
            self._wait_healthy(component, result, view)
        except KubeError as error:
            result.state = "failed"
            result.message = str(error)
        result.finished = time.monotonic()
        self.reporter.component(result)

    def _bootstrap_autoscaled_replicas(self, obj: Obj, component: plan.Component) -> None:
        """A new autoscaled workload starts at its HPA's minReplicas.

        Written by a separate field manager, so `deployctl` never owns
        spec.replicas and later applies never reset the running count.
        """
        hpa = _autoscaler_for(obj, component.objects)
        if hpa is None:
            return
        scale = {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "metadata": {"name": obj["metadata"]["name"], "namespace": self.namespace},
            "spec": {"replicas": hpa["spec"].get("minReplicas", 1)},
        }
        self.guard()
        self.cluster.apply(scale, manager="deployctl-initial-replicas")

    def _wait_healthy(
        self, component: plan.Component, result: ComponentResult, view: ClusterView
    ) -> None:
        timeout = self.options.timeout or self.profile.timeout_for(component.name)
        deadline = time.monotonic() + timeout
        workloads = component.workloads
        while True:
            self.guard()  # a deploy that lost its lock stops, waiting included
            verdicts = [self._judge(w, component, view) for w in workloads]
            failures = [v for v in verdicts if v.failed]
            if failures:
                result.state = "failed"
                result.message = f"{component.name}: {failures[0].message}"
                result.details = self._failure_details(failures[0])
                return
            if all(v.healthy for v in verdicts):
                result.state = "healthy"
                result.message = "; ".join(v.message for v in verdicts if v.message)
                return
            if self.stop.is_set():
                result.state = "stopped"
                result.message = "stopped waiting: another component failed"
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                result.state = "failed"
                waiting_on = "; ".join(v.message for v in verdicts if not v.healthy)
                result.message = f"{component.name}: timed out after {timeout:.0f} s: {waiting_on}"
                return
            progress = "; ".join(v.message for v in verdicts if not v.healthy)
            if progress != result.message:
                result.message = progress
                self.reporter.component(result)
            view.wait_for_change(min(1.0, remaining))

    def _judge(self, workload: Obj, component: plan.Component, view: ClusterView) -> Verdict:
        name = workload["metadata"]["name"]
        live = view.get(workload["apiVersion"], workload["kind"], name)
        if live is None:
            return Verdict(health.in_progress(f"{workload['kind']} {name} not seen yet"))
        applied = self._applied_generation.get(object_key(workload), 0)
        if live["metadata"].get("generation", 0) < applied:
            return Verdict(health.in_progress(f"{live['kind']} {name}: waiting for the update"))
        hpa = _autoscaler_for(workload, component.objects)
        if live["kind"] == "Deployment":
            status = health.deployment_health(live, (hpa or {}).get("spec", {}).get("minReplicas"))
        else:
            status = health.object_health(live)
        if live["kind"] == "StatefulSet" and self.replace_stuck_pods:
            self._replace_stuck_pods(live, view)
        refused = _creation_refused(live, view, self._started_at)
        if refused:
            return Verdict(health.failed(f"{live['kind']} {name}: {refused}"))
        if status.state is health.State.IN_PROGRESS and "observe" in status.message:
            return Verdict(status)  # pods are judged once the controller has seen the spec
        pods = _current_pods(live, view)
        for pod in pods:
            grace = self.profile.unschedulable_grace
            if _scale_up_triggered(pod, view):
                grace = max(grace, SCALE_UP_GRACE)  # nodes are on their way
            problem = health.pod_problem(pod, unschedulable_grace=grace)
            if problem:
                return Verdict(health.failed(f"{live['kind']} {name}: {problem}"), pod)
        if status.failed:
            return Verdict(health.failed(f"{live['kind']} {name}: {status.message}"))
        if status.healthy:
            return Verdict(status)
        not_ready = [health.not_ready_reason(p) for p in pods if not _ready(p)]
        message = f"{live['kind']} {name}: {status.message}"
        if not_ready:
            message += "; " + "; ".join(not_ready[:3])
        return Verdict(health.in_progress(message))

    def _replace_stuck_pods(self, statefulset: Obj, view: ClusterView) -> None:
        """Delete pods left broken on an older revision: the StatefulSet controller waits
        for them to become Ready before it rolls them, which they never will."""
        update = (statefulset.get("status") or {}).get("updateRevision")
        for pod in view.objects("v1", "Pod"):
            labels = pod["metadata"].get("labels") or {}
            name = pod["metadata"]["name"]
            if (
                _owned_by(pod, statefulset)
                and labels.get("controller-revision-hash") not in (None, update)
                and not pod["metadata"].get("deletionTimestamp")
                and not _ready(pod)
                and name not in self._replaced
            ):
                self.guard()
                self.cluster.delete("v1", "Pod", name, self.namespace)
                self._replaced.add(name)
                self.reporter.info(f"replaced pod {name}, stuck on a failed revision")

    def _failure_details(self, verdict: Verdict) -> list[str]:
        details = []
        pod = verdict.pod
        if pod is None:
            return details
        name = pod["metadata"]["name"]
        try:
            events, _ = self.cluster.list(
                "v1",
                "Event",
                self.namespace,
                field_selector=f"involvedObject.name={name},type=Warning",
            )
        except KubeError:
            events = []
        events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        for event in events[-3:]:
            details.append(f"event {event.get('reason')}: {event.get('message', '').strip()}")
        for container in pod["spec"].get("containers", []):
            logs = self.cluster.pod_logs(self.namespace, name, container["name"], lines=10)
            if logs:
                details.append(f"last log lines of {name}/{container['name']}:\n{logs.rstrip()}")
        return details

    def _prune(self, objects: list[Obj]) -> None:
        for obj in objects:
            meta = obj["metadata"]
            try:
                self.cluster.delete(
                    obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")
                )
                self.reporter.object(ref(obj), "prune")
            except NotFound:
                pass


@dataclass
class Verdict:
    status: health.HealthStatus
    pod: Obj | None = None

    @property
    def healthy(self) -> bool:
        return self.status.healthy

    @property
    def failed(self) -> bool:
        return self.status.failed

    @property
    def message(self) -> str:
        return self.status.message


def _kinds_defined_by_crds(objects: list[Obj]) -> set[tuple[str, str]]:
    kinds = set()
    for obj in objects:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            for version in spec.get("versions") or []:
                kinds.add((f"{spec.get('group')}/{version.get('name')}", spec["names"]["kind"]))
    return kinds


def inventory(revisions: list[releases.Revision], previous: releases.Revision | None) -> list[Obj]:
    """What deployctl may have left in the cluster: the deployed revision, and whatever
    failed, interrupted or pending runs after it applied."""
    after = previous.number if previous else 0
    partial = [
        r
        for r in revisions
        if r.number > after and r.result in ("failed", "interrupted", "pending")
    ]
    return [o for r in ([previous] if previous else []) + partial for o in r.objects]


def object_key(obj: Obj) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    group = obj.get("apiVersion", "").rpartition("/")[0]
    return group, obj.get("kind", ""), meta.get("namespace") or "", meta.get("name", "")


def _ready(pod: Obj) -> bool:
    ready = health.condition(pod, "Ready")
    return bool(ready and ready.get("status") == "True")


def _autoscaler_for(workload: Obj, objects: list[Obj]) -> Obj | None:
    for obj in objects:
        if obj.get("kind") != "HorizontalPodAutoscaler":
            continue
        target = obj["spec"].get("scaleTargetRef") or {}
        if (
            target.get("kind") == workload["kind"]
            and target.get("name") == workload["metadata"]["name"]
        ):
            return obj
    return None


def _watched_kinds(components) -> list[tuple[str, str]]:
    kinds = {(w["apiVersion"], w["kind"]) for c in components for w in c.workloads}
    if kinds:
        kinds |= {("v1", "Pod"), ("apps/v1", "ReplicaSet"), ("v1", "Event")}
    return sorted(kinds)


def _scale_up_triggered(pod: Obj, view: ClusterView) -> bool:
    """The cluster autoscaler reported a scale-up for this pod (event TriggeredScaleUp)."""
    name = pod["metadata"]["name"]
    return any(
        event.get("reason") == "TriggeredScaleUp"
        and (event.get("involvedObject") or {}).get("name") == name
        for event in view.objects("v1", "Event")
    )


def _creation_refused(workload: Obj, view: ClusterView, since: datetime) -> str | None:
    """A controller's FailedCreate event for the workload: admission or quota refused its pods.

    Deployments report this as a ReplicaFailure condition; StatefulSets,
    DaemonSets and Jobs only as an event.
    """
    name = workload["metadata"]["name"]
    for event in view.objects("v1", "Event"):
        involved = event.get("involvedObject") or {}
        if (
            event.get("reason") == "FailedCreate"
            and involved.get("kind") == workload["kind"]
            and involved.get("name") == name
        ):
            stamp = event.get("lastTimestamp") or event.get("eventTime") or ""
            if stamp and datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= since:
                return f"FailedCreate: {event.get('message', '').strip()}"
    return None


def _owned_by(obj: Obj, owner: Obj) -> bool:
    uid = owner["metadata"].get("uid")
    return any(o.get("uid") == uid for o in obj["metadata"].get("ownerReferences") or [])


def _current_pods(workload: Obj, view: ClusterView) -> list[Obj]:
    """Pods of the workload's newest revision: old, failing pods must not fail a fix."""
    pods = view.objects("v1", "Pod")
    kind = workload["kind"]
    if kind == "Deployment":
        revision = (workload["metadata"].get("annotations") or {}).get(
            "deployment.kubernetes.io/revision"
        )
        replica_sets = [
            rs
            for rs in view.objects("apps/v1", "ReplicaSet")
            if _owned_by(rs, workload)
            and (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
            == revision
        ]
        return [p for rs in replica_sets for p in pods if _owned_by(p, rs)]
    if kind == "StatefulSet":
        update = (workload.get("status") or {}).get("updateRevision")
        return [
            p
            for p in pods
            if _owned_by(p, workload)
            and (p["metadata"].get("labels") or {}).get("controller-revision-hash") == update
        ]
    return [p for p in pods if _owned_by(p, workload)]
