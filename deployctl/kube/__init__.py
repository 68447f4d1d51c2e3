"""The only package that imports `kubernetes`: connect, discover, apply, get, list, watch, delete.

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

- `errors`: the KubeError family, StatusError and the translation between them;
- `limits`: the retry policy (`call`, `RETRYING`) and the in-flight limit;
- `kubeconfig`: loading the kubeconfig, the one place `kubernetes` is imported;
- `discovery`: which kinds the server serves (`Resource`), aggregated discovery;
- `client`: `Cluster`, the request builder and the reads and writes over it;
- `watch`: the newline-delimited JSON stream of a watch.
"""

from .client import APPLY_PATCH, FIELD_MANAGER, REQUEST_TIMEOUT, Cluster, Obj, ref
from .discovery import AGGREGATED_DISCOVERY, Resource
from .errors import (
    ApplyConflict,
    BadKubeconfig,
    Forbidden,
    Gone,
    Invalid,
    KubeError,
    NotFound,
    NotServed,
    StatusError,
    Unreachable,
)
from .limits import IN_FLIGHT, RETRYABLE_STATUS, RETRYING, InFlightLimit, call

__all__ = [
    "AGGREGATED_DISCOVERY",
    "APPLY_PATCH",
    "FIELD_MANAGER",
    "IN_FLIGHT",
    "REQUEST_TIMEOUT",
    "RETRYABLE_STATUS",
    "RETRYING",
    "ApplyConflict",
    "BadKubeconfig",
    "Cluster",
    "Forbidden",
    "Gone",
    "InFlightLimit",
    "Invalid",
    "KubeError",
    "NotFound",
    "NotServed",
    "Obj",
    "Resource",
    "StatusError",
    "Unreachable",
    "call",
    "ref",
]
