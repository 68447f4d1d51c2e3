"""The execution loop, driven by a scripted cluster in fake time (as cli-utils'
runner_test drives its runner): what starts when, what is judged, fail fast, timeouts.

The pool runs each submitted apply at once, in the loop's own thread, so a
script decides everything and no test waits for real time.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deployctl import plan
from deployctl.deploy import execute
from deployctl.deploy.actions import Halted
from deployctl.deploy.execute import Execution
from deployctl.deploy.prepare import ObjectChange, Prepared
from deployctl.model import ChangeAction
from deployctl.model import ComponentState as State

Obj = dict[str, Any]
START = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class InlinePool:
    """A ThreadPoolExecutor that runs each task at once, in the caller's thread."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as error:  # handed to whoever reads the future
            future.set_exception(error)
        return future

    def map(self, fn: Callable[..., Any], items: list[Any]) -> list[Any]:
        return [fn(item) for item in items]

    def shutdown(self, **_kwargs: Any) -> None:
        pass


@pytest.fixture(autouse=True)
def inline_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(execute, "ThreadPoolExecutor", InlinePool)


def deployment(name: str, component: str, ready: bool = False) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "generation": 1,
            "labels": {"app.kubernetes.io/component": component},
        },
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": name}]}}},
        "status": {
            "observedGeneration": 1,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": int(ready),
            "availableReplicas": int(ready),
            "conditions": [
                {"type": "Available", "status": str(ready)},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        },
    }


class Script:
    """A cluster in fake time: an applied workload appears, not ready; at the scripted
    moments its status changes. Implements execute.View, and the clocks."""

    def __init__(self, steps: dict[float, Callable[[Script], None]] | None = None) -> None:
        self.t = 0.0
        self.steps = dict(steps or {})
        self.objects: dict[str, Obj] = {}
        self.changed: set[str] = set()
        self.poked = False
        self.judged_at: list[float] = []  # when the loop asked for the server's time

    def set(self, obj: Obj) -> None:
        self.objects[obj["metadata"]["name"]] = obj
        self.changed.add(obj["metadata"]["uid"])

    # -- execute.View ---------------------------------------------------------------
    def track(self, kinds: list[tuple[str, str]], listed: Any) -> None:
        pass

    def follow(self) -> None:
        pass

    def get(self, api_version: str, kind: str, name: str) -> Obj | None:
        return self.objects.get(name)

    def owned_by(self, api_version: str, kind: str, owner_uid: str) -> list[Obj]:
        return [
            obj
            for obj in self.objects.values()
            if obj["kind"] == kind
            and any(o["uid"] == owner_uid for o in obj["metadata"].get("ownerReferences", []))
        ]

    def events_about(self, name: str) -> list[Obj]:
        return []

    def take_changed(self) -> set[str]:
        changed, self.changed = self.changed, set()
        return changed

    def wait_for_change(self, timeout: float) -> None:
        """Return at once after a poke; else advance to the next step or by `timeout`."""
        if self.poked:
            self.poked = False
            return
        due = min((at for at in self.steps if at <= self.t + timeout), default=None)
        if due is None:
            self.t += timeout
            return
        self.t = max(self.t, due)
        self.steps.pop(due)(self)

    def poke(self) -> None:
        self.poked = True

    def stop(self) -> None:
        pass

    # -- the clocks -----------------------------------------------------------------
    def monotonic(self) -> float:
        return self.t

    def server_now(self) -> datetime:
        self.judged_at.append(self.t)
        return START + timedelta(seconds=self.t)


class Actions:
    """The writes, recorded: an apply makes the workload appear in the script."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.applied_at: dict[str, float] = {}
        self.replaced: set[str] = set()
        self.applied: dict[Any, Obj] = {}

    def apply(self, change: ObjectChange) -> None:
        name = change.obj["metadata"]["name"]
        self.applied_at[name] = self.script.t
        if change.obj["kind"] in ("Deployment", "StatefulSet"):
            self.script.set(change.obj)

    def replace_pod(self, name: str, uid: str) -> None:
        raise Halted("the deploy lost its lock: no more writes")

    def guard(self) -> None:
        pass

    def halt(self) -> None:
        pass

    def applied_generation(self, obj: Obj) -> int:
        return 1

    def prune(self, groups: list[list[Obj]]) -> None:
        pass


class Cluster:
    def __init__(self, script: Script) -> None:
        self.server_now = script.server_now

    def list(self, *_args: Any, **_kwargs: Any) -> tuple[list[Obj], str]:
        return [], ""

    def pod_logs(self, *_args: Any, **_kwargs: Any) -> str:
        return ""


class Profile:
    namespace = "test"
    unschedulable_grace = 15.0

    def __init__(self, timeouts: dict[str, float]) -> None:
        self.timeouts = timeouts

    def timeout_for(self, component: str) -> float:
        return self.timeouts.get(component, 60.0)

    def restarts_for(self, component: str) -> int:
        return 0


class Reporter:
    def __init__(self) -> None:
        self.lines: list[tuple[float, str, str]] = []
        self.t: Callable[[], float] = lambda: 0.0

    def component(self, result: Any) -> None:
        self.lines.append((self.t(), result.name, result.state))

    def object(self, ref: str, action: str) -> None:
        pass

    def info(self, line: str) -> None:
        pass


def run(
    order: dict[str, list[str]],
    script: Script,
    timeouts: dict[str, float] | None = None,
    objects: list[Obj] | None = None,
    replace_stuck_pods: bool = False,
) -> tuple[execute.Executed, Actions, Reporter]:
    objects = objects or [deployment(name, name) for name in order]
    prepared = Prepared(
        objects,
        plan.build_plan(objects, order),
        [ObjectChange(obj, ChangeAction.CREATE) for obj in objects],
        [],
        None,
    )
    actions, reporter = Actions(script), Reporter()
    reporter.t = script.monotonic
    execution = Execution(
        prepared,
        Cluster(script),  # type: ignore[arg-type]
        Profile(timeouts or {}),  # type: ignore[arg-type]
        reporter,  # type: ignore[arg-type]
        actions,  # type: ignore[arg-type]
        view=script,
        monotonic=script.monotonic,
        replace_stuck_pods=replace_stuck_pods,
    )
    return execution.run(), actions, reporter


ORDER = {"db": [], "api": ["db"], "web": ["api"], "jobs": ["db"]}


def test_each_component_starts_the_moment_its_dependencies_are_healthy():
    script = Script(
        {
            2.5: script_ready("db"),
            4.0: script_ready("api"),
            5.0: script_ready("jobs"),
            7.25: script_ready("web"),
        }
    )

    executed, actions, _ = run(ORDER, script)

    assert executed.healthy
    assert actions.applied_at == {"db": 0.0, "api": 2.5, "jobs": 2.5, "web": 4.0}


def test_a_change_is_judged_at_once_and_without_one_only_each_tick():
    quick = Script({0.4: script_ready("db")})
    run({"db": []}, quick)
    slow = Script({2.5: script_ready("db")})
    run({"db": []}, slow)

    # The first reading is the deploy's start (events since then are its own); then once
    # when the apply ends, and again at the change, or once a TICK (the time-based rules).
    assert quick.judged_at == [0.0, 0.0, 0.4]
    assert slow.judged_at == [0.0, 0.0, 1.0, 2.0, 2.5]


def test_a_failure_stops_every_wait_and_dependents_never_start():
    script = Script({1.5: script_ready("db")})
    script.steps[3.0] = script_deadline_exceeded("api")

    executed, actions, _ = run(ORDER, script)

    states = {name: r.state for name, r in executed.results.items()}
    assert states == {
        "db": State.HEALTHY,
        "api": State.FAILED,
        "jobs": State.STOPPED,  # was waiting: stopped at once, not at its timeout
        "web": State.NOT_STARTED,
    }
    assert "progress deadline exceeded" in executed.results["api"].message
    assert executed.results["jobs"].finished == 3.0
    assert "web" not in actions.applied_at
    assert executed.results["web"].message == "not started: api did not become healthy"


def test_a_timeout_counts_from_the_end_of_the_components_apply_and_says_what_was_missing():
    script = Script({10.0: script_ready("db")})

    executed, _, _ = run({"db": [], "api": ["db"]}, script, timeouts={"db": 30.0, "api": 5.0})

    api = executed.results["api"]
    assert api.state == State.FAILED
    assert api.started == 10.0 and api.finished == 15.0  # its own 5 s, from its apply
    assert api.message.startswith("api: timed out after 5 s: Deployment api")


def script_ready(name: str) -> Callable[[Script], None]:
    return lambda s: s.set(deployment(name, name, ready=True))


def script_deadline_exceeded(name: str) -> Callable[[Script], None]:
    def step(script: Script) -> None:
        broken = deployment(name, name)
        broken["status"]["conditions"][1] = {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": f'ReplicaSet "{name}-1" has timed out progressing.',
        }
        script.set(broken)

    return step


def test_a_stuck_pod_replacement_that_fails_stops_the_deploy_with_its_error():
    # A restore: db's pod is stuck on the failed revision r1, the StatefulSet wants r2.
    db = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": "db",
            "uid": "uid-db",
            "generation": 1,
            "labels": {"app.kubernetes.io/component": "db"},
        },
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "db"}]}}},
        "status": {"observedGeneration": 1, "replicas": 1, "updateRevision": "r2"},
    }
    stuck = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "db-0",
            "uid": "uid-db-0",
            "labels": {"controller-revision-hash": "r1"},
            "ownerReferences": [{"uid": "uid-db"}],
        },
        "status": {"phase": "Running"},
    }
    script = Script()
    script.set(stuck)

    # The replacement's write is refused (the lock was lost): the deploy stops with it,
    # instead of losing the error in the pool and waiting on.
    with pytest.raises(Halted, match="lost its lock"):
        run({"db": []}, script, objects=[db], replace_stuck_pods=True)
