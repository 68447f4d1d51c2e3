"""Small deployctl projects written on the fly for end-to-end tests, and a CLI runner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROBE = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 2}
READY_DELAY = "sandbox.deployctl.dev/ready-delay"


def probe(delay: str | None) -> dict[str, Any]:
    """The readiness probe; a ready delay ("12s") holds it back on a real kubelet as
    the READY_DELAY annotation does on the sandbox's simulated one."""
    if not delay:
        return PROBE
    assert delay.endswith("s") and delay[:-1].isdigit(), f"whole seconds, not {delay!r}"
    return {**PROBE, "initialDelaySeconds": int(delay[:-1])}


def labels(component: str, name: str | None = None) -> dict[str, str]:
    return {"app.kubernetes.io/name": name or component, "app.kubernetes.io/component": component}


def deployment(component: str, image: str, replicas: int | None = 1, delay: str | None = None):
    selector = labels(component)
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector},
        "template": {
            "metadata": {
                "labels": selector,
                "annotations": {READY_DELAY: delay} if delay else {},
            },
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": component, "image": image, "readinessProbe": probe(delay)}],
            },
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": component, "labels": selector},
        "spec": spec,
    }


def statefulset(component: str, image: str, delay: str | None = None, claim: bool = True):
    selector = labels(component)
    spec: dict[str, Any] = {
        "serviceName": component,
        "replicas": 1,
        "selector": {"matchLabels": selector},
        "template": {
            "metadata": {"labels": selector, "annotations": {READY_DELAY: delay} if delay else {}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": component, "image": image, "readinessProbe": probe(delay)}],
            },
        },
    }
    if claim:
        spec["template"]["spec"]["containers"][0]["volumeMounts"] = [
            {"name": "data", "mountPath": "/data"}
        ]
        spec["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": component, "labels": selector},
        "spec": spec,
    }


def service(component: str, headless: bool = False) -> dict:
    spec: dict[str, Any] = {"selector": labels(component), "ports": [{"port": 8080}]}
    if headless:
        spec["clusterIP"] = "None"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": component, "labels": labels(component)},
        "spec": spec,
    }


def configmap(name: str, component: str, data: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels(component, name)},
        "data": data,
    }


@dataclass
class Project:
    root: Path
    env: str
    namespace: str
    context: str

    def write(
        self,
        objects: list[dict],
        order: dict[str, list[str]],
        *,
        secrets: dict[str, dict] | None = None,
        profile: dict[str, Any] | None = None,
        namespace_object: bool = False,
        overlay_namespace: bool = True,
    ) -> None:
        overlay = self.root / "manifests" / "overlays" / self.env
        overlay.mkdir(parents=True, exist_ok=True)
        for old in overlay.glob("*.yaml"):
            old.unlink()
        names = []
        if namespace_object:
            objects = [
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": self.namespace, "labels": labels("platform", "namespace")},
                },
                *objects,
            ]
        for index, obj in enumerate(objects):
            name = f"{index:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
            (overlay / name).write_text(yaml.safe_dump(obj, sort_keys=False))
            names.append(name)
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": names,
        }
        if overlay_namespace:  # most people's own projects set none: the profile's is used
            kustomization["namespace"] = self.namespace
        (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        (self.root / "environments").mkdir(exist_ok=True)
        settings: dict[str, Any] = {
            "overlay": f"manifests/overlays/{self.env}",
            "context": self.context,
            "namespace": self.namespace,
            "default": True,
            "timeouts": {"component": "2m", "unschedulable": "15s"},
            "order": order,
        }
        settings.update(profile or {})
        (self.root / "environments" / f"{self.env}.yaml").write_text(yaml.safe_dump(settings))
        declaration = self.root / "manifests" / "secrets.yaml"
        if secrets:
            declaration.write_text(yaml.safe_dump(secrets))
        elif declaration.exists():
            declaration.unlink()


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def deployctl(
    cluster,
    project: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    kubeconfig: Path | None = None,
) -> Result:
    """Run the real CLI, as a user or CI would, against the test cluster (as its admin,
    unless another `kubeconfig` says who). `render` talks to no cluster: no kubeconfig."""
    command, full_env = _cli(cluster, project, args, env, kubeconfig)
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def start(
    cluster,
    project: Path,
    *args: str,
    kubeconfig: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """The CLI as `deployctl` runs it, left running: for what happens meanwhile."""
    command, full_env = _cli(cluster, project, args, env, kubeconfig)
    return subprocess.Popen(
        command,
        # Ctrl-C as a terminal sends it, whatever the suite inherited: a shell without job
        # control starts background commands with SIGINT ignored, and so their children.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )


def _cli(
    cluster, project: Path, args: tuple[str, ...], env: dict[str, str] | None, kubeconfig
) -> tuple[list[str], dict[str, str]]:
    command = [
        sys.executable,
        "-m",
        "deployctl",
        *args,
        "--project",
        str(project),
        *(
            ()
            if args[:1] == ("render",)
            else ("--kubeconfig", str(kubeconfig or cluster.kubeconfig))
        ),
    ]
    full_env = {**os.environ, **(env or {})}
    full_env.pop("DEPLOYCTL_ENV", None)
    return command, full_env
