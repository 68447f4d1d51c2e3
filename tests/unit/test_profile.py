"""Environment profiles: loading, defaults and located errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deployctl.errors import ConfigError
from deployctl.profile import load_all, load_profile, parse_duration

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
overlay: manifests/overlays/dev
context: kwok-deployctl
namespace: app-dev
default: true
timeouts: {component: 2m, unschedulable: 20s, components: {postgresql: 10m}}
order:
  postgresql: []
  worker: [postgresql]
secrets: {envFile: .env, generate: true}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "manifests/overlays/dev").mkdir(parents=True)
    (tmp_path / "manifests/overlays/dev/kustomization.yaml").write_text("resources: []\n")
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments/dev.yaml").write_text(GOOD)
    return tmp_path


def write(project: Path, text: str, env: str = "dev") -> None:
    (project / "environments" / f"{env}.yaml").write_text(text)


def test_a_valid_profile_loads_with_its_settings(project: Path) -> None:
    profile = load_profile(project, "dev")

    assert profile.namespace == "app-dev"
    assert profile.default and not profile.protected
    assert profile.timeout_for("postgresql") == 600
    assert profile.timeout_for("worker") == 120
    assert profile.unschedulable_grace == 20
    assert profile.order == {"postgresql": (), "worker": ("postgresql",)}
    assert profile.secrets.generate


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("namespace: app-dev", "namespace: App_Dev"), 'namespace: "App_Dev" is not a valid'),
        (("context: kwok-deployctl\n", ""), "context: missing"),
        (("default: true", "default: yes please"), "default: expected true or false"),
        (("component: 2m", "component: soon"), 'timeouts.component: "soon" is not a duration'),
        (("overlay: manifests/overlays/dev", "overlay: nowhere"), 'overlay: "nowhere" has no'),
        (("worker: [postgresql]", "worker: [worker]"), "order.worker: dependency cycle"),
        (("secrets:", "secretz:"), "secretz: unknown setting"),
    ],
)
def test_a_defect_is_reported_with_file_and_field(project: Path, change, message) -> None:
    write(project, GOOD.replace(*change))

    with pytest.raises(ConfigError) as error:
        load_profile(project, "dev")

    assert str(error.value).startswith("environments/dev.yaml: ")
    assert message in str(error.value)


def test_an_unknown_component_in_order_is_named_with_the_known_ones(project: Path) -> None:
    write(project, GOOD.replace("worker: [postgresql]", "worker: [wrker]"))
    profile = load_profile(project, "dev")

    with pytest.raises(ConfigError) as error:
        profile.check_components({"postgresql", "worker"})

    assert str(error.value) == (
        'environments/dev.yaml: order.worker: unknown component "wrker" (known: postgresql, worker)'
    )


def test_restarts_allowed_are_per_component_and_default_to_none(project: Path) -> None:
    write(project, GOOD + "restartsAllowed: {worker: 2, postgresql: 0}\n")

    profile = load_profile(project, "dev")

    assert profile.restarts_for("worker") == 2
    assert profile.restarts_for("postgresql") == 0
    assert load_profile(project, "dev").restarts_for("other") == 0
    profile.check_components({"postgresql", "worker"})


NOT_A_COUNT = "restartsAllowed.worker: expected a whole number of 0 or more"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("{worker: -1}", f"{NOT_A_COUNT}, got -1"),
        ("{worker: two}", f"{NOT_A_COUNT}, got 'two'"),
        ("{worker: 1.5}", f"{NOT_A_COUNT}, got 1.5"),
        ("{worker: true}", f"{NOT_A_COUNT}, got True"),
        ("[worker]", "restartsAllowed: expected a mapping, got list"),
    ],
)
def test_a_restarts_allowed_defect_is_one_located_line(project: Path, setting, message) -> None:
    write(project, GOOD + f"restartsAllowed: {setting}\n")

    with pytest.raises(ConfigError) as error:
        load_profile(project, "dev")

    assert str(error.value) == f"environments/dev.yaml: {message}"


def test_restarts_allowed_for_an_unknown_component_is_named(project: Path) -> None:
    write(project, GOOD + "restartsAllowed: {wrker: 2}\n")
    profile = load_profile(project, "dev")

    with pytest.raises(ConfigError) as error:
        profile.check_components({"postgresql", "worker"})

    assert str(error.value) == (
        "environments/dev.yaml: restartsAllowed.wrker: "
        'unknown component "wrker" (known: postgresql, worker)'
    )


def test_an_unknown_environment_lists_the_known_ones(project: Path) -> None:
    with pytest.raises(ConfigError, match=r'no such environment "prod" \(known: dev\)'):
        load_profile(project, "prod")


def test_two_profiles_on_one_cluster_and_namespace_are_a_configuration_error(project) -> None:
    write(project, GOOD.replace("default: true\n", ""), env="other")

    with pytest.raises(ConfigError, match="same cluster and namespace"):
        load_all(project)


def test_durations() -> None:
    assert parse_duration("1h30m") == 5400
    assert parse_duration("250ms") == 0.25
    assert parse_duration(15) == 15
    with pytest.raises(ValueError):
        parse_duration("5 minutes")


def test_the_shipped_profiles_are_valid_and_dev_is_the_default() -> None:
    profiles = {p.name: p for p in load_all(REPO)}

    assert set(profiles) == {"dev", "staging", "production", "staging-chart", "kind", "kind-real"}
    assert profiles["staging-chart"].source.chart  # staging, rendered from the Helm chart
    assert profiles["kind"].context == "kind-deployctl"  # dev, on kind, every image a stand-in
    assert [p.name for p in profiles.values() if p.default] == ["dev"]
    assert profiles["production"].protected
    assert profiles["dev"].secrets.generate and not profiles["production"].secrets.generate


def chart_project(project: Path) -> Path:
    (project / "chart").mkdir()
    (project / "chart/Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 1.0.0\n")
    (project / "chart/values-dev.yaml").write_text("replicas: 1\n")
    return project


def test_a_profile_may_render_a_helm_chart_with_its_values_files(project: Path) -> None:
    chart_project(project)
    base = GOOD.replace("overlay: manifests/overlays/dev", "chart: chart")
    write(project, base + "values: [chart/values-dev.yaml]\nrelease: app\n")

    source = load_profile(project, "dev").source

    assert source.chart and source.release == "app"
    assert source.path == project / "chart"
    assert source.values == (project / "chart/values-dev.yaml",)
    write(project, base + "values: chart/values-dev.yaml\n")
    assert load_profile(project, "dev").source.release == "dev"  # the environment's name


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("overlay: manifests/overlays/dev\n", "chart: give overlay: or chart:, not both"),
        ("values: [chart/missing.yaml]\n", 'values: "chart/missing.yaml" is not a file'),
        ("values: {a: b}\n", "values: expected a file or a list of files"),
        ("release: Not_A_Name\n", 'release: "Not_A_Name" is not a valid release name'),
    ],
)
def test_a_chart_profile_defect_names_the_field(project: Path, extra: str, message: str) -> None:
    chart_project(project)
    write(project, GOOD.replace("overlay: manifests/overlays/dev\n", "chart: chart\n") + extra)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_profile(project, "dev")


def test_values_without_a_chart_are_refused(project: Path) -> None:
    write(project, GOOD + "values: [x.yaml]\n")
    with pytest.raises(ConfigError, match="values: only for a chart"):
        load_profile(project, "dev")
    write(project, GOOD.replace("overlay: manifests/overlays/dev", "chart: nowhere"))
    with pytest.raises(ConfigError, match=re.escape('chart: "nowhere" has no Chart.yaml')):
        load_profile(project, "dev")
