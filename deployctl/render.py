"""Rendering: an environment's overlay (or Helm chart) -> a list of plain dict objects.

The manifests stay plain Kustomize (usable with `kubectl apply -k`), or a plain
Helm chart rendered with `helm template`; deployctl adds two things at render
time: the profile's namespace replaces the source's, and the Secrets that
`manifests/secrets.yaml` declares are built from the environment's values (see
`secrets.py`), in place of any Secret of the same name the source has.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import yaml

from deployctl import model, overrides, rendercache, secrets
from deployctl.errors import ConfigError
from deployctl.model import Obj
from deployctl.profile import Profile, Source

COMPONENT_LABEL = model.COMPONENT_LABEL


def kustomize_command() -> list[str]:
    """How to build: $DEPLOYCTL_KUSTOMIZE, kustomize on PATH, the cached build, or kubectl."""
    if explicit := os.environ.get("DEPLOYCTL_KUSTOMIZE"):
        return [explicit, "build"]
    if found := shutil.which("kustomize"):
        return [found, "build"]
    from deployctl.cluster import binaries

    cached = binaries.toolset().kustomize
    if cached.exists():
        return [str(cached), "build"]
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    raise ConfigError(
        "no kustomize found: install kustomize or kubectl, or run `deployctl cluster build`"
    )


# libyaml's safe loader and dumper when PyYAML has them: the pure-Python ones take
# seconds over a thousand objects.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


# Each source is rendered once per process (callers copy before they change anything).
_renders: dict[tuple[Source, str], Future[list[Obj]]] = {}
_renders_lock = threading.Lock()


def start_render(profile: Profile) -> None:
    """Start rendering the profile's source in the background, while the cluster is being
    reached; `build` picks the result up (or its error)."""
    key = (profile.source, profile.namespace)
    with _renders_lock:  # the clusters of an environment render from their own threads
        if key not in _renders:
            _renders[key] = ThreadPoolExecutor(1).submit(_build, profile.source, profile.namespace)


def build(profile: Profile) -> list[Obj]:
    """The profile's source rendered; an error becomes a one-line ConfigError naming it."""
    start_render(profile)
    return _renders[(profile.source, profile.namespace)].result()


def _build(source: Source, namespace: str) -> list[Obj]:
    if source.chart:
        return _helm_template(source, namespace)
    return _kustomize_build(source.path)


def helm_command() -> str:
    """$DEPLOYCTL_HELM, helm on PATH, or the cached build (built from source on first use)."""
    if explicit := os.environ.get("DEPLOYCTL_HELM"):
        return explicit
    if found := shutil.which("helm"):
        return found
    from deployctl.cluster import binaries

    return str(binaries.ensure_tool(binaries.HELM).helm)


def _helm_template(source: Source, namespace: str) -> list[Obj]:
    command = [helm_command(), "template", source.release or "", str(source.path)]
    command += ["--namespace", namespace]
    for values in source.values:
        command += ["--values", str(values)]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except OSError as error:
        raise ConfigError(f"{command[0]}: cannot run helm ({error})") from None
    if result.returncode != 0:
        message = " ".join(result.stderr.strip().removeprefix("Error:").split())
        raise ConfigError(f"{source.path}: helm template failed: {message}")
    try:
        return [doc for doc in yaml.load_all(result.stdout, Loader=_LOADER) if doc]
    except yaml.YAMLError as error:
        raise ConfigError(f"{source.path}: helm produced invalid YAML: {error}") from None


def _kustomize_build(overlay: Path) -> list[Obj]:
    command = [*kustomize_command(), str(overlay)]
    digest = rendercache.key(overlay, command)
    if digest and (cached := rendercache.load(digest)) is not None:
        return cached
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except OSError as error:
        raise ConfigError(f"{command[0]}: cannot run kustomize ({error})") from None
    if result.returncode != 0:
        message = " ".join(result.stderr.strip().split())
        raise ConfigError(f"{overlay}: kustomize build failed: {message}")
    try:
        objects = [doc for doc in yaml.load_all(result.stdout, Loader=_LOADER) if doc]
    except yaml.YAMLError as error:
        raise ConfigError(f"{overlay}: kustomize produced invalid YAML: {error}") from None
    if digest and rendercache.key(overlay, command) == digest:  # no file changed meanwhile
        rendercache.store(digest, objects)
    return objects


def render_environment(
    project: Path,
    profile: Profile,
    values: secrets.Values | None = None,
    generated: dict[str, list[str]] | None = None,
) -> list[Obj]:
    """The environment's objects: its overlay in its namespace, plus its Secrets.

    Without `values` the Secrets carry masked placeholders (render, plan, diff).
    """
    objects = set_namespace(build(profile), profile.namespace)
    specs = secrets.load_specs(project)
    if values is None:
        values = secrets.placeholders(specs)
    ours = {spec.name for spec in specs}
    objects = [o for o in objects if not (o["kind"] == "Secret" and _name(o) in ours)]
    objects += secrets.secret_objects(specs, values, profile.namespace, generated)
    profile.check_components(components_of(objects))
    where = f"{profile.path}: " + (f"stages.{profile.cluster}." if profile.cluster else "")
    return overrides.apply(objects, profile.images, profile.replicas, where)


def _name(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def components_of(objects: Iterable[Obj]) -> set[str]:
    return {
        label
        for o in objects
        if (label := ((o.get("metadata") or {}).get("labels") or {}).get(COMPONENT_LABEL))
    }


# Kubernetes' own cluster-scoped kinds; every other kind is namespaced unless a CRD
# of the same render says otherwise (and validation asks the cluster's discovery).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IngressClass",
        "IPAddress",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "ServiceCIDR",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)


def cluster_scoped_kinds(objects: Iterable[Obj]) -> set[str]:
    """The built-in cluster-scoped kinds, and those of this render's cluster-scoped CRDs."""
    kinds = set(CLUSTER_SCOPED_KINDS)
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj.get("kind") == "CustomResourceDefinition" and spec.get("scope") == "Cluster":
            kinds.add((spec.get("names") or {}).get("kind", ""))
    return kinds


def set_namespace(objects: Iterable[Obj], namespace: str) -> list[Obj]:
    """Put every namespaced object (and the Namespace itself) in `namespace`.

    An object with metadata.namespace is namespaced; so is one without, unless
    its kind is cluster-scoped (an overlay need not set `namespace:`). References
    to the old namespaces in RoleBinding subjects move with them.
    """
    objects = list(objects)
    scoped = cluster_scoped_kinds(objects)
    moved: list[Obj] = []
    old_namespaces = {o["metadata"]["name"] for o in objects if o.get("kind") == "Namespace"} | {
        o["metadata"]["namespace"] for o in objects if o.get("metadata", {}).get("namespace")
    }
    for obj in objects:
        obj = _copy(obj)
        metadata = obj.setdefault("metadata", {})
        if obj.get("kind") == "Namespace":
            metadata["name"] = namespace
        elif metadata.get("namespace") or obj.get("kind") not in scoped:
            metadata["namespace"] = namespace
        if obj.get("kind") in ("RoleBinding", "ClusterRoleBinding"):
            for subject in obj.get("subjects") or []:
                if subject.get("kind") == "ServiceAccount" and (
                    subject.get("namespace") in old_namespaces or not subject.get("namespace")
                ):
                    subject["namespace"] = namespace
        moved.append(obj)
    return moved


def to_yaml(objects: Iterable[Obj]) -> str:
    return yaml.dump_all(list(objects), Dumper=_DUMPER, sort_keys=False, default_flow_style=False)


object_ref = model.ref  # how messages name an object


def _copy(obj: Obj) -> Obj:
    return copy.deepcopy(obj)
