"""The shipped stack is accepted by a real API server, in every environment."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
from kubetest import Kube

from deployctl import profile, render, secrets
from deployctl.cluster import binaries

REPO = Path(__file__).resolve().parents[2]


def kubectl(cluster, *args: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(binaries.toolset().kubectl),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--context",
            cluster.context,
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("env", ["dev", "staging", "production"])
def test_server_side_dry_run_of_every_environment_succeeds_without_warnings(
    env: str, cluster, kube: Kube
) -> None:
    prof = dataclasses.replace(
        profile.load_profile(REPO, env),
        namespace=kube.namespace,
        secrets=profile.SecretsSource(None, generate=True),  # throwaway values for the check
    )
    values, _ = secrets.resolve(secrets.load_specs(REPO), prof, {})
    objects = render.render_environment(REPO, prof, values)
    namespace = [o for o in objects if o["kind"] == "Namespace"]
    rest = [o for o in objects if o["kind"] != "Namespace"]

    # The namespace's Pod Security labels must be real for admission to judge the pods.
    labelled = kubectl(
        cluster,
        "apply",
        "--server-side",
        "--field-manager=test",
        "-f",
        "-",
        stdin=render.to_yaml(namespace),
    )
    assert labelled.returncode == 0, labelled.stderr
    result = kubectl(
        cluster,
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=deployctl",
        "--validate=strict",
        "-f",
        "-",
        stdin=render.to_yaml(rest),
    )

    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    assert result.stdout.count("serverside-applied (server dry run)") == len(rest)
