"""An environment across clusters: the profile's stages, per-cluster overrides, and the
fleet's pure parts (stage grouping, flags, the combined text). The runs themselves are
end to end, on three sandbox clusters: tests/e2e/test_fleet.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployctl import overrides
from deployctl.commands import fleet
from deployctl.commands.target import Target
from deployctl.engine import Options
from deployctl.errors import ConfigError
from deployctl.present import Reporter, format_fleet
from deployctl.profile import load_all, load_profile, one_cluster

FLEET = """\
overlay: manifests/overlays/prod
namespace: app
order: {db: [], web: [db]}
images: {web: v1}
stages:
  - canary: {context: c1}
  - eu-west: {context: c2, server: https://eu.example:6443, replicas: {web: 4}}
    us-east: {context: c3, namespace: app-us, images: {web: registry.example/web:v2}}
  - dr: {context: c1, namespace: app-dr}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "manifests/overlays/prod").mkdir(parents=True)
    (tmp_path / "manifests/overlays/prod/kustomization.yaml").write_text("resources: []\n")
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments/prod.yaml").write_text(FLEET)
    return tmp_path


def write(project: Path, text: str) -> None:
    (project / "environments/prod.yaml").write_text(text)


def test_stages_list_each_cluster_with_its_stage_and_overrides(project: Path) -> None:
    profile = load_profile(project, "prod")

    assert profile.fleet and profile.context == ""
    assert [(c.name, c.stage, c.context) for c in profile.clusters] == [
        ("canary", 1, "c1"),
        ("eu-west", 2, "c2"),
        ("us-east", 2, "c3"),
        ("dr", 3, "c1"),
    ]
    eu = profile.for_cluster(profile.clusters[1])
    assert (eu.context, eu.server, eu.namespace, eu.cluster) == (
        "c2",
        "https://eu.example:6443",
        "app",
        "eu-west",
    )
    assert eu.replicas == {"web": 4} and eu.images == {"web": "v1"} and not eu.fleet
    us = profile.for_cluster(profile.clusters[2])
    assert us.namespace == "app-us" and us.images == {"web": "registry.example/web:v2"}
    assert eu.where == "prod/eu-west"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("namespace: app\n", "namespace: app\ncontext: c1\n"), "context: an environment with"),
        (("  - dr: {context: c1, namespace: app-dr}\n", "  - []\n"), "stages[2]: expected a"),
        (("dr: {context: c1,", "dr: {contxt: c1,"), "stages.dr.contxt: unknown setting"),
        (("dr: {context: c1, namespace: app-dr}", "dr: {namespace: app-dr}"), "stages.dr.context"),
        (("  - dr:", "  - canary:"), "stages.canary: named twice"),
        (("  - dr:", "  - Dr_1:"), 'stages.Dr_1: "Dr_1" is not a valid cluster name'),
        (("replicas: {web: 4}", "replicas: {web: many}"), "stages.eu-west.replicas: expected"),
        (("https://eu.example", "http://eu.example"), "stages.eu-west.server: "),
        (("namespace: app-dr", "namespace: App"), 'stages.dr.namespace: "App" is not a valid'),
    ],
)
def test_a_defect_in_stages_names_the_cluster_and_field(project: Path, change, message) -> None:
    write(project, FLEET.replace(*change))

    with pytest.raises(ConfigError) as error:
        load_profile(project, "prod")

    assert str(error.value).startswith("environments/prod.yaml: ")
    assert message in str(error.value)


def test_two_clusters_on_one_cluster_and_namespace_are_refused(project: Path) -> None:
    write(project, FLEET.replace("dr: {context: c1, namespace: app-dr}", "dr: {context: c1}"))

    with pytest.raises(ConfigError) as error:
        load_all(project)

    assert "stages.dr: environments/prod.yaml (cluster canary) deploys to the same" in str(
        error.value
    )


def test_an_override_of_an_unknown_component_is_named(project: Path) -> None:
    write(project, FLEET.replace("replicas: {web: 4}", "replicas: {wbe: 4}"))
    profile = load_profile(project, "prod")
    eu = profile.for_cluster(profile.clusters[1])

    with pytest.raises(ConfigError, match=r'stages.eu-west.replicas.wbe: unknown component "wbe"'):
        eu.check_components({"db", "web"})


def test_render_needs_a_cluster_for_an_environment_with_stages(project: Path) -> None:
    profile = load_profile(project, "prod")

    with pytest.raises(ConfigError, match=r"spans clusters \(canary, eu-west, us-east, dr\)"):
        one_cluster(profile, None)
    with pytest.raises(ConfigError, match='no cluster "mars"'):
        one_cluster(profile, "mars")
    assert one_cluster(profile, "dr").namespace == "app-dr"


def workload(component: str, image: str, kind: str = "Deployment") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": component, "labels": {"app.kubernetes.io/component": component}},
        "spec": {
            "replicas": 1,
            "template": {"spec": {"containers": [{"name": component, "image": image}]}},
        },
    }


def test_overrides_set_a_components_image_and_replicas_and_leave_the_input_alone() -> None:
    objects = [workload("web", "registry.example/web:v1"), workload("db", "postgres:16")]

    changed = overrides.apply(
        objects, {"web": "v2", "db": "mirror.example/pg:16.4"}, {"web": 3}, ""
    )

    assert changed[0]["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.example/web:v2"
    )
    assert changed[0]["spec"]["replicas"] == 3
    assert changed[1]["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "mirror.example/pg:16.4"
    )
    assert objects[0]["spec"]["replicas"] == 1  # pure


def test_replicas_of_an_autoscaled_workload_are_refused_with_the_reason() -> None:
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "labels": {"app.kubernetes.io/component": "web"}},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}},
    }

    with pytest.raises(ConfigError, match=r"p\.yaml: replicas\.web: .*HorizontalPodAutoscaler"):
        overrides.apply([workload("web", "web:v1"), hpa], {}, {"web": 3}, "p.yaml: ")
    with pytest.raises(ConfigError, match=r"images\.web: .*neither a tag"):
        overrides.apply([workload("web", "web:v1")], {"web": "not an image"}, {}, "")


def target(project: Path, only: str | None = None) -> Target:
    return Target(project, load_profile(project, "prod"), Options(), only_cluster=only)


def test_legs_follow_the_stages_and_cluster_limits_them(project: Path) -> None:
    everyone = fleet.legs(target(project), Reporter(quiet=True))
    assert [[leg.name for leg in stage] for stage in fleet.stages(everyone)] == [
        ["canary"],
        ["eu-west", "us-east"],
        ["dr"],
    ]
    assert all(leg.target.yes and not leg.target.profile.fleet for leg in everyone)

    one = fleet.legs(target(project, "us-east"), Reporter(quiet=True), "us-east")
    assert [leg.target.profile.namespace for leg in one] == ["app-us"]
    with pytest.raises(ConfigError, match=r'no cluster "mars" \(it has: canary, eu-west'):
        fleet.legs(target(project), Reporter(quiet=True), "mars")


def test_flags_for_several_clusters_are_refused_on_one(project: Path) -> None:
    single = Target(
        project,
        load_profile(project, "prod").for_cluster(load_profile(project, "prod").clusters[0]),
        Options(),
    )

    with pytest.raises(ConfigError, match="--all-or-nothing: environment prod deploys to one"):
        fleet.refuse_flags(single, no_rollback=False, all_or_nothing=True)
    fleet.refuse_flags(single, no_rollback=False)  # not given: fine


def test_the_environment_result_is_its_worst_clusters_by_severity_not_by_name() -> None:
    result = fleet.ClusterResult
    done = result.DEPLOYED

    assert fleet.overall([result.DEPLOYED, result.UNCHANGED, result.SKIPPED], done) == "deployed"
    assert fleet.overall([], result.DOWN) == "down"
    # "failed" sorts before "untouched" by name; by severity it is the worse.
    assert fleet.overall([result.UNTOUCHED, result.FAILED], done) == "failed"
    assert fleet.overall([result.DEPLOYED, result.ROLLED_BACK], done) == "failed"
    assert fleet.overall([result.NOT_RESTORED, result.FAILED], done) == "not-restored"
    failures = [r for r in result if r.failure]
    assert failures == [result.ROLLED_BACK, result.FAILED, result.NOT_RESTORED]


def test_the_combined_text_never_shows_one_number_for_differing_revisions() -> None:
    document = {
        "environment": "prod",
        "clusters": {
            "canary": {"stage": 1, "context": "c1", "revision": 3, "text": "canary rows"},
            "eu-west": {"stage": 2, "context": "c2", "revision": 2, "text": "eu rows\n"},
            "us-east": {"stage": 2, "context": "c3", "result": "skipped", "note": "unreachable"},
        },
    }

    text = format_fleet(document)

    assert text.splitlines() == [
        "environment prod: revision canary 3, eu-west 2 (the clusters differ)",
        "== canary (stage 1, context c1)",
        "canary rows",
        "== eu-west (stage 2, context c2)",
        "eu rows",
        "== us-east (stage 2, context c3)",
        "skipped: unreachable",
    ]


def test_lines_of_a_cluster_name_it(capsys) -> None:
    Reporter().for_cluster("eu-west").info("web healthy")

    assert capsys.readouterr().err.endswith(" eu-west: web healthy\n")
