"""Execution: apply the foundation, then run the dependency graph to the end, in one loop.

The loop owns all state, in three places: the scheduler (each component's
state), a `Wait` for each component that waits (its deadline and its
workloads), and the results reported. Applies run on a pool (the cluster's
in-flight limit bounds them); waiting costs nothing: a waiting component is
judged again only when the watch caches report a change under one of its
workloads, and once a TICK for the time-based rules. A failure stops new
starts at once and stops every wait (fail fast); the prune runs only once
everything is healthy.

A component with migration Jobs goes through it twice: its migrations are applied
and waited for (`Wait.migrating`), and only once they are complete the rest of it
(`plan.Component.rollout`) is applied and waited for. A failed migration fails the
component before any of its other objects changed.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from deployctl import plan
from deployctl.deploy.actions import Actions
from deployctl.deploy.judge import Expectations, Verdict, judge
from deployctl.deploy.live import fingerprint, object_key, record_key
from deployctl.deploy.prepare import ObjectChange, Prepared
from deployctl.deploy.removal import StillDeleting
from deployctl.deploy.scheduler import Scheduler
from deployctl.kube import IN_FLIGHT, Cluster, KubeError
from deployctl.model import ChangeAction, ComponentState, Obj
from deployctl.observe import ClusterView
from deployctl.present import Reporter
from deployctl.profile import Profile

TICK = 1.0  # seconds: time-based rules (unschedulable grace, timeouts) are judged this often


@dataclass
class ComponentResult:
    name: str
    state: str = ComponentState.PENDING.value
    message: str = ""
    details: list[str] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None


@dataclass
class Executed:
    results: dict[str, ComponentResult]
    fingerprints: dict[str, str]  # what the live objects look like after the deploy
    phases: dict[str, float] = field(default_factory=dict)  # seconds spent in each step

    @property
    def healthy(self) -> bool:
        return all(r.state == ComponentState.HEALTHY.value for r in self.results.values())


@dataclass
class Wait:
    """One component's wait, from the end of its apply to its verdict."""

    component: plan.Component
    workloads: list[Obj]  # what this wait judges: the migrations, or the rest
    timeout: float  # seconds, counted from the end of the component's apply
    deadline: float  # the monotonic moment the timeout runs out
    uids: frozenset[str] | None = None  # its workloads' uids, once every one exists
    fresh: bool = True  # not judged yet: its apply just finished
    migrating: bool = False  # the component's migrations; the rest is applied after

    def touched_by(self, changed: set[str]) -> bool:
        """A change under one of its workloads; before they all exist, any change."""
        return bool(changed) and (self.uids is None or not self.uids.isdisjoint(changed))


class View(Protocol):
    """What the loop needs of the watch caches (observe.ClusterView; a script in tests)."""

    def track(self, kinds: list[tuple[str, str]], listed: Any) -> None: ...
    def follow(self) -> None: ...
    def get(self, api_version: str, kind: str, name: str) -> Obj | None: ...
    def owned_by(self, api_version: str, kind: str, owner_uid: str) -> list[Obj]: ...
    def events_about(self, name: str) -> list[Obj]: ...
    def take_changed(self) -> set[str]: ...
    def wait_for_change(self, timeout: float) -> None: ...
    def poke(self) -> None: ...
    def stop(self) -> None: ...


class Execution:
    def __init__(
        self,
        prepared: Prepared,
        cluster: Cluster,
        profile: Profile,
        reporter: Reporter,
        actions: Actions,
        *,
        timeout: float | None = None,
        replace_stuck_pods: bool = False,
        view: View | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prepared = prepared
        self.cluster = cluster
        self.profile = profile
        self.reporter = reporter
        self.actions = actions
        self.timeout = timeout
        self.replace_stuck_pods = replace_stuck_pods
        self.components = prepared.plan.components
        self.changes = {object_key(c.obj): c for c in prepared.changes}
        self.scheduler = Scheduler({n: c.depends_on for n, c in self.components.items()})
        self.results = {name: ComponentResult(name) for name in self.components}
        self.view = view or ClusterView(cluster, profile.namespace)
        self.monotonic = monotonic
        self.waits: dict[str, Wait] = {}  # exactly the components in ComponentState.WAITING
        self.replacing: set[Future[None]] = set()  # stuck-pod replacements in flight
        # (component, error, whether it applied its migrations)
        self.finished_applies: queue.SimpleQueue[tuple[str, BaseException | None, bool]] = (
            queue.SimpleQueue()
        )
        # Events are stamped in whole seconds by the cluster: anything from this second of
        # the API server's clock on is ours (this machine's clock may be minutes off).
        self.since = cluster.server_now().replace(microsecond=0)

    def run(self) -> Executed:
        pool = ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="apply")
        phases: dict[str, float] = {}
        began = self.monotonic()
        try:
            live = self.prepared.live
            self.view.track(
                _watched_kinds(self.components.values()), live.listed if live else lambda *_: None
            )
            self._apply_foundation(pool)
            phases["foundation"] = round(self.monotonic() - began, 3)
            self._loop(pool)
            self._finish_replacements(wait=True)
            phases["components"] = round(self.monotonic() - began - phases["foundation"], 3)
        except BaseException:
            self.actions.halt()  # Ctrl-C, SIGTERM, a lost lock: no apply still queued may write
            raise
        finally:
            # Every write in flight (applies, pod replacements) lands before the caller may
            # release the lock; queued ones were refused by halt() or never started.
            pool.shutdown(wait=True, cancel_futures=True)
            self.view.stop()
        executed = Executed(self.results, self._fingerprints(), phases)
        if executed.healthy and self.prepared.prune:
            pruning = self.monotonic()
            self.actions.prune(self.prepared.prune_groups)
            phases["prune"] = round(self.monotonic() - pruning, 3)
        return executed

    # -- applying ---------------------------------------------------------------------

    def _apply_foundation(self, pool: ThreadPoolExecutor) -> None:
        keys = {object_key(o) for o in self.prepared.plan.foundation}
        changes = [c for c in self.prepared.changes if object_key(c.obj) in keys]
        for change in changes:  # namespaces first: everything else lands in them
            if change.obj["kind"] == "Namespace":
                self.actions.apply(change)
        rest = [c for c in changes if c.obj["kind"] != "Namespace"]
        list(pool.map(self.actions.apply, rest))

    def _start(self, name: str, pool: ThreadPoolExecutor, migrating: bool) -> None:
        """Apply a component's migrations (`migrating`) or the rest of it, on the pool."""
        component = self.components[name]
        objects = component.migrations if migrating else component.rollout
        self._move(name, ComponentState.APPLYING, "migrating" if migrating else "")
        pool.submit(self._apply_component, name, objects, migrating)

    def _apply_component(self, name: str, objects: list[Obj], migrating: bool) -> None:
        component = self.components[name]
        error: BaseException | None = None
        try:
            for obj in objects:
                change: ObjectChange = self.changes[object_key(obj)]
                self.actions.apply(change)
                hpa = _autoscaler_for(obj, component.objects)
                if change.action == ChangeAction.CREATE and hpa is not None:
                    self.actions.bootstrap_replicas(obj, hpa)
        except BaseException as caught:  # handed to the loop, which decides
            error = caught
        self.finished_applies.put((name, error, migrating))
        self.view.poke()

    # -- the loop ---------------------------------------------------------------------

    def _loop(self, pool: ThreadPoolExecutor) -> None:
        """Until every component has finished: judge what is due, start what may start,
        then sleep until the first of: a change in the watch caches, the next TICK (the
        time-based rules: the unschedulable grace, events since the deploy began), or the
        soonest deadline. Each round judges a waiting component at most once."""
        last_tick = 0.0
        while not self.scheduler.done:
            self.actions.guard()  # a deploy that lost its lock stops, waiting included
            self._finish_replacements()
            self._collect_applies()
            now = self.monotonic()
            changed = self.view.take_changed()
            ticked = now - last_tick >= TICK
            if ticked:
                last_tick = now
            for name, wait in list(self.waits.items()):
                if ticked or wait.fresh or wait.touched_by(changed):
                    self._judge(name, wait, pool, now)
            self._settle_stopped()
            for name in self.scheduler.startable():  # at once: dependencies just turned healthy
                migrations = self.components[name].migrations and not self.prepared.keep_migrations
                self._start(name, pool, migrating=bool(migrations))
            if self.scheduler.done:
                break
            if self.waits:
                self.view.follow()  # something has to be waited for: watch from here on
            soonest = min((w.deadline for w in self.waits.values()), default=now + TICK)
            self.view.wait_for_change(max(0.0, min(soonest - now, last_tick + TICK - now)))

    def _collect_applies(self) -> None:
        """Components whose applies finished: now waiting (judged this round), failed or
        stopped."""
        while True:
            try:
                name, error, migrating = self.finished_applies.get_nowait()
            except queue.Empty:
                return
            if error is not None and not isinstance(error, KubeError | StillDeleting):
                raise error
            if error is not None:
                self._move(name, ComponentState.FAILED, str(error))
            elif self.scheduler.stopping:
                self._move(name, ComponentState.STOPPED, "stopped: another component failed")
            else:
                timeout = self.timeout or self.profile.timeout_for(name)
                component = self.components[name]
                workloads = component.migrations if migrating else plan.workloads(component.rollout)
                due = self.monotonic() + timeout
                self.waits[name] = Wait(component, workloads, timeout, due, migrating=migrating)
                self._move(name, ComponentState.WAITING, "migrating" if migrating else "")

    def _finish_replacements(self, wait: bool = False) -> None:
        """Read the stuck-pod replacements that finished (all of them, with `wait`): one that
        failed in a way it could not report itself (a lost lock) stops the deploy."""
        for future in list(self.replacing):
            if wait or future.done():
                self.replacing.discard(future)
                future.result()

    def _settle_stopped(self) -> None:
        """After a failure: stop every wait, and say why each component did not start."""
        if not self.scheduler.stopping:
            return
        for name in list(self.waits):
            self._move(name, ComponentState.STOPPED, "stopped waiting: another component failed")
        for name, reason in self.scheduler.blocked().items():
            self._report(name, ComponentState.NOT_STARTED, reason)

    def _judge(self, name: str, wait: Wait, pool: ThreadPoolExecutor, now: float) -> None:
        moment = self.cluster.server_now()  # pods' and events' stamps are the server's
        workloads = wait.workloads
        verdicts = [judge(w, self.view, self._expect(w, wait.component), moment) for w in workloads]
        wait.fresh = False
        if wait.uids is None:
            wait.uids = self._uids(workloads)
        for verdict in verdicts:
            for pod, uid in verdict.replace:
                if pod not in self.actions.replaced:
                    self.replacing.add(pool.submit(self.actions.replace_pod, pod, uid))
        waiting_on = "; ".join(v.message for v in verdicts if not v.healthy)
        if failed := next((v for v in verdicts if v.failed), None):
            what = "migration failed: " if wait.migrating else ""
            self._move(
                name,
                ComponentState.FAILED,
                f"{name}: {what}{failed.message}",
                self._details(failed),
            )
        elif all(v.healthy for v in verdicts) and wait.migrating:
            jobs = ", ".join(f"Job {w['metadata']['name']}" for w in workloads)
            self.reporter.info(f"{name}: migration complete ({jobs}); applying the rest")
            self._start(name, pool, migrating=False)
        elif all(v.healthy for v in verdicts):
            self._move(
                name, ComponentState.HEALTHY, "; ".join(v.message for v in verdicts if v.message)
            )
        elif now >= wait.deadline:
            timeout = f"timed out after {wait.timeout:.0f} s"
            self._move(name, ComponentState.FAILED, f"{name}: {timeout}: {waiting_on}")
        else:
            # Every judgement: the reporter says what is new, and that it still waits.
            result = self.results[name]
            result.message = waiting_on
            self.reporter.component(result)

    def _uids(self, workloads: list[Obj]) -> frozenset[str] | None:
        """The workloads' uids, or None while one of them does not exist yet."""
        uids = set()
        for workload in workloads:
            meta = workload["metadata"]
            live = self.view.get(workload["apiVersion"], workload["kind"], meta["name"])
            if live is None:
                return None
            uids.add(live["metadata"].get("uid", ""))
        return frozenset(uids)

    def _expect(self, workload: Obj, component: plan.Component) -> Expectations:
        hpa = _autoscaler_for(workload, component.objects)
        return Expectations(
            applied_generation=self.actions.applied_generation(workload),
            applied_uid=self.actions.applied_uid(workload) if plan.is_migration(workload) else "",
            min_replicas=(hpa or {}).get("spec", {}).get("minReplicas"),
            unschedulable_grace=self.profile.unschedulable_grace,
            restarts_allowed=self.profile.restarts_for(component.name),
            since=self.since,
            replace_stuck_pods=self.replace_stuck_pods,
        )

    def _move(
        self, name: str, state: ComponentState, message: str = "", details: list[str] | None = None
    ) -> None:
        self.scheduler.move(name, state)
        if state is not ComponentState.WAITING:
            self.waits.pop(name, None)
        self._report(name, state, message, details)

    def _report(
        self, name: str, state: ComponentState, message: str = "", details: list[str] | None = None
    ) -> None:
        result = self.results[name]
        now = self.monotonic()
        if state is ComponentState.APPLYING and result.started is None:
            result.started = now  # a component that migrated first started with it
        if state.finished and result.started is not None:
            result.finished = now
        result.state = state.value
        result.message = message
        result.details = details or []
        self.reporter.component(result)

    def _details(self, verdict: Verdict) -> list[str]:
        """Recent warning events and the last log lines of the pod a failure is about."""
        pod = verdict.pod
        if pod is None:
            return []
        name = pod["metadata"]["name"]
        namespace = self.profile.namespace
        # The pod's warnings, and its Job's (BackoffLimitExceeded, DeadlineExceeded).
        owners = pod["metadata"].get("ownerReferences") or []
        jobs = [owner["name"] for owner in owners if owner.get("kind") == "Job"]
        events = []
        for about in [name, *jobs]:
            try:
                found, _ = self.cluster.list(
                    "v1",
                    "Event",
                    namespace,
                    field_selector=f"involvedObject.name={about},type=Warning",
                )
            except KubeError:
                found = []
            events += found
        events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        details = [f"event {e.get('reason')}: {e.get('message', '').strip()}" for e in events[-3:]]
        for container in pod["spec"].get("containers", []):
            logs = self.cluster.pod_logs(namespace, name, container["name"], lines=10)
            if logs:
                details.append(f"last log lines of {name}/{container['name']}:\n{logs.rstrip()}")
        return details

    def _fingerprints(self) -> dict[str, str]:
        """Each object as it is now: the watch caches, else what its apply returned."""
        found = {}
        for change in self.prepared.changes:
            obj = change.obj
            applied = object_key(obj) in self.actions.applied
            if not applied and change.action != ChangeAction.UNCHANGED:
                continue  # never reached (its component did not start): not known to match
            name = obj["metadata"]["name"]
            live = (
                self.view.get(obj["apiVersion"], obj["kind"], name)
                or self.actions.applied.get(object_key(obj))
                or change.live
            )
            if live is not None:
                found[record_key(obj)] = fingerprint(live)
        return found


def _autoscaler_for(workload: Obj, objects: list[Obj]) -> Obj | None:
    for obj in objects:
        if obj.get("kind") != "HorizontalPodAutoscaler":
            continue
        target = obj["spec"].get("scaleTargetRef") or {}
        if (
            target.get("kind") == workload.get("kind")
            and target.get("name") == workload["metadata"]["name"]
        ):
            return obj
    return None


def _watched_kinds(components) -> list[tuple[str, str]]:
    kinds = {(w["apiVersion"], w["kind"]) for c in components for w in c.workloads}
    if kinds:
        kinds |= {("v1", "Pod"), ("apps/v1", "ReplicaSet"), ("v1", "Event")}
    return sorted(kinds)
