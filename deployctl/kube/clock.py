"""The API server's clock, as its answers tell it.

Every time a deploy judges (an unschedulable pod's grace, which events are
its own) compares with stamps the cluster wrote, so it reads the cluster's
clock, never this machine's: a CI runner's wall clock is often minutes off.

Each answer's `Date` header is the server's time in whole seconds, cut
down: the server's time when the answer arrived was at least that. Taken
against this process's monotonic clock, every answer bounds the offset
between the two from below; the clock keeps the best bound seen. Reading
it needs no request, stays within about a second of the server's time,
and never follows a change of this machine's wall clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime


class ServerClock:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._offset: float | None = None  # server time (epoch seconds) minus monotonic time
        self._lock = threading.Lock()

    def observe(self, date: str | None, received: float | None = None) -> None:
        """Learn from one answer's `Date` header, received at monotonic time `received`."""
        server = parse_date(date)
        if server is None:
            return
        received = self._monotonic() if received is None else received
        bound = server.timestamp() - received
        with self._lock:
            if self._offset is None or bound > self._offset:
                self._offset = bound

    @property
    def known(self) -> bool:
        return self._offset is not None

    def now(self) -> datetime | None:
        """The server's time now (within about a second), or None before any answer."""
        with self._lock:
            offset = self._offset
        if offset is None:
            return None
        return datetime.fromtimestamp(0, UTC) + timedelta(seconds=self._monotonic() + offset)


def parse_date(date: str | None) -> datetime | None:
    """An HTTP `Date` header as an aware datetime; None when absent or malformed."""
    if not date:
        return None
    try:
        parsed = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
