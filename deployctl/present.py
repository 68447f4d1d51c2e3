"""Everything a person reads: progress, the reports' text, and masked Secrets.

Progress is a live table on a terminal and timestamped lines in CI logs; the
JSON report (`--output json`) goes to stdout at the end. Human text goes to
stderr. What the terminal can do comes in as an `Environment`, read once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets as random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from deployctl.images import repository
from deployctl.model import FINISHED_STATES, ComponentState
from deployctl.secrets import MASK

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass(frozen=True)
class Environment:
    """The facts about where deployctl runs, read once at start (httpie's Environment)."""

    stdin_tty: bool = False
    stderr_tty: bool = False
    color: bool = True
    verbose: bool = False
    environ: dict[str, str] = field(default_factory=dict)

    @classmethod
    def detect(cls, no_color: bool = False, verbose: bool = False) -> Environment:
        environ = dict(os.environ)
        return cls(
            stdin_tty=sys.stdin.isatty(),
            stderr_tty=sys.stderr.isatty(),
            color=not (no_color or environ.get("NO_COLOR")),
            verbose=verbose,
            environ=environ,
        )


STATE_STYLE = {
    ComponentState.PENDING: "dim",
    ComponentState.APPLYING: "cyan",
    ComponentState.WAITING: "yellow",
    ComponentState.HEALTHY: "green",
    ComponentState.FAILED: "bold red",
    ComponentState.NOT_STARTED: "magenta",
    ComponentState.STOPPED: "magenta",
}
VERBS = {"create": "created", "update": "configured", "replace": "replaced", "prune": "pruned"}


class ComponentView(Protocol):
    name: str
    state: str
    message: str
    started: float | None
    finished: float | None


class Reporter:
    """Plain, timestamped lines: what CI logs and pipes get."""

    PROGRESS_EVERY = 10.0  # at most one line per component this often, as its news changes
    HEARTBEAT = 30.0  # with no news, a line this often, so a CI log never looks hung

    def __init__(self, stream: TextIO | None = None, quiet: bool = False, prefix: str = "") -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.prefix = prefix
        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, str, float]] = {}

    def for_cluster(self, name: str) -> Reporter:
        """Plain lines that name the cluster: several clusters deploy side by side (one
        lock for all of them, so their lines never run together)."""
        child = Reporter(self.stream, self.quiet, prefix=f"{self.prefix}{name}: ")
        child._lock = self._lock
        return child

    def _line(self, text: str) -> None:
        if self.quiet:
            return
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        with self._lock:
            self.stream.write(f"{stamp} {self.prefix}{text}\n")
            self.stream.flush()

    def info(self, text: str) -> None:
        self._line(text)

    def object(self, ref: str, action: str) -> None:
        self._line(f"{ref} {VERBS.get(action, action)}")

    def component(self, result: ComponentView) -> None:
        """Called on every change, and every second while a component waits."""
        now = time.monotonic()
        last_state, last_message, last_time = self._last.get(result.name, ("", "", 0.0))
        state = result.state
        if state == last_state:
            quiet_for = now - last_time
            if result.message != last_message and quiet_for < self.PROGRESS_EVERY:
                return
            if result.message == last_message and quiet_for < self.HEARTBEAT:
                return
            if result.message == last_message and result.started is not None:
                state = f"still {state} after {now - result.started:.0f} s"
        self._last[result.name] = (result.state, result.message, now)
        duration = ""
        if result.started is not None and result.finished is not None:
            duration = f" in {result.finished - result.started:.1f} s"
        message = f": {result.message}" if result.message else ""
        self._line(f"{result.name} {state}{duration}{message}")

    def start(self, components: list[str]) -> None:
        pass

    def close(self) -> None:
        pass


class LiveReporter(Reporter):
    """A rich live table of components, above it a count of changed objects per kind
    (one line per object with `verbose`)."""

    def __init__(self, environment: Environment | None = None) -> None:
        super().__init__()
        from rich.console import Console

        environment = environment or Environment()
        self.console = Console(stderr=True, no_color=not environment.color)
        self.verbose = environment.verbose
        self.rows: dict[str, ComponentView] = {}
        self.shown: dict[str, tuple[str, str]] = {}  # each row's state and message, as drawn
        self.drawn = 0.0  # when the table was last rebuilt
        self.counts: Counter[tuple[str, str]] = Counter()
        self.live: Any = None

    def object(self, ref: str, action: str) -> None:
        if self.verbose:
            super().object(ref, action)
            return
        with self._lock:
            self.counts[(VERBS.get(action, action), ref.split("/", 1)[0])] += 1
            if self.live is not None:
                self.live.update(self._view())

    def _summary(self) -> str:
        by_verb: dict[str, list[str]] = {}
        for (verb, kind), count in sorted(self.counts.items()):
            by_verb.setdefault(verb, []).append(f"{count} {kind}")
        return "; ".join(f"{verb} {', '.join(kinds)}" for verb, kinds in by_verb.items())

    def _view(self):
        from rich.console import Group
        from rich.text import Text

        if not self.counts:
            return self._table()
        return Group(Text(self._summary()), self._table())

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
        self.live = Live(self._view(), console=self.console, refresh_per_second=4)
        self.live.start()

    def _line(self, text: str) -> None:
        with self._lock:
            self.console.print(text, markup=False, highlight=False)

    def component(self, result: ComponentView) -> None:
        """Called on every change and every second per waiting component: the table is
        rebuilt when a row changed, else once a second for the elapsed times."""
        now = time.monotonic()
        with self._lock:
            self.rows[result.name] = result
            row = (result.state, result.message)
            changed = self.shown.get(result.name) != row
            self.shown[result.name] = row
            if self.live is not None and (changed or now - self.drawn >= 1.0):
                self.drawn = now
                self.live.update(self._view())
        if result.state in FINISHED_STATES:
            super().component(result)

    def close(self) -> None:
        if self.live is not None:
            with self._lock:
                self.live.update(self._view())
            self.live.stop()
            self.live = None
        elif self.counts:  # objects changed, but nothing was waited for
            self.console.print(self._summary(), markup=False, highlight=False)
        self.counts.clear()


def make_reporter(json_output: bool, environment: Environment | None = None) -> Reporter:
    environment = environment or Environment.detect()
    if not json_output and environment.stderr_tty:
        return LiveReporter(environment)
    return Reporter()


def emit_json(document: dict[str, Any]) -> None:
    """The one JSON document on stdout."""
    print(json.dumps(document, indent=2, sort_keys=False))


# -- Secret values ------------------------------------------------------------------------


class Masker:
    """Copies of objects with every Secret value hidden, and kubectl's last-applied copy
    of a Secret (its values in clear) dropped.

    `keyed` (diff): each value becomes a keyed digest, so equal values look equal
    and changed ones differ, while none is revealed; the key lives for one run.
    """

    def __init__(self, keyed: bool = False) -> None:
        self.key = random.token_bytes(16) if keyed else None

    def _hide(self, value: Any) -> str:
        if self.key is None:
            return MASK
        return (
            "<masked "
            + hmac.new(self.key, str(value).encode(), hashlib.sha256).hexdigest()[:8]
            + ">"
        )

    def __call__(self, obj: dict[str, Any]) -> dict[str, Any]:
        if obj.get("kind") != "Secret":
            return obj
        masked = dict(obj)
        metadata = dict(masked.get("metadata") or {})
        annotations = dict(metadata.get("annotations") or {})
        if annotations.pop(LAST_APPLIED, None) is not None:
            metadata["annotations"] = annotations
            masked["metadata"] = metadata
        for key in ("data", "stringData"):
            if masked.get(key):
                masked[key] = {k: self._hide(v) for k, v in masked[key].items()}
        return masked

    def all(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self(o) for o in objects]


def mask_secrets(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return Masker().all(objects)


# -- the text of the reports ----------------------------------------------------------------


def format_plan(document: dict[str, Any]) -> str:
    kinds = ", ".join(f"{count} {kind}" for kind, count in document["foundation"].items())
    lines = [f"foundation: {kinds}"]
    for number, wave in enumerate(document["waves"], start=1):
        described = []
        for name in wave:
            after = document["dependencies"][name]
            described.append(name + (f" (after {', '.join(after)})" if after else ""))
        lines.append(f"wave {number}: " + ", ".join(described))
    for row in document["objects"]:
        if row["action"] != "unchanged":
            lines.append(f"  {row['action']:9} {row['object']}")
    if not document["changed"]:
        lines.append("no changes")
    return "\n".join(lines)


def short_image(image: str) -> str:
    return image.rsplit("/", 1)[-1]


def _tag(image: str) -> str:
    return image[len(repository(image)) + 1 :] or image


def image_changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> str:
    """What changed between two revisions' images: `api v1 → v2`, `+worker v1`, `-old`.

    Each image once per component, even when two containers run it.
    """
    parts = []
    for component in sorted(set(before) | set(after)):
        old = list(dict.fromkeys(before.get(component, [])))
        new = list(dict.fromkeys(after.get(component, [])))
        if old == new:
            continue
        if not old:
            parts.append(f"+{component} " + ", ".join(short_image(i) for i in new))
        elif not new:
            parts.append(f"-{component}")
        else:
            gone = [i for i in old if i not in new]
            came = [i for i in new if i not in old]
            if len(gone) == len(came) == 1 and repository(gone[0]) == repository(came[0]):
                gone, came = [_tag(gone[0])], [_tag(came[0])]  # orchestrator v2.0.0 → v2.0.1
            else:
                gone, came = [short_image(i) for i in gone], [short_image(i) for i in came]
            parts.append(f"{component} {', '.join(gone)} → {', '.join(came)}")
    return "; ".join(parts)


def format_history(document: dict[str, Any]) -> str:
    lines = [f"{'REV':>4}  {'TIME':25}  {'USER':24}  {'ACTION':9}  {'RESULT':12}  CHANGES"]
    previous: dict[str, list[str]] = {}
    for row in document["revisions"]:
        changes = image_changes(previous, row["images"]) if previous else ""
        if not previous:
            changes = ", ".join(
                f"{c} " + ", ".join(dict.fromkeys(short_image(i) for i in images))
                for c, images in sorted(row["images"].items())
            )
        previous = row["images"]
        note = f" ({row['note']})" if row.get("note") else ""
        ran = [f"{m['component']} (Job {m['job']})" for m in row.get("migrations") or []]
        if ran:
            note += f"; migrated {', '.join(ran)}"
        lines.append(
            f"{row['revision']:>4}  {row['time']:25}  {row['user'][:24]:24}  "
            f"{row['action']:9}  {row['result']:12}  {changes or 'no image change'}{note}"
        )
    if not document["revisions"]:
        lines.append(f"no revisions recorded for {document['environment']}")
    return "\n".join(lines)


def format_fleet(document: dict[str, Any]) -> str:
    """An environment across clusters: each cluster's text under its name. Where the
    clusters run different revisions, the first line says so, cluster by cluster."""
    clusters = document["clusters"]
    lines = []
    numbers = {n: e["revision"] for n, e in clusters.items() if "revision" in e}
    if numbers:
        differ = len(set(numbers.values())) > 1
        lines.append(
            f"environment {document['environment']}: revision "
            + ", ".join(f"{n} {r or 'none'}" for n, r in numbers.items())
            + (" (the clusters differ)" if differ else "")
        )
    for name, entry in clusters.items():
        lines.append(f"== {name} (stage {entry['stage']}, context {entry['context']})")
        if entry.get("result") == "skipped":
            lines.append(f"skipped: {entry['note']}")
        elif "diff" in entry and not entry["diff"]:
            lines.append("no differences")
        else:
            lines.append(entry.get("text", "").rstrip("\n"))
    return "\n".join(lines) + "\n"


def format_status(document: dict[str, Any]) -> str:
    lines = [
        f"environment {document['environment']} (namespace {document['namespace']}), "
        + (f"revision {document['revision']}" if document["revision"] else "not deployed")
    ]
    for row in document["components"]:
        ready = f"{row.get('ready', 0)}/{row.get('desired', '?')}"
        images = ", ".join(dict.fromkeys(short_image(i) for i in row.get("images", [])))
        lines.append(
            f"  {row['component']:14} {row['kind']:12} {ready:6} {row['health']:11} {images}"
            + (f"  {row['message']}" if row["health"] != "Current" else "")
        )
        lines += [f"      ! {p}" for p in row["problems"]]
    return "\n".join(lines)
