"""Small helpers for end-to-end tests: a dynamic client and watch-based waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import config, dynamic, watch
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

Obj = dict[str, Any]


@dataclass
class Cluster:
    """A cluster under test: where it is and which provider made it."""

    provider: str
    kubeconfig: Path
    context: str

    def client(self) -> dynamic.DynamicClient:
        api: ApiClient = config.new_client_from_config(
            config_file=str(self.kubeconfig), context=self.context, persist_config=False
        )
        return dynamic.DynamicClient(api)


class Kube:
    """Plain-dict access to one namespace of a cluster."""

    def __init__(self, client: dynamic.DynamicClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    def resource(self, api_version: str, kind: str):
        return self.client.resources.get(api_version=api_version, kind=kind)

    def create(self, obj: Obj) -> Obj:
        resource = self.resource(obj["apiVersion"], obj["kind"])
        namespace = self.namespace if resource.namespaced else None
        return resource.create(body=obj, namespace=namespace).to_dict()

    def get(self, api_version: str, kind: str, name: str) -> Obj | None:
        try:
            return (
                self.resource(api_version, kind).get(name=name, namespace=self.namespace).to_dict()
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, **selectors: str) -> list[Obj]:
        items = self.resource(api_version, kind).get(namespace=self.namespace, **selectors)
        return items.to_dict()["items"]

    def patch(self, api_version: str, kind: str, name: str, patch: Obj) -> Obj:
        return (
            self.resource(api_version, kind)
            .patch(
                name=name,
                namespace=self.namespace,
                body=patch,
                content_type="application/strategic-merge-patch+json",
            )
            .to_dict()
        )

    def delete(self, api_version: str, kind: str, name: str) -> None:
        self.resource(api_version, kind).delete(name=name, namespace=self.namespace)

    def wait_for(
        self,
        api_version: str,
        kind: str,
        predicate: Callable[[list[Obj]], bool],
        *,
        timeout: float = 60,
        what: str = "",
        **selectors: str,
    ) -> list[Obj]:
        """Watch a kind in the namespace until predicate(all current objects) holds."""
        resource = self.resource(api_version, kind)
        deadline = time.monotonic() + timeout
        objects: dict[str, Obj] = {}
        while True:
            listing = resource.get(namespace=self.namespace, **selectors)
            objects = {o.metadata.name: o.to_dict() for o in listing.items}
            if predicate(list(objects.values())):
                return list(objects.values())
            version = listing.metadata.resourceVersion
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                for event in resource.watch(
                    namespace=self.namespace,
                    resource_version=version,
                    timeout=max(1, int(remaining)),
                    watcher=watch.Watch(),
                    **selectors,
                ):
                    obj = event["raw_object"]
                    name = obj["metadata"]["name"]
                    if event["type"] == "DELETED":
                        objects.pop(name, None)
                    elif event["type"] in ("ADDED", "MODIFIED"):
                        objects[name] = obj
                    if predicate(list(objects.values())):
                        return list(objects.values())
                    if time.monotonic() > deadline:
                        break
            except ApiException as error:
                if error.status != 410:  # expired resourceVersion: list again
                    raise
            if time.monotonic() > deadline:
                break
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what or kind}; last seen: "
            + "; ".join(f"{name}: {summarize(o)}" for name, o in objects.items())
        )

    def wait_for_one(self, api_version: str, kind: str, name: str, predicate, **kw) -> Obj:
        found = self.wait_for(
            api_version,
            kind,
            lambda objs: any(o["metadata"]["name"] == name and predicate(o) for o in objs),
            field_selector=f"metadata.name={name}",
            what=f"{kind} {name}",
            **kw,
        )
        return next(o for o in found if o["metadata"]["name"] == name)


def summarize(obj: Obj) -> str:
    status = obj.get("status") or {}
    return str({k: v for k, v in status.items() if k not in ("conditions",)})[:300]


def pod_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def waiting_reasons(pod: Obj) -> set[str]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return {
        s["state"]["waiting"]["reason"] for s in statuses if (s.get("state") or {}).get("waiting")
    }


def deployment_complete(deployment: Obj) -> bool:
    """kubectl rollout status semantics for a Deployment."""
    spec, status = deployment["spec"], deployment.get("status") or {}
    replicas = spec.get("replicas", 1)
    return (
        status.get("observedGeneration", 0) >= deployment["metadata"]["generation"]
        and status.get("updatedReplicas", 0) >= replicas
        and status.get("replicas", 0) <= status.get("updatedReplicas", 0)
        and status.get("availableReplicas", 0) >= status.get("updatedReplicas", 0)
    )
