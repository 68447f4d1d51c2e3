"""The API server's clock, read from its answers' Date headers."""

from datetime import UTC, datetime, timedelta

from deployctl.health import pod_problem
from deployctl.kube.clock import ServerClock, parse_date

DATE = "Sun, 06 Dec 2026 14:00:00 GMT"
SERVER = datetime(2026, 12, 6, 14, 0, 0, tzinfo=UTC)


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_clock_reads_the_servers_time_not_this_machines():
    monotonic = Monotonic()
    clock = ServerClock(monotonic)
    assert clock.now() is None and not clock.known

    clock.observe(DATE)
    monotonic.now += 30

    assert clock.now() == SERVER + timedelta(seconds=30)  # whatever datetime.now() says


def test_each_answer_bounds_the_server_time_from_below_and_the_best_bound_is_kept():
    monotonic = Monotonic()
    clock = ServerClock(monotonic)
    clock.observe(DATE, received=1000.0)
    # 0.9 s later the Date still says 14:00:00 (cut down): no better bound.
    clock.observe(DATE, received=1000.9)
    # 0.6 s after the first it says 14:00:01: the first came 0.4 s into its second at least.
    clock.observe("Sun, 06 Dec 2026 14:00:01 GMT", received=1000.6)
    monotonic.now = 1000.6

    assert clock.now() == SERVER + timedelta(seconds=1)
    clock.observe(DATE, received=1005.0)  # an old, slow answer lowers nothing
    assert clock.now() == SERVER + timedelta(seconds=1)


def test_a_missing_or_malformed_date_teaches_nothing():
    clock = ServerClock(Monotonic())
    clock.observe(None)
    clock.observe("yesterday")
    assert clock.now() is None
    assert parse_date(DATE) == SERVER


def unschedulable_since(since: datetime) -> dict:
    return {
        "metadata": {"name": "api-1"},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "lastTransitionTime": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            ],
        },
    }


def test_the_unschedulable_grace_is_not_judged_without_the_servers_time():
    # Long unschedulable by any clock: still not judged on this machine's.
    pod = unschedulable_since(SERVER - timedelta(hours=1))
    assert pod_problem(pod) is None
    assert "unschedulable for 15 s" in (pod_problem(pod, now=SERVER) or "")
