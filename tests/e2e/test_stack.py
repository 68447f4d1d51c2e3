"""The shipped stack deploys on the local cluster and becomes healthy."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubetest import Kube
from projects import deployctl

pytestmark = pytest.mark.containers  # the dev stack on kind: stand-ins, real kubelets

REPO = Path(__file__).resolve().parents[2]
STACK = ("postgresql", "rabbitmq", "redis", "orchestrator", "worker", "mcp-server")


def test_dev_deploys_healthy_and_keeps_its_generated_secrets(kube: Kube, cluster) -> None:
    # The official images run nowhere here: on the sandbox any name runs, on kind
    # environments/kind.yaml maps each to the stand-in (docs/kind.md).
    environment = "kind" if cluster.provider == "kind" else "dev"
    # The suite's namespace already exists, so deployctl adopts it.
    args = ("up", environment, "-n", kube.namespace, "--context", cluster.context, "--adopt")
    args += ("-o", "json")

    first = deployctl(cluster, REPO, *args)

    assert first.code == 0, first.stderr
    assert {n: c["state"] for n, c in first.report["components"].items()} == dict.fromkeys(
        STACK, "healthy"
    )

    def password() -> str:
        return kube.get("v1", "Secret", "postgresql-credentials")["data"]["POSTGRES_PASSWORD"]

    generated = password()

    again = deployctl(cluster, REPO, *args)

    assert again.code == 0, again.stderr
    assert again.report["changed"] is False
    # Generated once, never regenerated: a kept volume keeps matching its password.
    assert password() == generated
