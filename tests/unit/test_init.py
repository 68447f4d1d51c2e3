"""`deployctl init`: the project it writes, and what it refuses to overwrite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml

from deployctl import init, plan, profile, render
from deployctl.cluster import sandbox
from deployctl.errors import ConfigError, ExitStatus

REPO = Path(__file__).resolve().parents[2]
FILES = {
    "README.md",
    "environments/dev.yaml",
    "manifests/base/kustomization.yaml",
    "manifests/base/namespace.yaml",
    "manifests/base/cache/deployment.yaml",
    "manifests/base/cache/service.yaml",
    "manifests/base/web/deployment.yaml",
    "manifests/base/web/service.yaml",
    "manifests/overlays/dev/kustomization.yaml",
}


def relative(paths: list[Path], root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in paths}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "hello"
    init.write_project(root)
    return root


def rendered(root: Path) -> list[dict]:
    """Rendered as test_manifests_policy renders: kustomize (or kubectl) is required."""
    return render.render_environment(root, profile.load_profile(root, "dev"))


def test_writes_the_project_into_a_new_folder_and_returns_every_file(tmp_path: Path) -> None:
    root = tmp_path / "new" / "hello"

    written = init.write_project(root)

    assert relative(written, root) == FILES
    templates = init.template_files()
    for path in written:
        assert path.read_bytes() == templates[PurePosixPath(path.relative_to(root).as_posix())]


def test_template_files_are_keyed_by_posix_paths() -> None:
    assert {str(p) for p in init.template_files()} == FILES


def test_writes_into_an_existing_folder_and_leaves_other_files_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "manifests").mkdir()

    written = init.write_project(tmp_path)

    assert relative(written, tmp_path) == FILES
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "dev.yaml").write_text("mine\n")

    with pytest.raises(ConfigError) as raised:
        init.write_project(tmp_path)

    message = str(raised.value)
    assert "environments/dev.yaml already exists" in message and "--force" in message
    assert "\n" not in message
    assert raised.value.exit_status == ExitStatus.NOTHING_CHANGED
    assert (tmp_path / "environments" / "dev.yaml").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["dev.yaml", "environments"]


def test_counts_the_other_files_that_are_in_the_way(project: Path) -> None:
    with pytest.raises(ConfigError, match=rf"\(and {len(FILES) - 1} more\)"):
        init.write_project(project)


def test_force_overwrites_the_projects_files_only(project: Path) -> None:
    (project / "environments" / "dev.yaml").write_text("changed\n")
    (project / "environments" / "staging.yaml").write_text("mine\n")

    written = init.write_project(project, force=True)

    assert relative(written, project) == FILES
    assert profile.load_profile(project, "dev").context == "kwok-deployctl"
    assert (project / "environments" / "staging.yaml").read_text() == "mine\n"


def test_force_replaces_a_symbolic_link_not_the_file_it_points_at(tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("keep me")
    root = tmp_path / "p"
    root.mkdir()
    (root / "README.md").symlink_to(outside)

    init.write_project(root, force=True)

    assert outside.read_text() == "keep me"
    assert not (root / "README.md").is_symlink()


@pytest.mark.parametrize("force", [False, True])
def test_refuses_what_is_in_the_way_even_with_force(tmp_path: Path, force: bool) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(ConfigError, match="not a folder"):
        init.write_project(afile, force=force)

    (tmp_path / "p" / "README.md").mkdir(parents=True)
    with pytest.raises(ConfigError, match="a folder is in the way"):
        init.write_project(tmp_path / "p", force=force)

    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "manifests").write_text("")
    with pytest.raises(ConfigError, match="a file is in the way"):
        init.write_project(tmp_path / "q", force=force)
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == ["manifests"]


def test_the_profile_targets_the_sandbox_and_orders_web_after_cache(project: Path) -> None:
    dev = profile.load_profile(project, "dev")

    assert dev.context == sandbox.context_name("deployctl")  # what `cluster up` writes
    assert dev.namespace == "hello-dev"
    assert dev.source.path == project / "manifests/overlays/dev"
    assert dev.default and not dev.protected
    assert dev.order == {"cache": (), "web": ("cache",)}
    assert [p.name for p in profile.load_all(project)] == ["dev"]
    assert profile.default_environment(project) == "dev"


def test_the_readme_says_how_to_run_it(project: Path) -> None:
    assert "deployctl cluster up && deployctl up dev" in (project / "README.md").read_text()


def test_renders_offline_into_two_ordered_components(project: Path) -> None:
    objects = rendered(project)

    assert render.components_of(objects) == {"platform", "cache", "web"}
    deploy_plan = plan.build_plan(objects, profile.load_profile(project, "dev").order)
    assert deploy_plan.waves == [["cache"], ["web"]]
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert kinds == {
        ("Namespace", "hello-dev"),
        ("Service", "cache"),
        ("Deployment", "cache"),
        ("Service", "web"),
        ("Deployment", "web"),
    }
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "hello-dev"
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "hello"
        assert labels["app.kubernetes.io/name"] and labels["app.kubernetes.io/component"]


def test_renders_workloads_a_platform_team_would_ship(project: Path) -> None:
    objects = rendered(project)
    (namespace,) = [o for o in objects if o["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"

    workloads = [o for o in objects if o["kind"] == "Deployment"]
    assert len(workloads) == 2
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        selector = workload["spec"]["selector"]["matchLabels"]
        assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/component"}
        assert selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items()
        for container in pod["containers"]:
            where = f"{render.object_ref(workload)} container {container['name']}"
            image = container["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            assert tag and tag != "latest", f"{where}: {image} is not pinned"
            assert not tag.endswith(("-crashloop", "-pullerror", "-unready")), where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{where}: {kind}"
            assert container["readinessProbe"] and container["livenessProbe"], where
            context = {**pod["securityContext"], **container["securityContext"]}
            assert context["runAsNonRoot"] is True and context["runAsUser"] != 0, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert context["seccompProfile"]["type"] == "RuntimeDefault", where


def test_the_render_command_finds_the_project_from_the_current_folder(project: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in ("DEPLOYCTL_ENV", "KUBECONFIG")}
    done = subprocess.run(
        [sys.executable, "-m", "deployctl", "render", "dev"],
        cwd=project / "manifests" / "base",  # no --project: the nearest one above
        env={**environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 0, done.stderr
    printed = [(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(done.stdout)]
    assert printed == [
        ("Namespace", "hello-dev"),
        ("Service", "cache"),
        ("Service", "web"),
        ("Deployment", "cache"),
        ("Deployment", "web"),
    ]
