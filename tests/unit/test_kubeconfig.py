"""Loading a kubeconfig written here: the context asked for, whatever the current one says."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deployctl.kube import BadKubeconfig
from deployctl.kube.kubeconfig import api_client

SERVER = "https://127.0.0.1:6443"


def kubeconfig(tmp_path: Path, **current: str) -> Path:
    """A kubeconfig with one context, "sandbox"; `current` sets (or leaves out) current-context."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": SERVER}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "sandbox", "context": {"cluster": "c", "user": "u"}}],
        **{k.replace("_", "-"): v for k, v in current.items()},
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("current", [{"current_context": ""}, {"current_context": "b"}, {}])
def test_the_context_asked_for_loads_whatever_the_current_one_says(tmp_path, current) -> None:
    path = kubeconfig(tmp_path, **current)

    api = api_client("sandbox", path)

    assert api.configuration.host == SERVER
    assert yaml.safe_load(path.read_text()).get("current-context") == current.get(
        "current_context"
    )  # the file is left as it was


@pytest.mark.parametrize("current", ["", "b"])
def test_without_a_context_an_empty_or_stale_current_one_is_one_line_naming_the_file(
    tmp_path, current
) -> None:
    path = kubeconfig(tmp_path, current_context=current)

    with pytest.raises(BadKubeconfig) as refused:
        api_client(None, path)

    message = str(refused.value)
    assert str(path) in message and f"current-context {current!r}" in message
    assert "--context" in message and "\n" not in message
    assert api_client(None, kubeconfig(tmp_path, current_context="sandbox")).configuration.host


def test_an_unknown_context_names_the_ones_there_are(tmp_path) -> None:
    with pytest.raises(BadKubeconfig, match=r'no context "nope" \(it has: sandbox\)'):
        api_client("nope", kubeconfig(tmp_path, current_context=""))


def test_a_yaml_file_that_is_no_kubeconfig_is_one_line(tmp_path) -> None:
    path = tmp_path / "config"
    path.write_text("- a\n- b\n")

    with pytest.raises(BadKubeconfig, match="not a kubeconfig"):
        api_client("sandbox", path)
