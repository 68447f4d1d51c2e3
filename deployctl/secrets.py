"""Secrets: declared once in `manifests/secrets.yaml`, valued per environment at deploy time.

No Secret value is ever committed. For each key, the value comes from, in
order: an environment variable of the same name; the profile's env file;
for a profile with `generate: true` (dev), the value already stored in the
cluster, else a new random value — generated once and then always reused, so
a kept database volume keeps matching its password. A value that none of
these supplies is an error before anything is applied.
"""

from __future__ import annotations

import base64
import re
import secrets as random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deployctl import model
from deployctl.errors import ConfigError
from deployctl.profile import Profile

MASK = "<masked>"
GENERATED_LATER = "<generated on first deploy>"

DECLARATION = Path("manifests") / "secrets.yaml"
GENERATED_ANNOTATION = model.GENERATED_ANNOTATION
PART_OF = "ai-agent-orchestrator"
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

Values = dict[str, dict[str, str]]


@dataclass(frozen=True)
class SecretSpec:
    name: str
    component: str
    keys: tuple[str, ...]


def load_specs(project: Path) -> list[SecretSpec]:
    path = project / DECLARATION
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{DECLARATION}: not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{DECLARATION}: expected a mapping of Secret name: {{component, keys}}")
    specs = []
    for name, body in data.items():
        where = f"{DECLARATION}: {name}"
        if not _NAME.match(str(name)):
            raise ConfigError(f"{where}: not a valid Secret name")
        if not isinstance(body, dict) or set(body) - {"component", "keys"}:
            raise ConfigError(f"{where}: expected `component` and `keys` only")
        keys = body.get("keys")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise ConfigError(f"{where}.keys: expected a non-empty list of key names")
        if not isinstance(body.get("component"), str):
            raise ConfigError(f"{where}.component: missing; name the component it belongs to")
        specs.append(SecretSpec(str(name), body["component"], tuple(keys)))
    all_keys = [k for s in specs for k in s.keys]
    duplicates = sorted({k for k in all_keys if all_keys.count(k) > 1})
    if duplicates:
        raise ConfigError(
            f"{DECLARATION}: key {duplicates[0]} is declared twice; a key names one value"
        )
    return specs


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines; blank lines and # comments skipped; surrounding quotes removed."""
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it ({error})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if not match:
            raise ConfigError(f"{path}: line {number}: expected KEY=value")
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def resolve(
    specs: list[SecretSpec],
    profile: Profile,
    environ: Mapping[str, str],
    stored: Mapping[str, Mapping[str, str]] | None = None,
    *,
    offline: bool = False,
) -> tuple[Values, dict[str, list[str]]]:
    """Every declared value, and which keys of which Secret were generated now or before.

    `offline` (no cluster to read stored values from): a value that would be
    generated is shown as such instead.
    """
    from_file: dict[str, str] = {}
    env_file = profile.secrets.env_file
    if env_file is not None and env_file.is_file():
        from_file = read_env_file(env_file)
    stored = stored or {}
    values: Values = {}
    generated: dict[str, list[str]] = {}
    missing: list[str] = []
    for spec in specs:
        values[spec.name] = {}
        for key in spec.keys:
            value = environ.get(key) or from_file.get(key)
            if not value and profile.secrets.generate:
                value = stored.get(spec.name, {}).get(key) or (
                    GENERATED_LATER if offline else random.token_urlsafe(24)
                )
                generated.setdefault(spec.name, []).append(key)
            if not value:
                missing.append(key)
                continue
            values[spec.name][key] = value
    if missing:
        where = f"{env_file.name} or " if env_file else ""
        raise ConfigError(
            f"{profile.path}: secrets: no value for {', '.join(missing)}; "
            f"set {where}environment variables of those names (see .env.example)"
        )
    return values, generated


def placeholders(specs: list[SecretSpec]) -> Values:
    """Masked stand-ins, so render, plan and diff work without the values."""
    return {spec.name: dict.fromkeys(spec.keys, MASK) for spec in specs}


def secret_objects(
    specs: list[SecretSpec],
    values: Values,
    namespace: str,
    generated: Mapping[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    objects = []
    for spec in specs:
        metadata: dict[str, Any] = {
            "name": spec.name,
            "namespace": namespace,
            "labels": {
                model.PART_OF_LABEL: PART_OF,
                model.NAME_LABEL: spec.name,
                model.COMPONENT_LABEL: spec.component,
            },
        }
        if generated and generated.get(spec.name):
            metadata["annotations"] = {GENERATED_ANNOTATION: ",".join(generated[spec.name])}
        data = {
            key: value
            if value in (MASK, GENERATED_LATER)
            else base64.b64encode(value.encode()).decode()
            for key, value in values[spec.name].items()
        }
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": metadata,
                "type": "Opaque",
                "data": data,
            }
        )
    return objects


def decode(secret: Mapping[str, Any]) -> dict[str, str]:
    """The values of a live Secret object."""
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
