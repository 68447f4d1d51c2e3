"""What the kind modules share: where their state lives."""

from __future__ import annotations

from pathlib import Path

from deployctl.cluster import binaries


def state_dir() -> Path:
    """dockerd's log and pid, the host's recorded sysctls."""
    return binaries.cache_dir() / "kind"
