"""Which kinds the server serves, and where: aggregated discovery, once per run.

Two requests (`/api`, `/apis`) answer for every kind when the server speaks
aggregated discovery (APIGroupDiscoveryList); an older server is asked per
group version, as a kind is first needed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from deployctl.model import Obj

from .errors import NotFound, NotServed

AGGREGATED_DISCOVERY = ",".join(
    (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
        "application/json",
    )
)


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def prefix(self) -> str:
        return (
            f"/api/{self.api_version}"
            if "/" not in self.api_version
            else f"/apis/{self.api_version}"
        )

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        where = f"/namespaces/{quote(namespace)}" if self.namespaced and namespace else ""
        return f"{self.prefix}{where}/{self.plural}" + (f"/{quote(name)}" if name else "")


def _resources_from_discovery(document: Obj) -> dict[tuple[str, str], Resource]:
    """Kinds from an aggregated discovery document (APIGroupDiscoveryList)."""
    found: dict[tuple[str, str], Resource] = {}
    for group in document.get("items") or []:
        group_name = (group.get("metadata") or {}).get("name", "")
        for version in group.get("versions") or []:
            api_version = f"{group_name}/{version['version']}" if group_name else version["version"]
            for entry in version.get("resources") or []:
                kind = (entry.get("responseKind") or {}).get("kind")
                if kind and "/" not in entry["resource"]:
                    found[(api_version, kind)] = Resource(
                        api_version, kind, entry["resource"], entry.get("scope") == "Namespaced"
                    )
    return found


class Discovery:
    """The kinds of one context, discovered through its cluster's request builder."""

    def __init__(self, request: Callable[..., Any], context: str) -> None:
        self.request = request  # Cluster.request: the retry policy, the limit, the counts
        self.context = context
        self._resources: dict[tuple[str, str], Resource] | None = None
        self._aggregated = True
        self._discovering = threading.Lock()

    def _discover(self) -> dict[tuple[str, str], Resource]:
        """Every kind the server serves, in two requests (aggregated discovery)."""
        with self._discovering:
            if self._resources is None:
                found: dict[tuple[str, str], Resource] = {}
                for root in ("/api", "/apis"):
                    document = self.request(
                        f"context {self.context}: discovery",
                        "discovery",
                        "GET",
                        root,
                        accept=AGGREGATED_DISCOVERY,
                    )
                    if document.get("kind") != "APIGroupDiscoveryList":
                        self._aggregated = False  # an older server: ask per group version
                        break
                    found.update(_resources_from_discovery(document))
                self._resources = found
            return self._resources

    def _discover_group_version(self, api_version: str) -> None:
        """Older servers: the kinds of one group version (APIResourceList)."""
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        try:
            listing = self.request(f"discovery of {api_version}", "discovery", "GET", path)
        except NotFound:
            return
        resources = self._discover()
        for entry in listing.get("resources") or []:
            if "/" not in entry["name"]:
                key = (api_version, entry["kind"])
                resources[key] = Resource(
                    api_version, entry["kind"], entry["name"], entry["namespaced"]
                )

    def resource(self, api_version: str, kind: str) -> Resource:
        resources = self._discover()
        if (api_version, kind) not in resources and not self._aggregated:
            self._discover_group_version(api_version)
        try:
            return resources[(api_version, kind)]
        except KeyError:
            raise NotServed(_not_served(kind, api_version, resources)) from None

    def serves(self, api_version: str, kind: str) -> bool:
        try:
            self.resource(api_version, kind)
        except NotServed:
            return False
        return True

    def forget(self) -> None:
        """After a CRD is created: the next lookup asks the server again."""
        with self._discovering:
            self._resources = None


# What to do when a well-known API group is missing; otherwise the generic advice.
GROUP_ADVICE = {
    "monitoring.coreos.com": (
        "install the Prometheus Operator (or at least its CRDs) in the cluster first, "
        "or deploy without these objects (leave components/monitoring out of the overlay)"
    ),
}


def _not_served(kind: str, api_version: str, resources: dict[tuple[str, str], Resource]) -> str:
    """Name the API group the cluster lacks (or the kind, when the group is there), and
    what to do about it."""
    group = api_version.rpartition("/")[0] or "core"
    if any(served.rpartition("/")[0] == group for served, _ in resources):
        return (
            f"{kind} ({api_version}): the cluster serves the API group {group}, but not "
            "this kind or version; check the apiVersion, or upgrade the CRDs of that group"
        )
    advice = GROUP_ADVICE.get(
        group, "install the CRD that defines it first, or leave these objects out"
    )
    return f"{kind} ({api_version}): the cluster does not serve the API group {group}; {advice}"
