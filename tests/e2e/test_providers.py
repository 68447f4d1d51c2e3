"""The sandbox checked against reality: one scenario on kwok's simulated kubelet and on kind's.

Runs in the kind suite (`--provider kind`), which starts a sandbox beside its kind
cluster; each scenario deploys the same project to both and compares what a user
sees: which component started after which finished (the order), each component's
outcome, the reason a failing one failed fast, and what a timeout says was missing.
docs/kind.md lists the differences in wording this leaves out of the comparison.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubetest import Cluster
from projects import Project, deployctl
from providers import TEST_CLUSTER
from test_up import ORDER, stack

from deployctl.cluster import sandbox

pytestmark = pytest.mark.kind_only

REASONS = ("CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff")


@pytest.fixture(scope="module")
def both(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    kubeconfig = tmp_path_factory.mktemp("compare") / "kubeconfig"
    name = f"{TEST_CLUSTER}-compare"
    try:
        context = sandbox.up(name, kubeconfig=kubeconfig)
        yield {"kind": cluster, "sandbox": Cluster("sandbox", kubeconfig, context)}
    finally:
        sandbox.down(name, kubeconfig=kubeconfig)


def deploy(
    clusters: dict, tmp_path: Path, image, api_tag: str, *args: str, profile: dict | None = None
) -> dict[str, dict]:
    reports = {}
    namespace = f"t-compare-{uuid.uuid4().hex[:6]}"
    for provider, cluster in clusters.items():
        project = Project(tmp_path / provider, "test", namespace, cluster.context)
        project.write(stack(image, api_tag=api_tag), ORDER, profile=profile)
        result = deployctl(cluster, project.root, "up", "test", "-o", "json", *args)
        assert result.code in (0, 1), result.stderr
        reports[provider] = result.report
        deployctl(cluster, project.root, "down", "test", "--yes")
    return reports


def after(report: dict) -> set[tuple[str, str]]:
    """(a, b): b started only once a had finished: the order the user saw."""
    components = report["components"]
    return {
        (a, b)
        for a, first in components.items()
        for b, second in components.items()
        if a != b
        and first.get("finished") is not None
        and second.get("started") is not None
        and second["started"] >= first["finished"]
    }


def outcome(report: dict) -> dict[str, str]:
    return {name: c["state"] for name, c in report["components"].items()}


def reason(message: str) -> str:
    found = {r for r in REASONS if r in message}
    return "ErrImagePull" if found & {"ErrImagePull", "ImagePullBackOff"} else "|".join(found)


def same_words(message: str) -> str:
    """The message without what differs between any two runs: pod names, namespace, uid."""
    message = re.sub(r"pod=([\w-]+)_[\w-]+\([0-9a-f-]+\)", r"pod=\1_…(…)", message)
    return re.sub(r"api-[0-9a-z]+-[0-9a-z]+", "api-…", message)


def test_a_healthy_deploy_goes_in_the_same_order_on_both(both, tmp_path, image):
    reports = deploy(both, tmp_path, image, "v1")

    assert outcome(reports["kind"]) == outcome(reports["sandbox"])
    assert set(outcome(reports["kind"]).values()) == {"healthy"}
    assert after(reports["kind"]) == after(reports["sandbox"])
    assert {("db", "api"), ("api", "web"), ("api", "jobs")} <= after(reports["kind"])


@pytest.mark.parametrize("tag", ["v1-crashloop", "v1-pullerror"])
def test_a_failing_component_fails_fast_for_the_same_reason_on_both(both, tmp_path, image, tag):
    reports = deploy(both, tmp_path, image, tag, "--timeout", "10m")

    assert outcome(reports["kind"]) == outcome(reports["sandbox"])
    assert outcome(reports["kind"])["api"] == "failed"
    messages = {p: r["components"]["api"]["message"] for p, r in reports.items()}
    print(messages)  # the full wording of each, for docs/kind.md
    assert reason(messages["kind"]) == reason(messages["sandbox"]) != ""
    for message in messages.values():
        assert "pod api-" in message and "timed out" not in message
    if tag == "v1-crashloop":  # word for word, the kubelet's back-off message included
        assert same_words(messages["kind"]) == same_words(messages["sandbox"])
    else:  # the same up to the cause: the sandbox's marker, kind's refused pull
        pull = f'failed to pull and unpack image "{image(tag)}"'
        assert {same_words(m).split(pull)[0] + pull for m in messages.values()} == {
            f"api: Deployment api: pod api-…: container api: ErrImagePull: {pull}"
        }


def test_a_timeout_names_what_was_missing_alike_on_both(both, tmp_path, image):
    # api's own timeout: db's volume is really provisioned on kind, which takes its time.
    timeouts = {"timeouts": {"component": "2m", "components": {"api": "20s"}}}
    reports = deploy(both, tmp_path, image, "v1-unready", profile=timeouts)

    assert outcome(reports["kind"]) == outcome(reports["sandbox"])
    messages = {p: r["components"]["api"]["message"] for p, r in reports.items()}
    print(messages)
    assert same_words(messages["kind"]) == same_words(messages["sandbox"])
    for message in messages.values():
        assert "timed out after 20 s" in message and "0/1 available" in message
        assert "Ready=False" in message
