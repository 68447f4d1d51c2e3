"""The command line: fast help, clear stubs, exit codes from one place."""

from __future__ import annotations

import subprocess
import sys

from deployctl import __version__


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deployctl", *args], capture_output=True, text=True, timeout=60
    )


def test_help_does_not_import_the_kubernetes_client() -> None:
    code = (
        "import sys\n"
        "from deployctl.cli import app\n"
        "from typer.testing import CliRunner\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'kubernetes'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def imported_by(*args: str) -> set[str]:
    """Top-level packages a whole `deployctl ARGS` process imports."""
    code = (
        "import sys\n"
        f"sys.argv = ['deployctl', *{list(args)!r}]\n"
        "from deployctl.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stderr.split())


def test_version_imports_neither_rich_nor_kubernetes_nor_typer() -> None:
    assert not {"rich", "kubernetes", "typer", "yaml"} & imported_by("--version")


def test_help_and_argument_errors_do_not_import_kubernetes_or_rich() -> None:
    assert not {"rich", "kubernetes"} & imported_by("--help")
    assert not {"rich", "kubernetes"} & imported_by("up", "--no-such-flag")


def test_help_lists_every_command_of_the_contract() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in (
        "render",
        "plan",
        "diff",
        "up",
        "rollout",
        "rollback",
        "history",
        "status",
        "down",
        "init",
        "completion",
        "cluster",
    ):
        assert command in result.stdout


def test_version_prints_the_package_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"deployctl {__version__}"


def test_bad_input_is_one_line_exit_2_without_traceback(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deployctl", "up", "nowhere", "--project", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no environments/" in result.stderr and "Traceback" not in result.stderr


def test_kubectl_plugin_entry_point_is_the_same_program() -> None:
    from importlib.metadata import entry_points

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts["kubectl-deployctl"] == scripts["deployctl"] == "deployctl.main:main"


def test_cluster_up_takes_a_pod_capacity_and_refuses_zero() -> None:
    assert "--pods-per-node" in run("cluster", "up", "--help").stdout
    refused = run("cluster", "up", "--pods-per-node", "0")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr


def test_a_kubeconfig_that_is_not_yaml_or_not_there_is_named_in_one_line(tmp_path) -> None:
    project = tmp_path / "project"
    (project / "environments").mkdir(parents=True)
    (project / "manifests" / "overlays" / "dev").mkdir(parents=True)
    (project / "manifests" / "overlays" / "dev" / "kustomization.yaml").write_text(
        "resources: []\n"
    )
    (project / "environments" / "dev.yaml").write_text(
        "overlay: manifests/overlays/dev\ncontext: somewhere\nnamespace: dev\ndefault: true\n"
        "order: {}\n"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("clusters: [oops\n")

    for kubeconfig, says in ((broken, "not valid YAML"), (tmp_path / "absent", "no such file")):
        result = run("status", "--project", str(project), "--kubeconfig", str(kubeconfig))
        assert result.returncode == 2, result.stderr
        assert str(kubeconfig) in result.stderr and says in result.stderr
        assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_option_help_names_what_each_flag_takes_without_type_noise() -> None:
    text = run("up", "--help").stdout

    for shown in ("--timeout DURATION", "--kubeconfig FILE", "--context NAME", "text|json"):
        assert shown in text
    options = text.split("Options:", 1)[1]
    assert "<str>" not in options and "<path>" not in options and "TEXT" not in options


def test_render_takes_a_namespace_as_the_cluster_commands_do() -> None:
    import yaml

    result = run("render", "dev", "-n", "elsewhere")

    assert result.returncode == 0, result.stderr
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    namespaced = [o for o in objects if o["metadata"].get("namespace")]
    assert namespaced and {o["metadata"]["namespace"] for o in namespaced} == {"elsewhere"}
    assert any(o["kind"] == "Namespace" and o["metadata"]["name"] == "elsewhere" for o in objects)


def test_arguments_read_as_kubectls_without_braces_or_types() -> None:
    usage = run("up", "--help").stdout
    assert "Usage: deployctl up [OPTIONS] ENV" in usage
    assert "<str>" not in usage and "{ENV}" not in usage


def test_a_bare_number_is_seconds_for_wait_lock_and_timeout() -> None:
    from deployctl.cli.base import _bare_wait_lock
    from deployctl.cli.flags import ClusterFlags, make_options

    assert _bare_wait_lock(["up", "dev", "--wait-lock", "30"]) == ["up", "dev", "--wait-lock", "30"]
    assert _bare_wait_lock(["up", "dev", "--wait-lock"]) == ["up", "dev", "--wait-lock=10m"]
    options = make_options(ClusterFlags(), timeout="90", wait_lock="30")
    assert (options.timeout, options.wait_lock) == (90.0, 30.0)


def test_every_spelling_of_json_output_gets_the_error_as_json() -> None:
    from deployctl.cli.base import _wants_json

    for args in (["-o", "json"], ["--output", "json"], ["--output=json"], ["-ojson"]):
        assert _wants_json(args), args
    assert not _wants_json(["-o", "text"])


def test_completion_prints_a_script_that_completes_commands_and_flags() -> None:
    import os

    script = run("completion", "bash").stdout
    assert "_DEPLOYCTL_COMPLETE" in script
    env = {**os.environ, "_DEPLOYCTL_COMPLETE": "complete_bash", "COMP_CWORD": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "deployctl"],
        env={**env, "COMP_WORDS": "deployctl ro"},
        capture_output=True,
        text=True,
    )
    assert completed.stdout.split() == ["rollout", "rollback"]
    assert run("completion", "tcsh").returncode == 2
