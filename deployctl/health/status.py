"""The verdict on one object, and the small readers every rule shares.

Field readers follow kstatus's (sigs.k8s.io/cli-utils pkg/kstatus/status,
util.go): a missing or mistyped field is its default, and the API server
omits a zero count, so a missing count is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from deployctl.model import Obj


class HealthState(Enum):
    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    TERMINATING = "Terminating"


@dataclass(frozen=True)
class HealthStatus:
    state: HealthState
    message: str = ""  # what a user reads
    reason: str = ""  # a CamelCase cause for code to test, where one is known (kstatus's names)

    @property
    def healthy(self) -> bool:
        return self.state is HealthState.CURRENT

    @property
    def failed(self) -> bool:
        return self.state is HealthState.FAILED


def current(message: str = "", reason: str = "") -> HealthStatus:
    return HealthStatus(HealthState.CURRENT, message, reason)


def in_progress(message: str, reason: str = "") -> HealthStatus:
    return HealthStatus(HealthState.IN_PROGRESS, message, reason)


def failed(message: str, reason: str = "") -> HealthStatus:
    return HealthStatus(HealthState.FAILED, message, reason)


def terminating(message: str) -> HealthStatus:
    return HealthStatus(HealthState.TERMINATING, message, "Terminating")


def meta_of(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def spec_of(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def status_of(obj: Obj) -> Obj:
    return obj.get("status") or {}


def count(fields: Obj, key: str, default: int = 0) -> int:
    """An integer field; its default when missing or not an integer."""
    value = fields.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def conditions(obj: Obj) -> list[Obj]:
    return [c for c in status_of(obj).get("conditions") or [] if isinstance(c, dict)]


def condition(obj: Obj, kind: str) -> Obj | None:
    """The first status condition of this type, or None."""
    return next((c for c in conditions(obj) if c.get("type") == kind), None)


def condition_is(obj: Obj, kind: str, value: str = "True") -> Obj | None:
    """The condition of this type when its status is `value`, else None."""
    found = condition(obj, kind)
    return found if found and found.get("status") == value else None


def described(cond: Obj, fallback: str) -> str:
    """A condition as a person reads it: "Reason: message", or whichever of them is set."""
    reason, message = cond.get("reason") or "", (cond.get("message") or "").strip()
    if reason and message:
        return f"{reason}: {message}"
    return reason or message or fallback


def parse_time(text: str | None) -> datetime | None:
    if not text or not isinstance(text, str):
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
