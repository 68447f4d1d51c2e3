"""Secret values never leave the cluster's Secrets: no command prints them, no Event or
Lease that deployctl writes carries them."""

from __future__ import annotations

import base64
import json

from kubetest import Kube
from projects import Project, deployctl
from test_revisions import ORDER, stack

VALUE = "s3cr3t-Value-91xq"
DECLARED = {"api-credentials": {"component": "api", "keys": ["API_TOKEN"]}}


def test_no_command_shows_a_secret_value_or_its_base64(tmp_path, kube: Kube, cluster, image):
    project = Project(tmp_path / "project", "test", kube.namespace, cluster.context)
    project.write(stack(image), ORDER, secrets=DECLARED, profile={"secrets": {"generate": False}})
    env = {"API_TOKEN": VALUE}

    outputs = []

    def run(*args: str, code: int = 0) -> None:
        for extra in ((), ("-o", "json")) if args[0] not in ("render", "diff") else ((),):
            result = deployctl(cluster, project.root, *args, *extra, env=env)
            assert result.code == code, f"{args}: {result.stderr}"
            outputs.append((" ".join(args + extra), result.stdout + result.stderr))

    run("render", "test")
    run("plan", "test")
    run("diff", "test", code=1)  # everything is new
    deployed = deployctl(cluster, project.root, "up", "test", "-o", "json", env=env)
    assert deployed.code == 0, deployed.stderr
    outputs.append(("up -o json", deployed.stdout + deployed.stderr))
    env["API_TOKEN"] = VALUE + "-2"  # a changed value: diff and up show that it changed
    run("diff", "test", code=1)
    run("up", "test")
    run("rollout", "api", "v2", "-e", "test")
    run("rollback", "-e", "test")
    run("history", "-e", "test")
    run("status", "-e", "test")
    leases = kube.list("coordination.k8s.io/v1", "Lease")
    events = kube.list("v1", "Event")
    stored = kube.get("v1", "Secret", "api-credentials")
    run("down", "test", "--yes")

    secrets = [VALUE, VALUE + "-2"]
    forbidden = secrets + [base64.b64encode(v.encode()).decode() for v in secrets]
    for command, text in outputs:
        for value in forbidden:
            assert value not in text, f"`deployctl {command}` printed a secret value"
    for obj in leases + events:
        text = json.dumps(obj)
        assert not any(value in text for value in forbidden), obj["metadata"]["name"]
    # The values did reach the cluster, where they belong.
    assert base64.b64decode(stored["data"]["API_TOKEN"]).decode() == VALUE + "-2"
