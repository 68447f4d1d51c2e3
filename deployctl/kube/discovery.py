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

from .errors import NotFound, NotServed

Obj = dict[str, Any]
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
            raise NotServed(
                f"{kind} ({api_version}): the cluster does not serve this kind; "
                "is its CRD installed?"
            ) from None

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
