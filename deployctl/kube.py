"""The only module that imports `kubernetes`: connect, discover, apply, get, list, watch, delete.

The official client loads the kubeconfig (contexts, credentials, exec
plugins, TLS); every request after that goes through one request builder
here, `Cluster.request`, as lightkube does: plain dicts in and out (no typed
models, no per-object wrappers), one retry policy, one limit on requests in
flight shared by the whole run, and one counter of requests by verb.

Retries (tenacity): connection errors, 429 (honouring Retry-After, which API
Priority and Fairness sends when it rejects) and 500/502/503/504, with
backoff; anything else (validation, conflicts, 403, 404) is not retried. A
429 also halves the in-flight limit for a while. API failures become typed
errors that name the object.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import urllib3
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from deployctl import __version__, model
from deployctl.errors import DeployctlError

Obj = dict[str, Any]
T = TypeVar("T")
FIELD_MANAGER = "deployctl"
REQUEST_TIMEOUT = 30  # seconds, for every non-watch call: a dropped connection never hangs
RETRYABLE_STATUS = {429, 500, 502, 503, 504}
# Requests in flight at once, for the whole run (kube-apiserver's own default is 400).
IN_FLIGHT = 16
APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML: the body is sent as JSON
AGGREGATED_DISCOVERY = ",".join(
    (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
        "application/json",
    )
)


class KubeError(DeployctlError):
    """The API refused or failed a request; names the object when there is one."""

    def __init__(self, message: str, status: int | None = None, body: Obj | None = None):
        super().__init__(message)
        self.status = status
        self.body = body or {}


class Unreachable(KubeError):
    """No answer from the API server (exit 2: nothing was changed)."""


class BadKubeconfig(KubeError):
    """The kubeconfig is missing or unreadable (exit 2)."""


class Forbidden(KubeError):
    pass


class NotFound(KubeError):
    pass


class Invalid(KubeError):
    """The server rejected an object: schema, strict field validation, admission, immutability."""


class NotServed(Invalid):
    """The cluster has no such kind (yet): its CRD is missing."""


class ApplyConflict(KubeError):
    """Fields of the object are owned by another field manager."""


class Gone(KubeError):
    """A watch's resourceVersion is too old: list again."""


class StatusError(Exception):
    """A non-2xx answer, before translation: what the retry policy looks at."""

    def __init__(self, status: int, body: bytes = b"", headers: Any = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers or {}


ref = model.ref  # how messages name an object


def _translate(error: StatusError, what: str) -> KubeError:
    try:
        body = json.loads(error.body) if error.body else {}
    except (TypeError, ValueError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = body.get("message") or f"HTTP {error.status}"
    status = error.status
    if status == 409 and body.get("reason") == "Conflict" and "conflict" in message.lower():
        return ApplyConflict(f"{what}: {message}", status, body)
    kinds: dict[int, type[KubeError]] = {
        401: Forbidden,
        403: Forbidden,
        404: NotFound,
        410: Gone,
        422: Invalid,
        400: Invalid,
    }
    return kinds.get(status, KubeError)(f"{what}: {message}", status, body)


_CONNECTION_ERRORS = (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)


def _retryable(error: BaseException) -> bool:
    if isinstance(error, StatusError):
        return error.status in RETRYABLE_STATUS
    return isinstance(error, _CONNECTION_ERRORS)


def _wait(state: RetryCallState) -> float:
    """Retry-After when the server gives one, else exponential backoff with jitter."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, StatusError):
        retry_after = str(error.headers.get("Retry-After") or "")
        if retry_after.isdigit():
            return min(float(retry_after), 30.0)
    return _BACKOFF(state)


_BACKOFF = wait_random_exponential(multiplier=0.2, max=5)
# tenacity keeps each call's state per thread, so one instance serves every thread.
RETRYING = Retrying(
    retry=retry_if_exception(_retryable),
    wait=_wait,
    stop=stop_after_attempt(6),
    reraise=True,
)


def call(what: str, function: Callable[[], T]) -> T:
    """Run one API call under the retry policy; translate what remains into KubeErrors."""
    try:
        return RETRYING(function)
    except StatusError as error:
        raise _translate(error, what) from None
    except _CONNECTION_ERRORS as error:
        raise Unreachable(f"{what}: the API server does not answer ({error})") from None


class InFlightLimit:
    """At most `limit` requests at once; a 429 halves it, successes grow it back (AIMD)."""

    def __init__(self, limit: int = IN_FLIGHT) -> None:
        self.ceiling = limit
        self.limit = limit
        self.in_flight = 0
        self._successes = 0
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        with self._changed:
            while self.in_flight >= self.limit:
                self._changed.wait()
            self.in_flight += 1

    def __exit__(self, *_: object) -> None:
        with self._changed:
            self.in_flight -= 1
            self._changed.notify()

    def throttled(self) -> None:
        with self._changed:
            self.limit = max(1, self.limit // 2)
            self._successes = 0

    def succeeded(self) -> None:
        with self._changed:
            if self.limit >= self.ceiling:
                return
            self._successes += 1
            if self._successes >= self.limit:
                self.limit += 1
                self._successes = 0
                self._changed.notify_all()


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


class Cluster:
    """One connection to one kube context: discovery once per run, then plain requests."""

    def __init__(self, configuration: Any, pool: urllib3.PoolManager, context: str) -> None:
        self.configuration = configuration
        self.pool = pool
        self.context = context
        self.limit = InFlightLimit()
        self.requests: Counter[str] = Counter()
        self._counting = threading.Lock()
        self._resources: dict[tuple[str, str], Resource] | None = None
        self._aggregated = True
        self._discovering = threading.Lock()
        self._local = threading.local()

    @classmethod
    def connect(cls, context: str, kubeconfig: str | Path | None = None) -> Cluster:
        import yaml
        from kubernetes import config as k8s_config

        where = _check_kubeconfig(kubeconfig)
        try:
            contexts, _ = k8s_config.list_kube_config_contexts(
                config_file=str(kubeconfig) if kubeconfig else None
            )
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            at = f" (line {mark.line + 1})" if mark else ""
            raise BadKubeconfig(f"{where}: not valid YAML{at}; fix or replace it") from None
        except (k8s_config.ConfigException, OSError) as error:
            raise BadKubeconfig(f"{where}: {error}") from None
        names = [c["name"] for c in contexts]
        if context not in names:
            where = kubeconfig or "the kubeconfig"
            raise Unreachable(
                f'{where}: no context "{context}" (it has: {", ".join(names) or "none"})'
            )
        try:
            api = k8s_config.new_client_from_config(
                config_file=str(kubeconfig) if kubeconfig else None,
                context=context,
                persist_config=False,
            )
        except (k8s_config.ConfigException, OSError, ValueError) as error:
            raise Unreachable(f"context {context}: cannot use its credentials: {error}") from None
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
        date = getattr(self._local, "date", None)
        if not date:
            return None
        try:
            return parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return None

    def take_warnings(self) -> list[str]:
        """Warnings the server sent to this thread's calls since the last take."""
        return self._local.__dict__.pop("warnings", [])

    # -- discovery ---------------------------------------------------------------------

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

    def forget_discovery(self) -> None:
        """After a CRD is created: the next lookup asks the server again."""
        with self._discovering:
            self._resources = None

    # -- reads -------------------------------------------------------------------------

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        resource = self.resource(api_version, kind)
        try:
            return self.request(f"{kind}/{name}", "get", "GET", resource.path(namespace, name))
        except NotFound:
            return None

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
        except _CONNECTION_ERRORS:
            return
        try:
            if response.status in RETRYABLE_STATUS:  # throttled or failing: the caller resumes
                self._back_off(response.status, response.headers)
                return
            if response.status != 200:
                raise _translate(StatusError(response.status, response.read()), f"watch {kind}")
            for line in _lines(response):
                try:
                    event = json.loads(line)
                except ValueError:
                    return  # cut mid-event: the caller resumes from the last version
                kind_, obj = event.get("type"), event.get("object") or {}
                if kind_ == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone(f"watch {kind}: resourceVersion expired", 410, obj)
                    if obj.get("code") in RETRYABLE_STATUS:
                        return
                    raise KubeError(f"watch {kind}: {obj.get('message')}", obj.get("code"), obj)
                yield kind_, obj
        except _CONNECTION_ERRORS:
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


def _check_kubeconfig(kubeconfig: str | Path | None) -> str:
    """Name the kubeconfig file(s) in use; every file named must exist, as kubectl says."""
    import os

    given = str(kubeconfig) if kubeconfig else os.environ.get("KUBECONFIG", "")
    paths = [p for p in given.split(os.pathsep) if p] or [str(Path.home() / ".kube" / "config")]
    # As kubectl: files of a list that do not exist are skipped, but one must.
    if kubeconfig and not any(Path(p).expanduser().is_file() for p in paths):
        raise BadKubeconfig(
            f"kubeconfig {given}: no such file; pass an existing --kubeconfig (or fix KUBECONFIG)"
        )
    return ", ".join(paths)


def _selectors(label: str | None, field: str | None) -> list[tuple[str, str]]:
    query = []
    if label:
        query.append(("labelSelector", label))
    if field:
        query.append(("fieldSelector", field))
    return query


def _lines(response: Any) -> Iterator[bytes]:
    """Newline-delimited JSON of a watch stream, as the bytes arrive."""
    pending = b""
    for chunk in response.stream(64 * 1024, decode_content=True):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
    if pending.strip():
        yield pending


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
