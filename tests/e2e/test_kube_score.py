"""kube-score on every shipped environment's render: no warning and no critical finding,
except the checks that manifests/kube-score-ignore.yaml ignores, each with its reason.

kube-score is built from source into the binaries cache (`ensure_tool(KUBE_SCORE)`);
it needs no cluster, but lives with the other tests that need built tools.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from deployctl import profile, render
from deployctl.cluster import binaries

REPO = Path(__file__).resolve().parents[2]
IGNORED = REPO / "manifests" / "kube-score-ignore.yaml"
ENVIRONMENTS = ("dev", "staging", "production")
# kube-score's grades: 10 all OK, 7 almost OK, 5 warning, 1 critical.
WARNING = 5


def ignored() -> dict[str, str]:
    checks = yaml.safe_load(IGNORED.read_text())
    assert isinstance(checks, dict) and checks, f"{IGNORED}: expected check: reason"
    for check, reason in checks.items():
        assert isinstance(reason, str) and len(reason.split()) >= 4, f"{check}: give a reason"
    return checks


def score(env: str, tmp_path: Path, ignore: list[str]) -> list[dict]:
    objects = render.render_environment(REPO, profile.load_profile(REPO, env))
    manifest = tmp_path / f"{env}.yaml"
    manifest.write_text(render.to_yaml(objects))
    tool = binaries.ensure_tool(binaries.KUBE_SCORE).kube_score
    command = [str(tool), "score", "--output-format", "json", "--kubernetes-version", "v1.34"]
    for check in ignore:
        command += ["--ignore-test", check]
    result = subprocess.run([*command, str(manifest)], capture_output=True, text=True)
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def findings(scored: list[dict]) -> list[str]:
    found = []
    for obj in scored:
        name = f"{obj['type_meta']['kind']}/{obj['object_meta']['name']}"
        for check in obj["checks"]:
            if check["skipped"] or check["grade"] > WARNING:
                continue
            comments = "; ".join(
                f"{c.get('path', '')} {c.get('summary', '')}".strip() for c in check["comments"]
            )
            found.append(f"{name}: {check['check']['id']}: {comments}")
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_kube_score_finds_nothing_in_the_render(env: str, tmp_path: Path) -> None:
    scored = score(env, tmp_path, list(ignored()))

    workloads = {
        o["object_meta"]["name"]
        for o in scored
        if o["type_meta"]["kind"]
        in (
            "Deployment",
            "StatefulSet",
        )
    }
    assert workloads >= {"postgresql", "redis", "rabbitmq", "orchestrator", "worker"}
    assert findings(scored) == []


def test_the_ignore_list_hides_something_and_kube_score_would_say_it(tmp_path: Path) -> None:
    """Without the ignore list kube-score has findings: the clean runs above are not
    clean because nothing was scored."""
    assert findings(score("production", tmp_path, []))
