"""Progress a person can follow: a live table on a terminal, timestamped lines in CI logs,
and the JSON report (`--output json`) at the end. Human text goes to stderr."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

STATE_STYLE = {
    "pending": "dim",
    "applying": "cyan",
    "waiting": "yellow",
    "healthy": "green",
    "failed": "bold red",
    "not-started": "magenta",
    "stopped": "magenta",
}


class ComponentView(Protocol):
    name: str
    state: str
    message: str
    started: float | None
    finished: float | None


class Reporter:
    """Plain, timestamped lines: what CI logs and pipes get."""

    PROGRESS_EVERY = 10.0  # seconds between repeated "still waiting" lines of a component

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, float]] = {}

    def _line(self, text: str) -> None:
        if self.quiet:
            return
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        with self._lock:
            print(f"{stamp} {text}", file=self.stream, flush=True)

    def info(self, text: str) -> None:
        self._line(text)

    def object(self, ref: str, action: str) -> None:
        verb = {"create": "created", "update": "configured", "prune": "pruned"}.get(action, action)
        self._line(f"{ref} {verb}")

    def component(self, result: ComponentView) -> None:
        now = time.monotonic()
        last_state, last_time = self._last.get(result.name, ("", 0.0))
        if result.state == last_state and now - last_time < self.PROGRESS_EVERY:
            return  # a log line per change of state, and a reminder now and then
        self._last[result.name] = (result.state, now)
        duration = ""
        if result.started is not None and result.finished is not None:
            duration = f" in {result.finished - result.started:.1f} s"
        message = f": {result.message}" if result.message else ""
        self._line(f"{result.name} {result.state}{duration}{message}")

    def start(self, components: list[str]) -> None:
        pass

    def close(self) -> None:
        pass


class LiveReporter(Reporter):
    """A rich live table of components, with object changes printed above it."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console

        self.console = Console(stderr=True)
        self.rows: dict[str, ComponentView] = {}
        self.live: Any = None

    def _table(self):
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in ("component", "state", "time", "detail"):
            table.add_column(column)
        now = time.monotonic()
        for row in self.rows.values():
            elapsed = ""
            if row.started is not None:
                elapsed = f"{(row.finished or now) - row.started:.1f}s"
            style = STATE_STYLE.get(row.state, "")
            table.add_row(row.name, f"[{style}]{row.state}[/]", elapsed, row.message[:120])
        return table

    def start(self, components: list[str]) -> None:
        from types import SimpleNamespace

        from rich.live import Live

        for name in components:  # every component has a row from the start
            self.rows.setdefault(
                name,
                SimpleNamespace(
                    name=name, state="pending", message="", started=None, finished=None
                ),
            )
        self.live = Live(self._table(), console=self.console, refresh_per_second=4)
        self.live.start()

    def _line(self, text: str) -> None:
        with self._lock:
            self.console.print(text, markup=False, highlight=False)

    def component(self, result: ComponentView) -> None:
        with self._lock:
            self.rows[result.name] = result
            if self.live is not None:
                self.live.update(self._table())
        if result.state in ("failed", "healthy", "not-started", "stopped"):
            super().component(result)

    def close(self) -> None:
        if self.live is not None:
            with self._lock:
                self.live.update(self._table())
            self.live.stop()


def make_reporter(json_output: bool) -> Reporter:
    if not json_output and sys.stderr.isatty():
        return LiveReporter()
    return Reporter()


def emit_json(document: dict[str, Any]) -> None:
    """The one JSON document on stdout."""
    print(json.dumps(document, indent=2, sort_keys=False))
