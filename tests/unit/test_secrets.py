"""Secret values: where they come from, generation once, masking."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from deployctl.errors import ConfigError
from deployctl.present import mask_secrets
from deployctl.profile import Profile, SecretsSource, Source
from deployctl.secrets import SecretSpec, read_env_file, resolve, secret_objects

SPECS = [SecretSpec("db-credentials", "db", ("DB_PASSWORD", "DB_USER"))]


def profile(tmp_path: Path, generate: bool, env_file: str | None = None) -> Profile:
    return Profile(
        name="dev",
        path=Path("environments/dev.yaml"),
        source=Source(tmp_path),
        context="c",
        namespace="n",
        secrets=SecretsSource(tmp_path / env_file if env_file else None, generate),
    )


def test_environment_variables_win_over_the_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text('# comment\nDB_USER=app\nexport DB_PASSWORD="from-file"\n')

    values, generated = resolve(
        SPECS, profile(tmp_path, False, ".env"), {"DB_PASSWORD": "from-env"}
    )

    assert values == {"db-credentials": {"DB_PASSWORD": "from-env", "DB_USER": "app"}}
    assert generated == {}


def test_a_missing_value_is_an_error_naming_the_keys_and_where_to_put_them(tmp_path) -> None:
    with pytest.raises(ConfigError) as error:
        resolve(SPECS, profile(tmp_path, False, ".env.staging"), {"DB_USER": "x"})

    assert "no value for DB_PASSWORD" in str(error.value)
    assert ".env.staging" in str(error.value)


def test_generated_values_are_reused_from_the_cluster_never_regenerated(tmp_path) -> None:
    dev = profile(tmp_path, True)
    first, generated = resolve(SPECS, dev, {})
    again, _ = resolve(SPECS, dev, {}, stored=first)

    assert again == first
    assert generated == {"db-credentials": ["DB_PASSWORD", "DB_USER"]}
    assert len(first["db-credentials"]["DB_PASSWORD"]) >= 24


def test_secret_objects_carry_values_encoded_and_render_masks_them(tmp_path: Path) -> None:
    values = {"db-credentials": {"DB_PASSWORD": "s3cret", "DB_USER": "app"}}
    secret = secret_objects(SPECS, values, "ns")[0]

    assert base64.b64decode(secret["data"]["DB_PASSWORD"]).decode() == "s3cret"
    assert secret["metadata"]["labels"]["app.kubernetes.io/component"] == "db"
    masked = mask_secrets([secret])[0]
    assert "s3cret" not in str(masked) and "YXBw" not in str(masked)
    assert secret["data"]["DB_PASSWORD"] != masked["data"]["DB_PASSWORD"]  # a copy was masked


def test_env_file_syntax_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\nnot a pair\n")

    with pytest.raises(ConfigError, match="line 2: expected KEY=value"):
        read_env_file(tmp_path / ".env")
