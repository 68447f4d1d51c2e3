"""kustomize's output is reused only while every file it reads is unchanged."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from deployctl import render, rendercache


@pytest.fixture
def kustomize(tmp_path: Path, monkeypatch) -> Path:
    """A stand-in kustomize that counts its runs and prints one ConfigMap per call."""
    calls = tmp_path / "calls"
    script = tmp_path / "kustomize"
    script.write_text(
        "#!/bin/sh\n"
        f"echo run >> {calls}\n"
        'printf "apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: settings\\n"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("DEPLOYCTL_KUSTOMIZE", str(script))
    monkeypatch.setenv("DEPLOYCTL_CACHE_DIR", str(tmp_path / "cache"))
    return calls


def project(root: Path, overlay_text: str = "resources: [../../base]\n") -> Path:
    base = root / "manifests" / "base"
    overlay = root / "manifests" / "overlays" / "dev"
    base.mkdir(parents=True)
    overlay.mkdir(parents=True)
    (base / "kustomization.yaml").write_text("resources: [settings.yaml]\n")
    (base / "settings.yaml").write_text("kind: ConfigMap\n")
    (overlay / "kustomization.yaml").write_text(overlay_text)
    return overlay


def builds(calls: Path) -> int:
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def test_an_unchanged_overlay_is_rendered_once_and_a_changed_file_renders_again(
    tmp_path, kustomize
) -> None:
    overlay = project(tmp_path / "p")

    first = render._kustomize_build(overlay)
    again = render._kustomize_build(overlay)
    (tmp_path / "p" / "manifests" / "base" / "settings.yaml").write_text("kind: Secret\n")
    changed = render._kustomize_build(overlay)

    assert (
        first
        == again
        == changed
        == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}]
    )
    assert builds(kustomize) == 2  # the first, and after the change


@pytest.mark.parametrize(
    "overlay_text",
    [
        "resources: [https://github.com/example/app//deploy?ref=v1]\n",
        "resources: [github.com/example/app/deploy]\n",
        "resources: [../../../elsewhere]\n",
        "generators: [plugin.yaml]\nresources: [../../base]\n",
        "helmCharts: [{name: redis}]\n",
    ],
)
def test_inputs_outside_the_manifests_folder_or_plugins_are_never_cached(
    tmp_path, kustomize, overlay_text
) -> None:
    overlay = project(tmp_path / "p", overlay_text)

    assert rendercache.key(overlay, [os.environ["DEPLOYCTL_KUSTOMIZE"]]) is None
    render._kustomize_build(overlay)
    render._kustomize_build(overlay)
    assert builds(kustomize) == 2


def test_image_names_and_labels_with_slashes_do_not_count_as_paths(tmp_path, kustomize) -> None:
    overlay = project(
        tmp_path / "p",
        "resources: [../../base]\nimages: [{name: ghcr.io/team/app, newTag: v2}]\n"
        "labels: [{pairs: {app.kubernetes.io/part-of: stack}}]\n",
    )

    assert rendercache.key(overlay, [os.environ["DEPLOYCTL_KUSTOMIZE"]]) is not None


def test_a_symbolic_link_in_the_manifests_turns_the_cache_off(tmp_path, kustomize) -> None:
    overlay = project(tmp_path / "p")
    shared = tmp_path / "shared"
    shared.mkdir()
    (tmp_path / "p" / "manifests" / "common").symlink_to(shared)

    assert rendercache.key(overlay, [os.environ["DEPLOYCTL_KUSTOMIZE"]]) is None
