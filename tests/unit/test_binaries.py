"""Pure parts of the binary builder: versions, go.mod pins, cache layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployctl.cluster import binaries, versions

KUBERNETES_GOMOD = """\
module k8s.io/kubernetes

require (
	github.com/spf13/cobra v1.9.1
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0
	k8s.io/kube-openapi v0.0.0-20250710124328-f3f2b991d03b
)

require (
	k8s.io/kms v0.0.0 // indirect
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
)
"""


def test_staging_version_maps_the_kubernetes_release_to_v0() -> None:
    assert versions.staging_version("v1.34.4") == "v0.34.4"
    assert versions.staging_version("v1.36.10") == "v0.36.10"


def test_staging_modules_are_pinned_and_ordinary_modules_left_alone() -> None:
    replaces = binaries.staging_replaces(KUBERNETES_GOMOD, "v1.34.4")

    assert replaces == [
        "replace k8s.io/api => k8s.io/api v0.34.4",
        "replace k8s.io/client-go => k8s.io/client-go v0.34.4",
    ]


def test_cache_dir_honours_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEPLOYCTL_CACHE_DIR", str(tmp_path / "c"))
    assert binaries.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("DEPLOYCTL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert binaries.cache_dir() == tmp_path / "xdg" / "deployctl"


def test_toolset_paths_are_versioned_and_an_incomplete_folder_counts_as_missing(tmp_path) -> None:
    tools = binaries.Toolset(tmp_path)
    assert tools.kube_apiserver == tmp_path / f"kubernetes-{versions.KUBERNETES}" / "kube-apiserver"
    assert tools.etcd == tmp_path / f"etcd-{versions.ETCD}" / "etcd"

    (tmp_path / f"etcd-{versions.ETCD}").mkdir()
    (tmp_path / f"etcd-{versions.ETCD}" / "etcd").touch()  # no .complete marker: a broken build
    assert binaries.ETCD in tools.missing()

    (tmp_path / f"etcd-{versions.ETCD}" / ".complete").touch()
    assert binaries.ETCD not in tools.missing()


def test_helm_is_built_on_demand_only_and_stamped_with_its_version(tmp_path) -> None:
    tools = binaries.Toolset(tmp_path)
    for build in binaries.BUILDS:
        (tmp_path / build.folder).mkdir()
        (tmp_path / build.folder / ".complete").touch()

    assert binaries.HELM not in binaries.BUILDS  # the sandbox stays lean
    assert tools.missing() == [] and not tools.has(binaries.HELM)
    assert tools.helm == tmp_path / f"helm-{versions.HELM}" / "helm"
    assert f"-X helm.sh/helm/v4/internal/version.version={versions.HELM}" in binaries.HELM.ldflags


@pytest.mark.parametrize("tool", [binaries.HELM, binaries.PROMTOOL, binaries.KUBE_SCORE])
def test_ensure_tool_builds_once_then_uses_the_cache(monkeypatch, tmp_path, tool) -> None:
    monkeypatch.setenv("DEPLOYCTL_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(binaries.shutil, "which", lambda name: f"/usr/bin/{name}")
    built = []

    def build(what, root, progress):
        built.append(what)
        (root / what.folder).mkdir(parents=True)
        (root / what.folder / ".complete").touch()

    monkeypatch.setattr(binaries, "_build", build)

    first = binaries.ensure_tool(tool, progress=lambda _: None)
    second = binaries.ensure_tool(tool, progress=lambda _: None)

    assert built == [tool]  # one tool asked for builds no other, and only once
    assert first.has(tool) and second.has(tool)


def test_prometheus_module_versions_map_back_to_their_release() -> None:
    # scripts/get_module_version.sh in Prometheus: 3.16.0 -> v0.316.0, 2.55.1 -> v0.55.1
    assert versions.prometheus_release("v0.316.0") == "3.16.0"
    assert versions.prometheus_release("v0.300.1") == "3.0.1"
    assert versions.prometheus_release("v0.55.1") == "2.55.1"


def test_promtool_and_kube_score_are_built_on_demand_only_and_stamped(tmp_path) -> None:
    tools = binaries.Toolset(tmp_path)
    for build in binaries.BUILDS:
        (tmp_path / build.folder).mkdir()
        (tmp_path / build.folder / ".complete").touch()

    for tool in (binaries.PROMTOOL, binaries.KUBE_SCORE):
        assert tool not in binaries.BUILDS  # the sandbox stays lean
        assert not tools.has(tool)
    assert tools.missing() == []
    assert tools.promtool == tmp_path / f"promtool-{versions.PROMETHEUS}" / "promtool"
    assert tools.kube_score == tmp_path / f"kube-score-{versions.KUBE_SCORE}" / "kube-score"
    release = versions.prometheus_release(versions.PROMETHEUS)
    assert f"-X github.com/prometheus/common/version.Version={release}" in binaries.PROMTOOL.ldflags
    assert f"-X main.version={versions.KUBE_SCORE.lstrip('v')}" in binaries.KUBE_SCORE.ldflags
    assert binaries.PROMTOOL.packages == ("github.com/prometheus/prometheus/cmd/promtool",)
    assert binaries.KUBE_SCORE.packages == ("github.com/zegl/kube-score/cmd/kube-score",)
