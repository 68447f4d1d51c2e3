"""What a person reads: heartbeats in logs, counts per kind on a terminal, history's
changes, and the one Secret masker."""

from __future__ import annotations

import io
from types import SimpleNamespace

from deployctl import present
from deployctl.present import Environment, LiveReporter, Masker, Reporter, image_changes


def waiting(message: str = "0/1 ready", started: float = 0.0):
    return SimpleNamespace(
        name="api", state="waiting", message=message, started=started, finished=None
    )


def test_a_waiting_component_with_no_news_gets_a_heartbeat_every_30_s(monkeypatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(present.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()
    reporter = Reporter(stream)

    for now in (100.0, 101.0, 120.0, 129.0, 131.0, 150.0):
        clock[0] = now
        reporter.component(waiting(started=90.0))

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("api waiting: 0/1 ready")
    assert lines[1].endswith("api still waiting after 41 s: 0/1 ready")


def test_news_is_printed_at_most_every_10_s_and_a_new_state_at_once(monkeypatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(present.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()
    reporter = Reporter(stream)

    reporter.component(waiting("0/2 ready"))
    clock[0] = 5.0
    reporter.component(waiting("1/2 ready"))  # too soon
    clock[0] = 11.0
    reporter.component(waiting("1/2 ready"))
    reporter.component(SimpleNamespace(**{**vars(waiting()), "state": "healthy", "finished": 11}))

    lines = stream.getvalue().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "api waiting: 0/2 ready",
        "api waiting: 1/2 ready",
        "api healthy in 11.0 s: 0/1 ready",
    ]


def test_on_a_terminal_objects_are_counted_per_kind_and_listed_with_verbose() -> None:
    quiet = LiveReporter(Environment(color=False))
    for ref in ("ConfigMap/a in namespace n", "ConfigMap/b in namespace n", "Service/s"):
        quiet.object(ref, "create")
    quiet.object("Deployment/d in namespace n", "update")
    assert quiet._summary() == "configured 1 Deployment; created 2 ConfigMap, 1 Service"

    verbose = LiveReporter(Environment(color=False, verbose=True))
    verbose.object("ConfigMap/a in namespace n", "create")
    assert not verbose.counts


def test_history_shows_what_changed_each_image_once() -> None:
    before = {"orchestrator": ["reg/orchestrator:v2.0.0"], "redis": ["redis:7", "redis:7"]}
    after = {"orchestrator": ["reg/orchestrator:v2.0.1"], "redis": ["redis:7"], "new": ["n:1"]}

    assert image_changes({"x": ["a/x:1"]}, {"x": ["b/y:2"]}) == "x x:1 → y:2"
    assert image_changes(before, after) == ("+new n:1; orchestrator v2.0.0 → v2.0.1")


def test_one_masker_hides_values_and_kubectls_clear_copy_keyed_for_diff() -> None:
    secret = {
        "kind": "Secret",
        "metadata": {"annotations": {present.LAST_APPLIED: "{password: hunter2}"}},
        "data": {"a": "aHVudGVyMg==", "b": "aHVudGVyMg==", "c": "eA=="},
    }
    plain = Masker()(secret)
    assert set(plain["data"].values()) == {present.MASK}
    assert plain["metadata"]["annotations"] == {}

    keyed = Masker(keyed=True)(secret)["data"]
    assert keyed["a"] == keyed["b"] != keyed["c"] and "aHVudGVyMg" not in str(keyed)
    assert secret["data"]["a"] == "aHVudGVyMg=="  # the original is untouched


def test_the_live_table_is_rebuilt_on_news_and_at_most_once_a_second_without(monkeypatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(present.time, "monotonic", lambda: clock[0])
    reporter = LiveReporter(Environment(color=False))
    reporter.live = SimpleNamespace(updates=0)
    reporter.live.update = lambda view: setattr(reporter.live, "updates", reporter.live.updates + 1)

    reporter.component(waiting("0/2 ready"))  # news
    for now in (0.2, 0.4, 0.6):  # the same, judged again within the second
        clock[0] = now
        reporter.component(waiting("0/2 ready"))
    clock[0] = 0.7
    reporter.component(waiting("1/2 ready"))  # news
    clock[0] = 1.8
    reporter.component(waiting("1/2 ready"))  # no news, but the elapsed times move on

    assert reporter.live.updates == 3
