"""What can go wrong talking to the API: the KubeError family, and the translation into it.

API failures become typed errors that name the object: `translate` turns a
non-2xx answer (a StatusError, which is what the retry policy looks at) into
the KubeError a caller catches.
"""

from __future__ import annotations

import json
from typing import Any

import urllib3

from deployctl.errors import DeployctlError
from deployctl.model import Obj


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


def translate(error: StatusError, what: str) -> KubeError:
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
    if status == 500 and "failed to create typed patch object" in message:
        return Invalid(f"{what}: {message}", status, body)  # the manifest's fault: exit 2
    return kinds.get(status, KubeError)(f"{what}: {message}", status, body)


CONNECTION_ERRORS = (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)
