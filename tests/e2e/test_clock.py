"""Verdicts are judged on the API server's clock: the same with this machine's clock
5 minutes ahead or behind.

The skew is made inside the deployctl process only: a `sitecustomize` on
PYTHONPATH shifts `time.time` and `datetime.now` (libfaketime would break
Python's timed waits). The cluster's clock is untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from kubetest import Kube
from projects import Project, deployctl, deployment, service, start, statefulset

pytestmark = pytest.mark.sandbox_only  # deployctl's clock, not the cluster's: one provider does

SKEWS = [0, 300, -300]  # seconds this machine's clock is off: none, ahead, behind
ORDER = {"db": [], "api": ["db"], "web": ["api"]}
GRACE = 5  # the unschedulable grace, seconds

SITECUSTOMIZE = """
import datetime as _datetime
import os
import time as _time

_SKEW = float(os.environ["DEPLOYCTL_TEST_SKEW"])
_time_ns = _time.time_ns
_time.time = lambda: _time_ns() / 1e9 + _SKEW
_time.time_ns = lambda: _time_ns() + int(_SKEW * 1e9)


class datetime(_datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return super().now(tz) + _datetime.timedelta(seconds=_SKEW)

    @classmethod
    def utcnow(cls):
        return super().utcnow() + _datetime.timedelta(seconds=_SKEW)


_datetime.datetime = datetime
"""


@pytest.fixture(params=SKEWS, ids=lambda s: f"skew{s:+d}s")
def skewed(request, tmp_path: Path) -> dict[str, str]:
    """The environment of a deployctl whose wall clock is off by the parameter."""
    folder = tmp_path / "skew"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    paths = [str(folder), os.environ.get("PYTHONPATH", "")]
    env = {
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "DEPLOYCTL_TEST_SKEW": str(request.param),
    }
    # The shift is really there: the process's clocks are off by the skew, both of them.
    show = "import time, datetime; print(time.time(), datetime.datetime.now().timestamp())"
    told = subprocess.run(
        [sys.executable, "-c", show], env={**os.environ, **env}, capture_output=True, text=True
    )
    clocks = [float(v) for v in told.stdout.split()]
    assert all(abs(c - time.time() - request.param) < 5 for c in clocks), told
    return env


@pytest.fixture
def project(tmp_path: Path, kube: Kube, cluster) -> Project:
    return Project(tmp_path / "project", "test", kube.namespace, cluster.context)


def stack(image, api_cpu: str | None = None) -> list[dict]:
    api = deployment("api", image("v1"))
    if api_cpu:
        api["spec"]["template"]["spec"]["containers"][0]["resources"] = {
            "requests": {"cpu": api_cpu}
        }
    return [
        service("db", headless=True),
        statefulset("db", image("v1"), claim=False),
        service("api"),
        api,
        deployment("web", image("v1")),
    ]


def test_up_rollout_and_the_unschedulable_grace_agree_whatever_this_machines_clock(
    project, cluster, image, skewed
):
    timeouts = {"timeouts": {"component": "2m", "unschedulable": f"{GRACE}s"}}
    project.write(stack(image), ORDER, profile=timeouts)

    fresh = deployctl(cluster, project.root, "up", "test", env=skewed)
    assert fresh.code == 0, fresh.stderr

    broken = deployctl(
        cluster, project.root, "rollout", "api", "v1-crashloop", "-e", "test", env=skewed
    )
    assert broken.code == 1, broken.stderr
    assert "CrashLoopBackOff" in broken.stderr and "rolled back to revision 1" in broken.stderr

    # More CPU than any node has: failed once the grace has passed on the server's clock,
    # not at once (ahead), and not at the timeout (behind).
    project.write(stack(image, api_cpu="1000"), ORDER, profile=timeouts)
    greedy = deployctl(cluster, project.root, "up", "test", "-o", "json", env=skewed)
    assert greedy.code == 1, greedy.stderr
    api = greedy.report["components"]["api"]
    assert f"unschedulable for {GRACE} s" in api["message"], api["message"]
    assert "Insufficient cpu" in api["message"]
    assert api["duration"] >= GRACE - 1  # Unschedulable is stamped in whole seconds
    assert api["duration"] < 60, api  # far from the 2 min timeout


def test_a_quota_that_refuses_a_statefulsets_pods_fails_fast_whatever_this_machines_clock(
    project, kube, cluster, image, skewed
):
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "no-pods"},
            "spec": {"hard": {"pods": "0"}},
        }
    )
    project.write(
        [service("db", headless=True), statefulset("db", image("v1"), claim=False)],
        {"db": []},
        profile={"timeouts": {"component": "90s", "unschedulable": f"{GRACE}s"}},
    )

    result = deployctl(cluster, project.root, "up", "test", "-o", "json", env=skewed)

    assert result.code == 1, result.stderr
    db = result.report["components"]["db"]
    assert "FailedCreate" in db["message"] and "exceeded quota" in db["message"], db["message"]
    assert "timed out" not in db["message"]


def test_the_lock_is_stamped_on_the_servers_clock(project, kube, cluster, image, skewed):
    project.write(
        [service("db", headless=True), statefulset("db", image("v1"), delay="6s", claim=False)],
        {"db": []},
    )
    running = start(cluster, project.root, "up", "test", env=skewed)
    try:
        (lease,) = kube.wait_for(
            "coordination.k8s.io/v1", "Lease", lambda leases: len(leases) == 1, timeout=60
        )
    finally:
        _, stderr = running.communicate(timeout=120)
    assert running.returncode == 0, stderr
    # creationTimestamp is the API server's own stamp: the holder's agree with it.
    created = when(lease["metadata"]["creationTimestamp"])
    for stamp in ("acquireTime", "renewTime"):
        assert abs((when(lease["spec"][stamp]) - created).total_seconds()) < 3, lease["spec"]


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
