"""The kubeconfig, loaded by the official client: contexts, credentials, exec plugins, TLS.

The `kubernetes` client library is imported here, and only when a command
connects: `--help` and `--version` never pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import BadKubeconfig, Unreachable


def api_client(context: str, kubeconfig: str | Path | None = None) -> Any:
    """The official client's ApiClient for one context; BadKubeconfig or Unreachable if none."""
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
        raise BadKubeconfig(
            f'{where}: no context "{context}" (it has: {", ".join(names) or "none"})'
        )
    try:
        return k8s_config.new_client_from_config(
            config_file=str(kubeconfig) if kubeconfig else None,
            context=context,
            persist_config=False,
        )
    except (k8s_config.ConfigException, OSError, ValueError) as error:
        raise Unreachable(f"context {context}: cannot use its credentials: {error}") from None


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
