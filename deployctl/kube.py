"""The only module that imports `kubernetes`: connect, apply, get, list, watch, delete.

Objects are plain dicts throughout. Every call goes through one retry policy
(tenacity): connection errors, 429 (honouring Retry-After) and 500/502/503/504
are retried with backoff; anything else (validation, conflicts, 403, 404) is
not. API failures become typed errors that name the object.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from deployctl.errors import DeployctlError

Obj = dict[str, Any]
T = TypeVar("T")
FIELD_MANAGER = "deployctl"
REQUEST_TIMEOUT = 30  # seconds, for every non-watch call: a dropped connection never hangs
RETRYABLE_STATUS = {429, 500, 502, 503, 504}


class KubeError(DeployctlError):
    """The API refused or failed a request; names the object when there is one."""

    def __init__(self, message: str, status: int | None = None, body: Obj | None = None):
        super().__init__(message)
        self.status = status
        self.body = body or {}


class Unreachable(KubeError):
    """No answer from the API server (exit 2: nothing was changed)."""


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


def ref(obj: Obj) -> str:
    metadata = obj.get("metadata") or {}
    name = f"{obj.get('kind', '?')}/{metadata.get('name', '?')}"
    return f"{name} in namespace {metadata['namespace']}" if metadata.get("namespace") else name


def _translate(error: ApiException, what: str) -> KubeError:
    try:
        body = json.loads(error.body) if error.body else {}
    except (TypeError, ValueError):
        body = {}
    message = body.get("message") or error.reason or str(error)
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


def _retryable(error: BaseException) -> bool:
    if isinstance(error, ApiException):
        return error.status in RETRYABLE_STATUS
    return isinstance(error, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError)


def _wait(state: RetryCallState) -> float:
    """Retry-After when the server gives one, else exponential backoff with jitter."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, ApiException) and error.headers:
        retry_after = error.headers.get("Retry-After")
        if retry_after and retry_after.isdigit():
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
    except ApiException as error:
        raise _translate(error, what) from None
    except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as error:
        raise Unreachable(f"{what}: the API server does not answer ({error})") from None


@dataclass
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool
    handle: Any


class Cluster:
    """One connection to one kube context. Discovery is done once and cached."""

    def __init__(self, api: k8s_client.ApiClient, context: str) -> None:
        self.api = api
        self.context = context
        self._dynamic: DynamicClient | None = None
        self._resources: dict[tuple[str, str], Resource] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._capture_warnings()

    def _capture_warnings(self) -> None:
        """Keep the API server's Warning headers (Pod Security, deprecations) per thread."""
        rest = self.api.rest_client
        send = rest.request

        def request(*args: Any, **kwargs: Any) -> Any:
            response = send(*args, **kwargs)
            headers = getattr(response, "headers", None) or {}
            warning = headers.get("Warning") if hasattr(headers, "get") else None
            if warning:
                self._local.__dict__.setdefault("warnings", []).append(_warning_text(warning))
            return response

        rest.request = request

    def take_warnings(self) -> list[str]:
        """Warnings the server sent to this thread's calls since the last take."""
        return self._local.__dict__.pop("warnings", [])

    @classmethod
    def connect(cls, context: str, kubeconfig: str | Path | None = None) -> Cluster:
        try:
            contexts, _ = k8s_config.list_kube_config_contexts(
                config_file=str(kubeconfig) if kubeconfig else None
            )
        except (k8s_config.ConfigException, OSError) as error:
            raise Unreachable(f"kubeconfig: {error}") from None
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
        # client-go's defaults (5 QPS) would serialise parallel applies; raise the pool.
        api.rest_client.pool_manager.connection_pool_kw["maxsize"] = 32
        return cls(api, context)

    @property
    def server(self) -> str:
        return self.api.configuration.host

    @property
    def dynamic(self) -> DynamicClient:
        with self._lock:
            if self._dynamic is None:
                self._dynamic = call(
                    f"context {self.context}: discovery",
                    lambda: DynamicClient(self.api),
                )
            return self._dynamic

    def resource(self, api_version: str, kind: str) -> Resource:
        key = (api_version, kind)
        if key not in self._resources:
            try:
                handle = call(
                    f"{kind} ({api_version})",
                    lambda: self.dynamic.resources.get(api_version=api_version, kind=kind),
                )
            except ResourceNotFoundError:
                raise NotServed(
                    f"{kind} ({api_version}): the cluster does not serve this kind; "
                    "is its CRD installed?"
                ) from None
            self._resources[key] = Resource(
                api_version, kind, handle.name, handle.namespaced, handle
            )
        return self._resources[key]

    def serves(self, api_version: str, kind: str) -> bool:
        try:
            self.resource(api_version, kind)
        except NotServed:
            return False
        return True

    def forget_discovery(self) -> None:
        """After a CRD is created: the next lookup asks the server again."""
        with self._lock:
            self._resources.clear()
            if self._dynamic is not None:
                self._dynamic.resources.invalidate_cache()

    def server_version(self) -> str:
        info = call(
            "version",
            lambda: k8s_client.VersionApi(self.api).get_code(_request_timeout=REQUEST_TIMEOUT),
        )
        return info.git_version

    # -- reads -----------------------------------------------------------------------

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        resource = self.resource(api_version, kind)
        try:
            found = call(
                f"{kind}/{name}",
                lambda: resource.handle.get(
                    name=name,
                    namespace=namespace if resource.namespaced else None,
                    _request_timeout=REQUEST_TIMEOUT,
                ),
            )
        except NotFound:
            return None
        return found.to_dict()

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Obj], str]:
        resource = self.resource(api_version, kind)
        listing = call(
            f"list {kind}",
            lambda: resource.handle.get(
                namespace=namespace if resource.namespaced else None,
                label_selector=label_selector,
                field_selector=field_selector,
                _request_timeout=REQUEST_TIMEOUT,
            ),
        ).to_dict()
        for item in listing["items"]:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return listing["items"], listing["metadata"].get("resourceVersion", "")

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        resource_version: str,
        timeout: float,
        label_selector: str | None = None,
    ) -> Iterator[tuple[str, Obj]]:
        """(event type, object) pairs until `timeout` seconds pass; Gone on a stale version."""
        from kubernetes import watch

        resource = self.resource(api_version, kind)
        seconds = max(1, int(timeout))
        stream = watch.Watch()
        try:
            for event in stream.stream(
                resource.handle.get,
                namespace=namespace if resource.namespaced else None,
                resource_version=resource_version,
                label_selector=label_selector,
                serialize=False,
                timeout_seconds=seconds,
                # Without a client-side timeout a silently dropped connection hangs forever.
                _request_timeout=seconds + 10,
            ):
                kind_ = event["type"]
                obj = event["raw_object"]
                if kind_ == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone(f"watch {kind}: resourceVersion expired", 410, obj)
                    raise KubeError(f"watch {kind}: {obj.get('message')}", obj.get("code"), obj)
                yield kind_, obj
        except ApiException as error:
            raise _translate(error, f"watch {kind}") from None
        except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError):
            return  # a dropped watch ends early; the caller lists again
        finally:
            stream.stop()

    # -- writes ----------------------------------------------------------------------

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
        namespace = body["metadata"].get("namespace") if resource.namespaced else None
        result = call(
            ref(obj),
            lambda: resource.handle.server_side_apply(
                body=body,
                name=body["metadata"]["name"],
                namespace=namespace,
                field_manager=manager,
                force_conflicts=force,
                dry_run="All" if dry_run else None,
                query_params=[("fieldValidation", "Strict")],
                _request_timeout=REQUEST_TIMEOUT,
            ),
        )
        return result.to_dict()

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
        body: Obj = {"propagationPolicy": propagation}
        if preconditions:
            body["preconditions"] = preconditions
        try:
            call(
                f"{kind}/{name}",
                lambda: resource.handle.delete(
                    name=name,
                    namespace=namespace if resource.namespaced else None,
                    body=body,
                    dry_run="All" if dry_run else None,
                    _request_timeout=REQUEST_TIMEOUT,
                ),
            )
        except NotFound:
            return False
        return True

    def create(self, obj: Obj) -> Obj:
        resource = self.resource(obj["apiVersion"], obj["kind"])
        namespace = obj["metadata"].get("namespace") if resource.namespaced else None
        return call(
            ref(obj),
            lambda: resource.handle.create(
                body=obj, namespace=namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        ).to_dict()

    def replace(self, obj: Obj) -> Obj:
        """PUT with the object's resourceVersion: fails with a conflict if it changed."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        namespace = obj["metadata"].get("namespace") if resource.namespaced else None
        return call(
            ref(obj),
            lambda: resource.handle.replace(
                body=obj,
                name=obj["metadata"]["name"],
                namespace=namespace,
                _request_timeout=REQUEST_TIMEOUT,
            ),
        ).to_dict()

    def pod_logs(self, namespace: str, pod: str, container: str, lines: int = 20) -> str | None:
        """The last log lines, where the cluster has them (kwok's pods have none)."""
        core = k8s_client.CoreV1Api(self.api)
        try:
            return call(
                f"logs of pod {pod}",
                lambda: core.read_namespaced_pod_log(
                    pod,
                    namespace,
                    container=container,
                    tail_lines=lines,
                    _request_timeout=5,
                ),
            )
        except KubeError:
            return None


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
