"""The watch stream: newline-delimited JSON events, read as the bytes arrive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from deployctl.model import Obj

from .errors import Gone, KubeError
from .limits import RETRYABLE_STATUS


def read_events(response: Any, kind: str) -> Iterator[tuple[str, Obj]]:
    """(event type, object) pairs of a watch's open stream; Gone on a stale version.

    Ends early, without an error, where the caller should resume from the
    last resourceVersion it saw: an event cut mid-way, a transient ERROR.
    """
    for line in _lines(response):
        try:
            event = json.loads(line)
        except ValueError:
            return  # cut mid-event: the caller resumes from the last version
        kind_, obj = event.get("type"), event.get("object") or {}
        if kind_ == "ERROR":
            if obj.get("code") == 410:
                raise Gone(f"watch {kind}: resourceVersion expired", 410, obj)
            if obj.get("code") in RETRYABLE_STATUS:
                return
            raise KubeError(f"watch {kind}: {obj.get('message')}", obj.get("code"), obj)
        yield kind_, obj


def _lines(response: Any) -> Iterator[bytes]:
    """Newline-delimited JSON of a watch stream, as the bytes arrive."""
    pending = b""
    for chunk in response.stream(64 * 1024, decode_content=True):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
    if pending.strip():
        yield pending
