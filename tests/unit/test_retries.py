"""The one retry policy: transient failures are retried, validation errors never."""

from __future__ import annotations

import pytest
import urllib3

from deployctl import kube


class Flaky:
    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(kube.RETRYING, "sleep", slept.append)
    return slept


def api_error(status: int, retry_after: str | None = None, body: str = "") -> kube.StatusError:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return kube.StatusError(status, body.encode(), headers)


def test_throttling_and_server_errors_are_retried_after_retry_after(no_sleeping) -> None:
    flaky = Flaky(api_error(429, retry_after="3"), api_error(503), api_error(504))

    assert kube.call("Deployment/web", flaky) == "ok"
    assert flaky.calls == 4
    assert no_sleeping[0] == 3.0  # the server's Retry-After, then backoff
    assert all(0 <= s <= 5 for s in no_sleeping[1:])


def test_validation_errors_are_not_retried_and_name_the_object() -> None:
    body = '{"message": "spec.replicas: Invalid value: -1", "reason": "Invalid"}'
    flaky = Flaky(api_error(422, body=body))

    with pytest.raises(kube.Invalid, match=r"^Deployment/web: spec.replicas: Invalid value"):
        kube.call("Deployment/web", flaky)
    assert flaky.calls == 1


def test_a_500_that_is_the_manifests_fault_is_invalid_at_once() -> None:
    body = (
        '{"message": "failed to create typed patch object (/v1, Kind=ConfigMap): '
        '.data.x.y: field not declared in schema", "reason": "InternalError"}'
    )
    flaky = Flaky(api_error(500, body=body))

    with pytest.raises(kube.Invalid, match="field not declared in schema"):
        kube.call("ConfigMap/settings", flaky)
    assert flaky.calls == 1


def test_a_conflict_names_the_other_manager() -> None:
    body = (
        '{"reason": "Conflict", "message": "Apply failed with 1 conflict: conflict with '
        '\\"someone-else\\" using v1: .data.mode"}'
    )
    with pytest.raises(kube.ApplyConflict, match="someone-else"):
        kube.call("ConfigMap/settings", Flaky(api_error(409, body=body)))


def test_a_server_that_never_answers_is_unreachable_after_the_retries() -> None:
    down = urllib3.exceptions.NewConnectionError(None, "connection refused")
    flaky = Flaky(*[down] * 10)

    with pytest.raises(kube.Unreachable, match="does not answer"):
        kube.call("version", flaky)
    assert flaky.calls == 6


def test_throttling_halves_the_requests_in_flight_and_successes_restore_them() -> None:
    limit = kube.InFlightLimit(8)

    limit.throttled()
    limit.throttled()
    assert limit.limit == 2
    for _ in range(2 + 3 + 4 + 5 + 6 + 7):  # one more per `limit` successes
        limit.succeeded()

    assert limit.limit == 8
    limit.succeeded()
    assert limit.limit == 8  # never above the ceiling


def test_no_more_requests_than_the_limit_are_in_flight() -> None:
    import threading
    import time

    limit = kube.InFlightLimit(3)
    peak = 0
    lock = threading.Lock()

    def request() -> None:
        nonlocal peak
        with limit:
            with lock:
                peak = max(peak, limit.in_flight)
            time.sleep(0.01)

    threads = [threading.Thread(target=request) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert peak == 3
    assert limit.in_flight == 0
