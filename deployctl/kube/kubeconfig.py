"""The kubeconfig, loaded by the official client: contexts, credentials, exec plugins, TLS.

The `kubernetes` client library is imported here, and only when a command
connects: `--help` and `--version` never pay for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import BadKubeconfig, Unreachable


def api_client(context: str | None, kubeconfig: str | Path | None = None) -> Any:
    """The official client's ApiClient for one context; BadKubeconfig or Unreachable if none.

    The context asked for is loaded whatever the kubeconfig's current-context says: `kind
    delete cluster` and kwokctl leave it empty or naming a deleted context, and the
    client's own loaders refuse the whole file then. Only without a `context` does the
    current one matter.
    """
    import yaml
    from kubernetes import config as k8s_config
    from kubernetes.config.kube_config import KubeConfigMerger

    paths = _kubeconfig_paths(kubeconfig)
    where = ", ".join(paths)
    try:
        merged = KubeConfigMerger(os.pathsep.join(paths)).config
        names = [c["name"] for c in merged.value.get("contexts") or []] if merged else []
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark else ""
        raise BadKubeconfig(f"{where}: not valid YAML{at}; fix or replace it") from None
    except (AttributeError, TypeError):
        raise BadKubeconfig(f"{where}: not a kubeconfig (no mapping of contexts:)") from None
    except (k8s_config.ConfigException, OSError) as error:
        raise BadKubeconfig(f"{where}: {error}") from None
    if merged is None:
        raise BadKubeconfig(f"{where}: no such file; pass --kubeconfig FILE (or set KUBECONFIG)")
    if not context:
        current = merged.value.get("current-context") or ""
        if current not in names:
            raise BadKubeconfig(
                f"{where}: current-context {current!r} names no context; pass --context NAME "
                "(or a profile's context:), or set one with `kubectl config use-context NAME`"
            )
        context = current
    if context not in names:
        raise BadKubeconfig(
            f'{where}: no context "{context}" (it has: {", ".join(names) or "none"})'
        )
    merged.value["current-context"] = context  # in memory only: the file is not written
    try:
        return k8s_config.new_client_from_config_dict(
            config_dict=merged, context=context, persist_config=False
        )
    except (k8s_config.ConfigException, OSError, ValueError) as error:
        raise Unreachable(f"context {context}: cannot use its credentials: {error}") from None


def _kubeconfig_paths(kubeconfig: str | Path | None) -> list[str]:
    """The kubeconfig file(s) in use; every file named must exist, as kubectl says."""
    given = str(kubeconfig) if kubeconfig else os.environ.get("KUBECONFIG", "")
    paths = [p for p in given.split(os.pathsep) if p] or [str(Path.home() / ".kube" / "config")]
    # As kubectl: files of a list that do not exist are skipped, but one must.
    if kubeconfig and not any(Path(p).expanduser().is_file() for p in paths):
        raise BadKubeconfig(
            f"kubeconfig {given}: no such file; pass an existing --kubeconfig (or fix KUBECONFIG)"
        )
    return paths
