"""Settling revision records against a plain store of Secrets: none skipped, none revived."""

from __future__ import annotations

from types import SimpleNamespace

from deployctl import releases
from deployctl.commands import rollback
from deployctl.commands.session import Change, Outcome, Session
from deployctl.engine import ComponentResult
from deployctl.errors import ExitStatus
from deployctl.model import ComponentState
from deployctl.releases import Revision, record_name


class Secrets:
    """The record Secrets by name: what `releases.save` writes and deletes."""

    def __init__(self) -> None:
        self.stored: dict[str, dict] = {}

    def apply(self, obj: dict, force: bool = False) -> dict:
        self.stored[obj["metadata"]["name"]] = obj
        return obj

    def delete(self, api_version, kind, name, namespace=None, **kwargs) -> bool:
        return self.stored.pop(name, None) is not None

    def result(self, number: int) -> str | None:
        secret = self.stored.get(record_name("dev", number))
        return None if secret is None else secret["metadata"]["labels"]["deployctl.dev/result"]


def records(store: Secrets, *results: str) -> list[Revision]:
    revisions = [
        Revision(number=n, environment="dev", action="up", result=result)
        for n, result in enumerate(results, start=1)
    ]
    for revision in revisions:
        releases.save(store, "dev", revision, keep=100, known=[])  # type: ignore[arg-type]
    return revisions


def session(store: Secrets, keep: int) -> Session:
    """A Session with only what settling records uses: its cluster and profile."""
    held = Session.__new__(Session)
    held.cluster = store  # type: ignore[assignment]
    held.profile = SimpleNamespace(namespace="dev", keep_revisions=keep)  # type: ignore[assignment]
    held.lock = None
    held.stop = None
    return held


def test_every_pending_record_is_settled_though_saving_drops_old_ones() -> None:
    store = Secrets()
    revisions = records(store, "superseded", "superseded", "pending", "pending")

    session(store, keep=3)._settle_abandoned(revisions)

    assert store.result(1) is None  # beyond keep: dropped
    assert store.result(3) == "interrupted"
    assert store.result(4) == "interrupted"  # was skipped when the list shifted under the loop
    assert [r.number for r in revisions] == [2, 3, 4]


def test_a_pending_record_dropped_meanwhile_is_not_written_again() -> None:
    store = Secrets()
    revisions = records(store, "pending", "superseded", "deployed", "pending")

    session(store, keep=2)._settle_abandoned(revisions)

    assert store.result(1) is None  # dropped by the first save, not revived by a second
    assert store.result(4) == "interrupted"


def test_settling_a_deployed_record_supersedes_every_other_deployed_one() -> None:
    store = Secrets()
    revisions = records(store, "superseded", "deployed", "deployed", "failed")
    new = Revision(number=5, environment="dev", action="up", result="deployed")

    releases.settle(store, "dev", new, keep=3, known=revisions)  # type: ignore[arg-type]

    assert store.result(5) == "deployed"
    assert [n for n in range(1, 6) if store.result(n) == "deployed"] == [5]


def rollback_saying(monkeypatch, status: ExitStatus, failure: str = "") -> list[str]:
    """Run `rollback` with a deploy that ends in `status`; what its summary said."""
    results = {}
    if failure:
        results["api"] = ComponentResult("api", state=ComponentState.FAILED, message=failure)
    outcome = Outcome(status, {"result": "?"}, results, None)
    said: list[str] = []
    held = SimpleNamespace(
        run=lambda *args, **kwargs: outcome,
        summary=lambda outcome, note="": said.append(note),
    )
    change = Change("rollback", "rollback to revision 1", [], {}, report={"target": 1})
    monkeypatch.setattr(rollback, "locked", lambda target, reporter, action, work: work(held))
    monkeypatch.setattr(rollback, "rollback_change", lambda *args: change)
    target = SimpleNamespace(profile=SimpleNamespace(fleet=None, name="dev"))
    rollback.rollback(target, reporter=None)  # type: ignore[arg-type]
    return said


def test_a_rollback_says_restored_only_when_it_was(monkeypatch) -> None:
    assert rollback_saying(monkeypatch, ExitStatus.OK) == ["restored revision 1"]

    said = rollback_saying(monkeypatch, ExitStatus.FAILED, "api: not ready after 2s")

    assert said == ["revision 1 not restored: api failed"]  # its failure is reported above it
