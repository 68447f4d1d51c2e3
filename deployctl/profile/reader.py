"""Reading one profile file: every defect a ConfigError naming the file and the field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from deployctl.errors import ConfigError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # a namespace, release or cluster name


def parse_duration(text: str | int | float) -> float:
    """'90s', '5m', '1h30m', '250ms' or a number of seconds -> seconds."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"{text!r} is negative")
        return float(text)
    text = str(text).strip()
    if not text or _DURATION.sub("", text):
        raise ValueError(f'"{text}" is not a duration (like 90s, 5m, 1h30m)')
    return sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))


class Reader:
    """Reads one profile's mapping, turning every defect into a located ConfigError."""

    def __init__(self, path: Path, display: Path) -> None:
        self.display = display
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark else "YAML"
            raise ConfigError(f"{display}: {where}: not valid YAML ({error})") from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"{display}: expected a mapping of settings, got {type(data).__name__}"
            )
        self.data: dict[str, Any] = data

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.display}: {where}: {message}")

    def string(
        self, key: str, *, required: bool = True, data: dict | None = None, prefix: str = ""
    ) -> str | None:
        source = self.data if data is None else data
        value = source.get(key)
        if value is None:
            if required:
                raise self.fail(prefix + key, "missing; add it")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(prefix + key, f"expected a non-empty string, got {value!r}")
        return value

    def boolean(self, key: str, data: dict | None = None, prefix: str = "") -> bool:
        source = self.data if data is None else data
        value = source.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(prefix + key, f"expected true or false, got {value!r}")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.data.get(key) or {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {type(value).__name__}")
        return value

    def duration(self, where: str, value: Any) -> float:
        try:
            return parse_duration(value)
        except ValueError as error:
            raise self.fail(where, str(error)) from None
