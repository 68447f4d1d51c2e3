"""`deployctl up` (and plan, diff) against a real API server."""

from __future__ import annotations

import base64
import contextlib
import threading
from datetime import datetime
from pathlib import Path

import pytest
from kubetest import Kube
from projects import (
    Project,
    configmap,
    deployctl,
    deployment,
    labels,
    service,
    statefulset,
)

from deployctl.cluster.stages.pods import RESTARTS_ANNOTATION

ORDER = {"db": [], "api": ["db"], "web": ["api"], "jobs": ["api"]}


@pytest.fixture
def project(tmp_path: Path, kube: Kube, cluster) -> Project:
    return Project(tmp_path / "project", "test", kube.namespace, cluster.context)


def stack(image, api_tag: str = "v1", delay: str | None = None) -> list[dict]:
    return [
        service("db", headless=True),
        statefulset("db", image("v1"), delay=delay),
        service("api"),
        deployment("api", image(api_tag)),
        deployment("web", image("v1"), delay=delay),
        deployment("jobs", image("v1"), delay=delay),
    ]


def when(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def ready_since(pod: dict) -> datetime:
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    return when(ready["lastTransitionTime"])


@pytest.mark.containers
def test_components_start_only_after_their_dependencies_are_ready(project, kube, cluster, image):
    project.write(stack(image, delay="3s"), ORDER)

    result = deployctl(cluster, project.root, "up", "test", "-o", "json")

    assert result.code == 0, result.stderr
    db_pod = kube.get("v1", "Pod", "db-0")
    api = kube.get("apps/v1", "Deployment", "api")
    api_pods = kube.list("v1", "Pod", label_selector="app.kubernetes.io/name=api")
    # The cluster's own timestamps: each dependent was created after its dependency was Ready.
    assert when(api["metadata"]["creationTimestamp"]) >= ready_since(db_pod)
    api_ready = max(ready_since(p) for p in api_pods)
    for name in ("web", "jobs"):
        created = kube.get("apps/v1", "Deployment", name)["metadata"]["creationTimestamp"]
        assert when(created) >= api_ready
    # Independent components ran side by side.
    web, jobs = (result.report["components"][n] for n in ("web", "jobs"))
    assert web["started"] < jobs["finished"] and jobs["started"] < web["finished"]
    assert result.report["result"] == "deployed" and result.report["revision"] == 1


def test_a_second_up_of_unchanged_manifests_changes_nothing(project, kube, cluster, image):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    before = {
        d["metadata"]["name"]: d["metadata"]["resourceVersion"]
        for d in kube.list("apps/v1", "Deployment")
    }

    again = deployctl(cluster, project.root, "up", "test", "-o", "json")

    assert again.code == 0, again.stderr
    assert again.report["changed"] is False
    assert again.report["revision"] is None
    assert {o["action"] for o in again.report["objects"]} == {"unchanged"}
    after = {
        d["metadata"]["name"]: d["metadata"]["resourceVersion"]
        for d in kube.list("apps/v1", "Deployment")
    }
    assert after == before


def test_a_project_whose_overlay_sets_no_namespace_deploys_into_the_profiles(
    project, kube, cluster, image
):
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    project.write([policy, *stack(image)], ORDER, overlay_namespace=False)

    rendered = deployctl(cluster, project.root, "render", "test")
    planned = deployctl(cluster, project.root, "plan", "test")
    diffed = deployctl(cluster, project.root, "diff", "test")
    deployed = deployctl(cluster, project.root, "up", "test")

    assert rendered.code == 0 and f"namespace: {kube.namespace}" in rendered.stdout
    for result in (planned, deployed):
        assert result.code == 0, result.stderr
        assert "Traceback" not in result.stderr
    assert diffed.code == 1, diffed.stderr  # everything is new
    assert kube.get("networking.k8s.io/v1", "NetworkPolicy", "default-deny") is not None
    assert kube.get("apps/v1", "Deployment", "api") is not None


def test_an_unchanged_up_dry_runs_nothing_but_puts_back_changes_made_behind_its_back(
    project, kube, cluster, image
):
    project.write([configmap("settings", "api", {"mode": "auto"}), *stack(image)], ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0

    quiet = deployctl(cluster, project.root, "up", "test", "-o", "json")
    # kubectl scale, and kubectl edit of a field deployctl applied.
    kube.resource("apps/v1", "Deployment").patch(
        name="web",
        namespace=kube.namespace,
        body={"spec": {"replicas": 3}},
        content_type="application/merge-patch+json",
        field_manager="kubectl",
    )
    kube.resource("v1", "ConfigMap").patch(
        name="settings",
        namespace=kube.namespace,
        body={"data": {"mode": "manual"}},
        content_type="application/merge-patch+json",
        field_manager="kubectl-edit",
    )
    repaired = deployctl(cluster, project.root, "up", "test", "-o", "json")
    settled = deployctl(cluster, project.root, "up", "test", "-o", "json")

    assert quiet.code == 0, quiet.stderr
    assert quiet.report["changed"] is False and quiet.report["dry_runs"] == 0
    assert quiet.report["requests"]["by_verb"].get("dry-run", 0) == 0
    assert quiet.report["requests"]["by_verb"].get("apply", 0) == 0
    assert repaired.code == 0, repaired.stderr
    assert repaired.report["changed"] is True and repaired.report["dry_runs"] == 2
    updated = {o["object"] for o in repaired.report["objects"] if o["action"] == "update"}
    assert updated == {
        f"Deployment/web in namespace {kube.namespace}",
        f"ConfigMap/settings in namespace {kube.namespace}",
    }
    assert "changed outside deployctl" in repaired.stderr
    assert kube.get("apps/v1", "Deployment", "web")["spec"]["replicas"] == 1
    assert kube.get("v1", "ConfigMap", "settings")["data"] == {"mode": "auto"}
    assert settled.report["changed"] is False and settled.report["dry_runs"] == 0


@pytest.mark.containers
@pytest.mark.parametrize(
    ("tag", "reason"),
    [("v1-crashloop", "CrashLoopBackOff"), ("v1-pullerror", "ImagePullBackOff|ErrImagePull")],
)
def test_a_failing_component_fails_fast_with_reason_and_pod_and_dependents_not_started(
    project, kube, cluster, image, tag, reason
):
    project.write(stack(image, api_tag=tag), ORDER)

    result = deployctl(cluster, project.root, "up", "test", "-o", "json", "--timeout", "10m")

    assert result.code == 1, result.stderr
    api = result.report["components"]["api"]
    assert api["state"] == "failed"
    assert any(r in api["message"] for r in reason.split("|")), api["message"]
    assert "pod api-" in api["message"]  # names the pod
    assert "timed out" not in api["message"]
    for dependent in ("web", "jobs"):
        assert result.report["components"][dependent]["state"] == "not-started"
        assert kube.get("apps/v1", "Deployment", dependent) is None
    assert "FAILED api:" in result.stderr


def healing_api(image) -> list[dict]:
    """api crashes twice, then runs (restart count 2); its first crash at 5 s."""
    api = deployment("api", image("v1-crashloop"), delay="5s")
    api["spec"]["template"]["metadata"]["annotations"][RESTARTS_ANNOTATION] = "2"
    return [service("api"), api]


@pytest.mark.sandbox_only  # the stand-in image keeps no count of its restarts
def test_a_crash_loop_that_heals_within_the_allowed_restarts_deploys(project, kube, cluster, image):
    project.write(healing_api(image), {"api": []}, profile={"restartsAllowed": {"api": 2}})

    result = deployctl(cluster, project.root, "up", "test", "-o", "json")

    assert result.code == 0, result.stderr
    assert result.report["components"]["api"]["state"] == "healthy"
    assert "container api restarted 1 time (2 allowed)" in result.stderr
    (pod,) = kube.list("v1", "Pod", label_selector="app.kubernetes.io/name=api")
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 2


@pytest.mark.sandbox_only
def test_without_allowed_restarts_the_same_crash_loop_fails_fast(project, kube, cluster, image):
    project.write(healing_api(image), {"api": []})

    result = deployctl(cluster, project.root, "up", "test", "-o", "json")

    assert result.code == 1, result.stderr
    api = result.report["components"]["api"]
    assert api["state"] == "failed"
    assert "pod api-" in api["message"] and "CrashLoopBackOff" in api["message"]
    assert "(restarted 1 times)" in api["message"]  # before the restart that would heal it


def test_a_timeout_says_what_was_still_missing(project, kube, cluster, image):
    # api's own timeout, not --timeout (every component's): db's volume is really
    # provisioned on kind, which may take longer than that.
    timeouts = {"timeouts": {"component": "2m", "components": {"api": "6s"}}}
    project.write(stack(image, api_tag="v1-unready"), ORDER, profile=timeouts)

    result = deployctl(cluster, project.root, "up", "test", "-o", "json")

    assert result.code == 1
    message = result.report["components"]["api"]["message"]
    assert "timed out after 6 s" in message
    assert "0/1 available" in message
    assert "Ready=False" in message and "pod api-" in message


def test_a_validation_failure_creates_nothing_and_the_fixed_project_deploys_at_once(
    tmp_path, client, cluster, image
):
    namespace = f"t-invalid-{tmp_path.name[-6:].lower().replace('_', '-')}"
    project = Project(tmp_path / "p", "test", namespace, cluster.context)
    broken = deployment("api", image("v1"))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    declared = {"api-credentials": {"component": "api", "keys": ["API_TOKEN"]}}
    objects = [configmap("settings", "api", {"a": "1"}), broken]
    project.write(
        objects,
        {"api": []},
        namespace_object=True,
        secrets=declared,
        profile={"secrets": {"generate": False}},
    )
    namespaces = client.resources.get(api_version="v1", kind="Namespace")

    def exists() -> bool:
        return any(n.metadata.name == namespace for n in namespaces.get().items)

    try:
        no_value = deployctl(cluster, project.root, "up", "test")
        created_before_a_local_check = exists()
        invalid = deployctl(cluster, project.root, "up", "test", env={"API_TOKEN": "t0ken-1"})
        left_behind = exists()
        broken["spec"]["template"]["spec"]["containers"][0].pop("imagePullPolicyy")
        project.write(
            objects,
            {"api": []},
            namespace_object=True,
            secrets=declared,
            profile={"secrets": {"generate": False}},
        )
        fixed = deployctl(cluster, project.root, "up", "test", env={"API_TOKEN": "t0ken-1"})
    finally:
        if exists():
            namespaces.delete(name=namespace)

    # A missing value is found before the first write: not even the namespace is made.
    assert no_value.code == 2 and "no value for API_TOKEN" in no_value.stderr
    assert not created_before_a_local_check
    # A server-side rejection: the namespace made for the dry run is gone again...
    assert invalid.code == 2
    assert "Deployment/api" in invalid.stderr and "imagePullPolicyy" in invalid.stderr
    assert "Traceback" not in invalid.stderr
    assert not left_behind
    # ...so the fixed project deploys at once, with no "being terminated" refusal.
    assert fixed.code == 0, fixed.stderr


def test_a_field_conflict_is_reported_and_force_conflicts_takes_it(project, kube, cluster, image):
    project.write([configmap("settings", "api", {"mode": "auto"}), *stack(image)], ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    kube.resource("v1", "ConfigMap").server_side_apply(
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": kube.namespace},
            "data": {"mode": "manual"},
        },
        namespace=kube.namespace,
        field_manager="someone-else",
        force_conflicts=True,
    )
    project.write([configmap("settings", "api", {"mode": "auto2"}), *stack(image)], ORDER)

    refused = deployctl(cluster, project.root, "up", "test")
    forced = deployctl(cluster, project.root, "up", "test", "--force-conflicts")

    assert refused.code == 2
    assert "someone-else" in refused.stderr and ".data.mode" in refused.stderr
    assert "--force-conflicts" in refused.stderr
    assert forced.code == 0, forced.stderr
    assert kube.get("v1", "ConfigMap", "settings")["data"]["mode"] == "auto2"


def test_prune_removes_only_what_deployctl_created_and_never_a_claim(project, kube, cluster, image):
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": "scratch",
            "labels": {"app.kubernetes.io/name": "scratch", "app.kubernetes.io/component": "api"},
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    extra = configmap("extra", "api", {"x": "1"})
    project.write([extra, claim, *stack(image)], ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    kube.create(configmap("hand-made", "api", {"y": "1"}))

    project.write(stack(image), ORDER)
    result = deployctl(cluster, project.root, "up", "test", "-o", "json")

    assert result.code == 0, result.stderr
    pruned = [o["object"] for o in result.report["objects"] if o["action"] == "prune"]
    assert pruned == [f"ConfigMap/extra in namespace {kube.namespace}"]
    assert kube.get("v1", "ConfigMap", "extra") is None
    assert kube.get("v1", "ConfigMap", "hand-made") is not None
    assert kube.get("v1", "PersistentVolumeClaim", "scratch") is not None


def test_an_existing_object_is_not_taken_over_without_adopt(project, kube, cluster, image):
    kube.create(configmap("settings", "api", {"mode": "theirs"}))
    project.write([configmap("settings", "api", {"mode": "ours"}), *stack(image)], ORDER)

    refused = deployctl(cluster, project.root, "up", "test")
    adopted = deployctl(cluster, project.root, "up", "test", "--adopt")

    assert refused.code == 2
    assert "ConfigMap/settings" in refused.stderr and "--adopt" in refused.stderr
    assert adopted.code == 0, adopted.stderr
    assert kube.get("v1", "ConfigMap", "settings")["data"]["mode"] == "ours"


def test_an_autoscaled_workload_starts_at_min_replicas_and_keeps_its_running_count(
    project, kube, cluster, image
):
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "web",
            "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/component": "web"},
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ],
        },
    }
    objects = [*stack(image), hpa]
    objects[4] = deployment("web", image("v1"), replicas=None)
    project.write(objects, ORDER)

    first = deployctl(cluster, project.root, "up", "test")
    assert first.code == 0, first.stderr
    web = kube.get("apps/v1", "Deployment", "web")
    assert web["spec"]["replicas"] == 2 and web["status"]["readyReplicas"] == 2

    # The autoscaler (here: someone scaling) moves it; a later deploy must not reset it.
    kube.patch("apps/v1", "Deployment", "web", {"spec": {"replicas": 4}})
    objects[3] = deployment("api", image("v2"))
    project.write(objects, ORDER)
    second = deployctl(cluster, project.root, "up", "test")

    assert second.code == 0, second.stderr
    assert kube.get("apps/v1", "Deployment", "web")["spec"]["replicas"] == 4


def test_diff_masks_secret_values_unless_asked(project, kube, cluster, image):
    declared = {"api-credentials": {"component": "api", "keys": ["API_TOKEN"]}}
    profile = {"secrets": {"generate": False}}
    project.write(stack(image), ORDER, secrets=declared, profile=profile)
    first = deployctl(cluster, project.root, "up", "test", env={"API_TOKEN": "first-token-1"})
    assert first.code == 0, first.stderr

    unchanged = deployctl(cluster, project.root, "diff", "test", env={"API_TOKEN": "first-token-1"})
    masked = deployctl(cluster, project.root, "diff", "test", env={"API_TOKEN": "second-token-2"})
    shown = deployctl(
        cluster, project.root, "diff", "test", "--show-secrets", env={"API_TOKEN": "second-token-2"}
    )

    assert unchanged.code == 0 and unchanged.stdout == ""
    assert masked.code == 1
    assert "Secret/api-credentials" in masked.stdout and "<masked" in masked.stdout
    for value in ("first-token-1", "second-token-2"):
        encoded = base64.b64encode(value.encode()).decode()
        assert value not in masked.stdout + masked.stderr
        assert encoded not in masked.stdout + masked.stderr
    assert base64.b64encode(b"second-token-2").decode() in shown.stdout


def test_a_missing_secret_value_is_an_error_before_anything_is_applied(
    project, kube, cluster, image
):
    declared = {"api-credentials": {"component": "api", "keys": ["API_TOKEN"]}}
    project.write(stack(image), ORDER, secrets=declared, profile={"secrets": {"generate": False}})

    result = deployctl(cluster, project.root, "up", "test")

    assert result.code == 2
    assert "no value for API_TOKEN" in result.stderr
    assert kube.list("apps/v1", "Deployment") == [] and kube.list("v1", "Service") == []


def test_plan_shows_waves_and_changes_without_changing_anything(project, kube, cluster, image):
    project.write(stack(image), ORDER)

    result = deployctl(cluster, project.root, "plan", "test", "-o", "json")

    assert result.code == 0, result.stderr
    assert result.report["waves"] == [["db"], ["api"], ["jobs", "web"]]
    assert {o["action"] for o in result.report["objects"]} == {"create"}
    assert kube.list("apps/v1", "Deployment") == []


def label_namespace(kube: Kube, **labels: str) -> None:
    kube.client.resources.get(api_version="v1", kind="Namespace").patch(
        name=kube.namespace,
        body={"metadata": {"labels": labels}},
        content_type="application/merge-patch+json",
    )


def test_pod_security_warnings_are_shown_and_rejected_pods_fail_fast(project, kube, cluster, image):
    label_namespace(
        kube,
        **{
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/enforce": "restricted",
        },
    )
    project.write(stack(image), ORDER)  # the stand-in pods set no securityContext

    result = deployctl(cluster, project.root, "up", "test", "-o", "json", "--timeout", "10m")

    assert "warning: StatefulSet/db" in result.stderr and "PodSecurity" in result.stderr
    assert result.code == 1
    db = result.report["components"]["db"]
    assert db["state"] == "failed" and "FailedCreate" in db["message"] + " ".join(db["details"])


def test_a_protected_environment_needs_yes_without_a_terminal(project, kube, cluster, image):
    project.write(stack(image), ORDER, profile={"protected": True})

    refused = deployctl(cluster, project.root, "up", "test")
    confirmed = deployctl(cluster, project.root, "up", "test", "--yes")

    assert refused.code == 2
    assert "protected" in refused.stderr and "--yes" in refused.stderr
    assert confirmed.code == 0, confirmed.stderr


def test_an_unreachable_cluster_is_exit_2(project, tmp_path, cluster, image):
    project.write(stack(image), ORDER)
    kubeconfig = tmp_path / "nowhere"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: x}}]\n"
        "contexts: [{name: nowhere, context: {cluster: c, user: u}}]\n"
    )
    wrong = type(cluster)(cluster.provider, kubeconfig, "nowhere")

    unknown_context = deployctl(cluster, project.root, "up", "test", "--context", "nope")
    unreachable = deployctl(wrong, project.root, "up", "test", "--context", "nowhere")

    assert unknown_context.code == 2 and 'no context "nope"' in unknown_context.stderr
    assert unreachable.code == 2 and "does not answer" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr


def crd_and_widget(group: str, size) -> list[dict]:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}", "labels": labels("platform", "widgets")},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    widget = {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "labels": labels("api", "w")},
        "spec": {"size": size},
    }
    return [crd, widget]


@pytest.fixture
def crd_group(kube: Kube, client):
    group = f"{kube.namespace[-5:]}.test.deployctl.dev"
    yield group
    definitions = client.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    with contextlib.suppress(Exception):
        definitions.delete(name=f"widgets.{group}")


def test_a_new_crd_is_created_first_so_its_objects_can_be_validated(
    project, kube, cluster, image, crd_group
):
    project.write([*crd_and_widget(crd_group, 3), *stack(image)], ORDER)

    planned = deployctl(cluster, project.root, "plan", "test", "-o", "json")
    result = deployctl(cluster, project.root, "up", "test")

    assert planned.code == 0, planned.stderr  # read-only: the new kind is not checked yet
    assert {"object": f"Widget/w in namespace {kube.namespace}", "action": "create"} in (
        planned.report["objects"]
    )
    assert result.code == 0, result.stderr
    widget = kube.client.resources.get(api_version=f"{crd_group}/v1", kind="Widget").get(
        name="w", namespace=kube.namespace
    )
    assert widget.spec.size == 3


def test_a_new_crd_is_removed_again_when_validation_fails(
    project, kube, client, cluster, image, crd_group
):
    project.write([*crd_and_widget(crd_group, "big"), *stack(image)], ORDER)

    result = deployctl(cluster, project.root, "up", "test")

    assert result.code == 2
    assert "Widget/w" in result.stderr and "spec.size" in result.stderr
    definitions = client.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    left = [d for d in definitions.get().items if d.metadata.name == f"widgets.{crd_group}"]
    assert not left or left[0].metadata.deletionTimestamp
    assert kube.list("apps/v1", "Deployment") == []


def write_unschedulable_api(
    project: Project, image, grace: str, api_timeout: str | None = None
) -> None:
    """The stack with an api asking for more CPU than any node has, and a short grace."""
    greedy = deployment("api", image("v1"))
    greedy["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "1000"}}
    objects = stack(image)
    objects[3] = greedy
    timeouts = {"component": "2m", "unschedulable": grace}
    if api_timeout:
        timeouts["components"] = {"api": api_timeout}
    project.write(objects, ORDER, profile={"timeouts": timeouts})


def test_an_unschedulable_pod_fails_after_the_grace_unless_nodes_are_coming(
    project, kube, cluster, image
):
    write_unschedulable_api(project, image, grace="3s")

    result = deployctl(cluster, project.root, "up", "test", "-o", "json")

    assert result.code == 1
    message = result.report["components"]["api"]["message"]
    assert "unschedulable for 3 s" in message and "Insufficient cpu" in message


def test_a_reported_scale_up_extends_the_unschedulable_grace(project, kube, cluster, image):
    # api's own timeout: db's volume takes its time on a real cluster (kind).
    write_unschedulable_api(project, image, grace="2s", api_timeout="12s")

    def autoscaler() -> None:
        # Play the cluster autoscaler: report a scale-up for the pod as soon as it exists.
        (pod,) = kube.wait_for(
            "v1", "Pod", lambda pods: len(pods) == 1, label_selector="app.kubernetes.io/name=api"
        )
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{pod['metadata']['name']}.scaleup"},
                "involvedObject": {
                    "kind": "Pod",
                    "name": pod["metadata"]["name"],
                    "namespace": kube.namespace,
                },
                "reason": "TriggeredScaleUp",
                "message": "pod triggered scale-up: [{pool 0->1 (max: 3)}]",
                "type": "Normal",
                "source": {"component": "cluster-autoscaler"},
            }
        )

    helper = threading.Thread(target=autoscaler)
    helper.start()
    result = deployctl(cluster, project.root, "up", "test", "-o", "json")
    helper.join()

    assert result.code == 1
    message = result.report["components"]["api"]["message"]
    assert "timed out after 12 s" in message and "unschedulable" not in message


def test_a_field_that_cannot_change_in_place_is_refused_with_what_to_do(
    project, kube, cluster, image
):
    project.write(stack(image), ORDER)
    assert deployctl(cluster, project.root, "up", "test").code == 0
    changed = stack(image)
    changed[1]["spec"]["serviceName"] = "db-renamed"  # a StatefulSet field fixed at creation
    project.write(changed, ORDER)

    refused = deployctl(cluster, project.root, "up", "test")

    assert refused.code == 2, refused.stderr
    assert "StatefulSet" in refused.stderr and "cannot change in place" in refused.stderr
    assert kube.get("apps/v1", "StatefulSet", "db")["spec"]["serviceName"] == "db"
