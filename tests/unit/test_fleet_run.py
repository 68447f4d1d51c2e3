"""The fleet's failure rules with fake sessions: which clusters are applied, restored,
left untouched and released, and the exit status. The same rules run for real on
three sandbox clusters in tests/e2e/test_fleet.py."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from deployctl.commands import Result, fleet
from deployctl.commands.session import Change, Checked, Outcome
from deployctl.commands.target import Target
from deployctl.engine import Options
from deployctl.errors import ExitStatus
from deployctl.lock import Locked, LockLost
from deployctl.present import Reporter
from deployctl.profile import load_profile

PROFILE = """\
overlay: manifests/overlays/prod
namespace: app
stages:
  - canary: {context: c1}
  - eu-west: {context: c2}
    us-east: {context: c3}
  - dr: {context: c4}
"""


class Revision:
    def __init__(self, number: int) -> None:
        self.number = number


class Lock:
    def __init__(self) -> None:
        self.lost = threading.Event()


class FakeSession:
    """What fleet needs of a Session; `behaviour` overrides apply (or raises)."""

    def __init__(self, name: str, behaviour, log: list) -> None:
        self.name = name
        self.behaviour = behaviour
        self.log = log
        self.stop = None
        self.lock = Lock()
        self.recorded = None
        self.reporter = Reporter(quiet=True)

    def check(self, change: Change) -> Checked:
        return Checked(None, 0.0)  # type: ignore[arg-type]

    def apply(self, action: str, checked: Checked) -> Outcome:
        self.log.append(("apply", self.name))
        if self.behaviour:
            return self.behaviour(self)
        self.recorded = Revision(2)
        return Outcome(ExitStatus.OK, {"result": "deployed", "revision": 2}, {}, Revision(2))

    def summary(self, outcome: Outcome, note: str = "") -> None:
        pass


def failed(session: FakeSession) -> Outcome:
    session.recorded = Revision(2)
    return Outcome(ExitStatus.FAILED, {"result": "failed", "revision": 2}, {}, Revision(2))


@pytest.fixture
def run(tmp_path: Path, monkeypatch):
    """deploy() on the four clusters; `behaviours` by cluster: apply, or hold to raise."""
    (tmp_path / "manifests/overlays/prod").mkdir(parents=True)
    (tmp_path / "manifests/overlays/prod/kustomization.yaml").write_text("resources: []\n")
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments/prod.yaml").write_text(PROFILE)
    log: list = []
    released: dict[str, bool] = {}

    def start(behaviours=None, holds=None, **flags) -> Result:
        behaviours, holds = behaviours or {}, holds or {}

        def hold(target, reporter, action, **_):
            name = target.profile.cluster
            if name in holds:
                raise holds[name]
            log.append(("hold", name))
            return FakeSession(name, behaviours.get(name), log)

        def restore(session, outcome, change, reason=""):
            log.append(("restore", session.name))
            return Result(ExitStatus.FAILED, {"result": "rolled-back"})

        monkeypatch.setattr(fleet, "connect", lambda profile, options: object())
        monkeypatch.setattr(fleet.rendering, "start_render", lambda profile: None)
        monkeypatch.setattr(fleet, "hold", hold)
        monkeypatch.setattr(fleet, "release", lambda s, failed: released.update({s.name: failed}))
        monkeypatch.setattr(fleet, "restore", restore)
        target = Target(tmp_path, load_profile(tmp_path, "prod"), Options(), yes=True)
        plan = lambda session: Change("up", "up", previous=Revision(1))  # noqa: E731
        return fleet.deploy(target, Reporter(quiet=True), "up", plan, **flags)

    start.log = log
    start.released = released
    return start


def results(result: Result) -> dict[str, str]:
    return {name: c["result"] for name, c in result.document["clusters"].items()}


def test_a_failure_stops_the_stages_and_only_the_failed_cluster_is_restored(run) -> None:
    result = run({"eu-west": failed})

    assert result.status == ExitStatus.FAILED
    assert results(result) == {
        "canary": "deployed",
        "eu-west": "rolled-back",
        "us-east": "deployed",
        "dr": "untouched",
    }
    assert ("restore", "eu-west") in run.log and ("apply", "dr") not in run.log
    assert set(run.released) == {"canary", "eu-west", "us-east", "dr"}
    assert run.released["dr"] is True  # never written: what validation made goes


def test_all_or_nothing_restores_every_cluster_that_changed(run) -> None:
    result = run({"eu-west": failed}, all_or_nothing=True)

    assert results(result) == {
        "canary": "rolled-back",
        "eu-west": "rolled-back",
        "us-east": "rolled-back",
        "dr": "untouched",
    }
    assert "undone because eu-west failed" in result.document["clusters"]["canary"]["note"]


def test_no_rollback_keeps_the_failed_cluster_as_it_is(run) -> None:
    result = run({"canary": failed}, no_rollback=True)

    assert result.status == ExitStatus.FAILED
    assert results(result)["canary"] == "failed"
    assert not [entry for entry in run.log if entry[0] == "restore"]


def test_an_unexpected_error_in_one_cluster_is_a_failure_never_a_success(run) -> None:
    def boom(session):
        raise RuntimeError("a defect")

    result = run({"canary": boom}, no_rollback=True)

    assert result.status == ExitStatus.FAILED
    assert results(result) == {
        "canary": "failed",
        "eu-west": "untouched",
        "us-east": "untouched",
        "dr": "untouched",
    }
    assert "RuntimeError: a defect" in result.document["clusters"]["canary"]["note"]


def test_a_cluster_that_lost_its_lock_is_not_restored(run) -> None:
    def lost(session):
        session.lock.lost.set()
        raise LockLost("lost the deploy lock")

    result = run({"eu-west": lost})

    assert results(result)["eu-west"] == "failed"
    assert ("restore", "eu-west") not in run.log
    assert result.status == ExitStatus.FAILED  # not 4: nothing was written there


def test_a_held_lock_anywhere_releases_every_other_cluster_and_exits_3(run) -> None:
    with pytest.raises(fleet.ClusterFailed) as error:
        run(holds={"us-east": Locked("locked by someone")})

    assert error.value.exit_status == ExitStatus.LOCKED
    assert "cluster us-east: locked by someone" in str(error.value)
    assert not [entry for entry in run.log if entry[0] == "apply"]
    assert set(run.released) == {"canary", "eu-west", "dr"}


def test_an_interrupt_while_locking_releases_the_locks_already_taken(run) -> None:
    with pytest.raises(KeyboardInterrupt):
        run(holds={"dr": KeyboardInterrupt()})

    assert set(run.released) == {"canary", "eu-west", "us-east"}
    assert all(run.released.values())  # each as never written to
