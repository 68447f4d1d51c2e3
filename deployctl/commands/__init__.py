"""The commands, as library calls: one small module per family.

- `target`: where a command points (project, profile, flags) and consent;
- `session`: the locked run that `up`, `rollout`, `rollback` and `down` share;
- `up`, `rollout` (with its automatic rollback), `rollback`, `status`, `down`;
- `inspect`: the read-only `plan`, `diff` and `history`.

Each returns a `Result`: an exit status, the JSON document of `--output json`,
and the text a person reads. The CLI only parses flags, prints and exits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployctl.errors import ExitStatus


@dataclass
class Result:
    status: ExitStatus
    document: dict[str, Any]
    text: str | None = None  # stdout without --output json; None: the document says it all
