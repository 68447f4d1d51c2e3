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
    assert scripts["kubectl-deployctl"] == scripts["deployctl"] == "deployctl.cli:main"
