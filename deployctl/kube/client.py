"""The cluster: one request builder, and get, list, watch, apply and delete over it.

The official client loads the kubeconfig (kubeconfig.py); every request after
that goes through one request builder here, `Cluster.request`, as lightkube
does: plain dicts in and out (no typed models, no per-object wrappers), one
retry policy, one limit on requests in flight (limits.py), and one counter of
requests by verb.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from deployctl import __version__, model
from deployctl.model import Obj, ObjectRef

from .clock import ServerClock, parse_date
from .discovery import Discovery, Resource
from .errors import CONNECTION_ERRORS, KubeError, NotFound, StatusError, translate
from .kubeconfig import api_client
from .limits import IN_FLIGHT, RETRYABLE_STATUS, InFlightLimit, call
from .watch import read_events

FIELD_MANAGER = "deployctl"
REQUEST_TIMEOUT = 30  # seconds, for every non-watch call: a dropped connection never hangs
APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML: the body is sent as JSON

ref = model.ref  # how messages name an object


class Cluster:
    """One connection to one kube context: discovery once per run, then plain requests."""

    def __init__(self, configuration: Any, pool: urllib3.PoolManager, context: str) -> None:
        self.configuration = configuration
        self.pool = pool
        self.context = context
        self.limit = InFlightLimit()
        self.requests: Counter[str] = Counter()
        self._counting = threading.Lock()
        self.discovery = Discovery(self.request, context)
        self._local = threading.local()
        self.clock = ServerClock()  # the API server's clock, from every answer's Date

    @classmethod
    def connect(cls, context: str, kubeconfig: str | Path | None = None) -> Cluster:
        api = api_client(context, kubeconfig)
        pool = api.rest_client.pool_manager
        pool.connection_pool_kw["maxsize"] = IN_FLIGHT + 8  # the limit, plus the watches
        return cls(api.configuration, pool, context)

    @property
    def server(self) -> str:
        return self.configuration.host

    # -- the one request builder ------------------------------------------------------

    def request(
        self,
        what: str,
        verb: str,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        body: Obj | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Any:
        """Send one request under the retry policy and the in-flight limit; parsed JSON back."""

        def attempt() -> Any:
            with self.limit:
                self._count(verb)
                response = self._send(method, path, query, body, content_type, accept)
            self.clock.observe(response.headers.get("Date"))
            if response.status == 429:
                self.limit.throttled()
            if not 200 <= response.status < 300:
                raise StatusError(response.status, response.data, response.headers)
            self.limit.succeeded()
            self._local.date = response.headers.get("Date")
            if warning := response.headers.get("Warning"):
                self._local.__dict__.setdefault("warnings", []).append(_warning_text(warning))
            if "json" not in (response.headers.get("Content-Type") or "json"):
                return response.data.decode(errors="replace")
            return json.loads(response.data) if response.data else {}

        return call(what, attempt)

    def _send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None,
        body: Obj | None,
        content_type: str,
        accept: str,
        *,
        stream: bool = False,
        timeout: float = REQUEST_TIMEOUT,
    ) -> Any:
        headers = {"Accept": accept, "User-Agent": f"deployctl/{__version__}"}
        for setting in self.configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        encoded = None
        if body is not None:
            headers["Content-Type"] = content_type
            encoded = json.dumps(body, separators=(",", ":")).encode()
        url = self.configuration.host + path + (f"?{urlencode(query)}" if query else "")
        return self.pool.request(
            method,
            url,
            body=encoded,
            headers=headers,
            timeout=urllib3.Timeout(connect=10, read=timeout),
            retries=False,  # tenacity retries, with backoff, at the operation level
            preload_content=not stream,
        )

    def _count(self, verb: str) -> None:
        with self._counting:
            self.requests[verb] += 1

    def request_counts(self) -> dict[str, Any]:
        """Requests sent so far by verb (retries included), for the JSON report."""
        with self._counting:
            by_verb = dict(sorted(self.requests.items()))
        return {"total": sum(by_verb.values()), "by_verb": by_verb}

    def server_time(self) -> datetime | None:
        """The API server's clock, from the Date of this thread's last answer (1 s precision)."""
        return parse_date(getattr(self._local, "date", None))

    def server_now(self) -> datetime:
        """The API server's clock now (within about a second): what every time-based verdict
        is judged on. Asks the server once if no answer has told it yet."""
        if not self.clock.known:
            self.request("version", "get", "GET", "/version")
        now = self.clock.now()
        if now is None:  # a server that sends no Date: nothing better to go on
            return datetime.now(UTC)
        return now

    def take_warnings(self) -> list[str]:
        """Warnings the server sent to this thread's calls since the last take."""
        return self._local.__dict__.pop("warnings", [])

    # -- discovery ---------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> Resource:
        return self.discovery.resource(api_version, kind)

    def serves(self, api_version: str, kind: str) -> bool:
        return self.discovery.serves(api_version, kind)

    def forget_discovery(self) -> None:
        """After a CRD is created: the next lookup asks the server again."""
        self.discovery.forget()

    # -- reads -------------------------------------------------------------------------

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        resource = self.resource(api_version, kind)
        try:
            return self.request(f"{kind}/{name}", "get", "GET", resource.path(namespace, name))
        except NotFound:
            return None

    def read(self, target: Obj | ObjectRef) -> Obj | None:
        """The live copy of an object (or of what an ObjectRef names), or None."""
        at = target if isinstance(target, ObjectRef) else ObjectRef.of(target)
        return self.get(at.api_version, at.kind, at.name, at.namespace)

    def remove(self, target: Obj | ObjectRef, **options: Any) -> bool:
        """Delete an object (or what an ObjectRef names); False when it was already gone."""
        at = target if isinstance(target, ObjectRef) else ObjectRef.of(target)
        return self.delete(at.api_version, at.kind, at.name, at.namespace, **options)

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Obj], str]:
        resource = self.resource(api_version, kind)
        query = _selectors(label_selector, field_selector)
        listing = self.request(f"list {kind}", "list", "GET", resource.path(namespace), query)
        items = listing.get("items") or []
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items, (listing.get("metadata") or {}).get("resourceVersion", "")

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        resource_version: str,
        timeout: float,
        label_selector: str | None = None,
    ) -> Iterator[tuple[str, Obj]]:
        """(event type, object) pairs until `timeout` seconds pass; Gone on a stale version.

        A dropped connection ends the iteration early: the caller resumes from
        the last resourceVersion it saw.
        """
        resource = self.resource(api_version, kind)
        seconds = max(1, int(timeout))
        query = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(seconds)),
            *_selectors(label_selector, None),
        ]
        self._count("watch")
        try:
            # Without a client-side timeout a silently dropped connection hangs forever.
            response = self._send(
                "GET",
                resource.path(namespace),
                query,
                None,
                "",
                "application/json",
                stream=True,
                timeout=seconds + 10,
            )
        except CONNECTION_ERRORS:
            return
        try:
            if response.status in RETRYABLE_STATUS:  # throttled or failing: the caller resumes
                self._back_off(response.status, response.headers)
                return
            if response.status != 200:
                raise translate(StatusError(response.status, response.read()), f"watch {kind}")
            yield from read_events(response, kind)
        except CONNECTION_ERRORS:
            return
        finally:
            response.close()  # a watch left mid-stream must not go back to the pool as is
            response.release_conn()

    def _back_off(self, status: int, headers: Any) -> None:
        """A watch refused for load: wait as the server asks (Retry-After), bounded."""
        if status == 429:
            self.limit.throttled()
        retry_after = str(headers.get("Retry-After") or "")
        time.sleep(min(float(retry_after), 10.0) if retry_after.isdigit() else 1.0)

    # -- writes ------------------------------------------------------------------------

    def apply(
        self,
        obj: Obj,
        *,
        dry_run: bool = False,
        force: bool = False,
        manager: str = FIELD_MANAGER,
    ) -> Obj:
        """Server-side apply of a complete object, by field manager `deployctl` unless told."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        body = _apply_body(obj)
        meta = body["metadata"]
        query = [("fieldManager", manager), ("fieldValidation", "Strict")]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        return self.request(
            ref(obj),
            "dry-run" if dry_run else "apply",
            "PATCH",
            resource.path(meta.get("namespace"), meta["name"]),
            query,
            body,
            APPLY_PATCH,
        )

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
        dry_run: bool = False,
        preconditions: dict[str, str] | None = None,
    ) -> bool:
        """Delete; False when it was already gone."""
        resource = self.resource(api_version, kind)
        body: Obj = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        if preconditions:
            body["preconditions"] = preconditions
        if dry_run:
            body["dryRun"] = ["All"]
        try:
            self.request(
                f"{kind}/{name}", "delete", "DELETE", resource.path(namespace, name), body=body
            )
        except NotFound:
            return False
        return True

    def create(self, obj: Obj) -> Obj:
        resource = self.resource(obj["apiVersion"], obj["kind"])
        path = resource.path(obj["metadata"].get("namespace"))
        return self.request(ref(obj), "create", "POST", path, body=obj)

    def replace(self, obj: Obj) -> Obj:
        """PUT with the object's resourceVersion: fails with a conflict if it changed."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        path = resource.path(meta.get("namespace"), meta["name"])
        return self.request(ref(obj), "update", "PUT", path, body=obj)

    def pod_logs(self, namespace: str, pod: str, container: str, lines: int = 20) -> str | None:
        """The last log lines, where the cluster has them (kwok's pods have none)."""
        path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/log"
        query = [("container", container), ("tailLines", str(lines))]
        try:
            text = self.request(f"logs of pod {pod}", "get", "GET", path, query, accept="*/*")
        except KubeError:
            return None
        return text if isinstance(text, str) else None


def _selectors(label: str | None, field: str | None) -> list[tuple[str, str]]:
    query = []
    if label:
        query.append(("labelSelector", label))
    if field:
        query.append(("fieldSelector", field))
    return query


def _warning_text(header: str) -> str:
    """'299 - "message"' -> message (several warnings are comma-joined)."""
    parts = [p.strip() for p in header.split('", 299 - "')]
    return "; ".join(p.removeprefix('299 - "').removesuffix('"') for p in parts)


def _apply_body(obj: Obj) -> Obj:
    body = {k: v for k, v in obj.items() if k != "status"}
    metadata = dict(body.get("metadata") or {})
    for key in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"):
        metadata.pop(key, None)
    body["metadata"] = metadata
    return body
