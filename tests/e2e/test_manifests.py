"""The shipped stack is accepted by a real API server, in every environment."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from kubetest import Kube
from projects import deployctl

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


def test_an_environment_with_monitoring_needs_the_prometheus_operator(cluster, tmp_path) -> None:
    """components/monitoring on a cluster without the monitoring.coreos.com CRDs: exit 2
    naming the API group and what to do, and nothing left in the cluster."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "manifests", project / "manifests")
    overlay = project / "manifests" / "overlays" / "monitored"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "resources: [../dev]\ncomponents: [../../components/monitoring]\n"
    )
    namespace = f"mon-{uuid.uuid4().hex[:6]}"
    settings = yaml.safe_load((REPO / "environments" / "dev.yaml").read_text())
    settings.update(
        overlay="manifests/overlays/monitored", context=cluster.context, namespace=namespace
    )
    (project / "environments").mkdir()
    (project / "environments" / "monitored.yaml").write_text(yaml.safe_dump(settings))

    result = deployctl(cluster, project, "up", "monitored")

    assert result.code == 2, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "the cluster does not serve the API group monitoring.coreos.com" in error
    assert "install the Prometheus Operator" in error and "components/monitoring" in error
    namespaces = cluster.client().resources.get(api_version="v1", kind="Namespace")
    assert namespace not in [n.metadata.name for n in namespaces.get().items]
