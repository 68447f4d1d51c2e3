"""The one retry policy and the one limit on requests in flight.

Retries (tenacity): connection errors, 429 (honouring Retry-After, which API
Priority and Fairness sends when it rejects) and 500/502/503/504, with
backoff; anything else (validation, conflicts, 403, 404) is not retried. A
429 also halves the in-flight limit for a while.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from .errors import CONNECTION_ERRORS, StatusError, Unreachable, translate

T = TypeVar("T")
RETRYABLE_STATUS = {429, 500, 502, 503, 504}
# Requests in flight at once, for the whole run (kube-apiserver's own default is 400).
IN_FLIGHT = 16


# A 500 that is the object's fault, not the server's: server-side apply could not
# build the object from the manifest (a field the schema does not declare).
_NOT_TRANSIENT = ("failed to create typed patch object",)


def _retryable(error: BaseException) -> bool:
    if isinstance(error, StatusError):
        body = error.body.decode(errors="replace") if isinstance(error.body, bytes) else ""
        if error.status == 500 and any(m in body for m in _NOT_TRANSIENT):
            return False
        return error.status in RETRYABLE_STATUS
    return isinstance(error, CONNECTION_ERRORS)


def _wait(state: RetryCallState) -> float:
    """Retry-After when the server gives one, else exponential backoff with jitter."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, StatusError):
        retry_after = str(error.headers.get("Retry-After") or "")
        if retry_after.isdigit():
            return min(float(retry_after), 30.0)
    return _BACKOFF(state)


_BACKOFF = wait_random_exponential(multiplier=0.2, max=5)
# tenacity keeps each call's state per thread, so one instance serves every thread.
RETRYING = Retrying(
    retry=retry_if_exception(_retryable),
    wait=_wait,
    stop=stop_after_attempt(6),
    reraise=True,
)


def call(what: str, function: Callable[[], T]) -> T:
    """Run one API call under the retry policy; translate what remains into KubeErrors."""
    try:
        return RETRYING(function)
    except StatusError as error:
        raise translate(error, what) from None
    except CONNECTION_ERRORS as error:
        raise Unreachable(f"{what}: the API server does not answer ({error})") from None


class InFlightLimit:
    """At most `limit` requests at once; a 429 halves it, successes grow it back (AIMD)."""

    def __init__(self, limit: int = IN_FLIGHT) -> None:
        self.ceiling = limit
        self.limit = limit
        self.in_flight = 0
        self._successes = 0
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        with self._changed:
            while self.in_flight >= self.limit:
                self._changed.wait()
            self.in_flight += 1

    def __exit__(self, *_: object) -> None:
        with self._changed:
            self.in_flight -= 1
            self._changed.notify()

    def throttled(self) -> None:
        with self._changed:
            self.limit = max(1, self.limit // 2)
            self._successes = 0

    def succeeded(self) -> None:
        with self._changed:
            if self.limit >= self.ceiling:
                return
            self._successes += 1
            if self._successes >= self.limit:
                self.limit += 1
                self._successes = 0
                self._changed.notify_all()
