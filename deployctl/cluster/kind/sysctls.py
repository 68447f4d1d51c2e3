"""The host's kernel settings a kubelet changes from inside a node: recorded, then put back."""

from __future__ import annotations

import json
from pathlib import Path

from deployctl.cluster.binaries import Progress
from deployctl.cluster.kind.common import state_dir

PROC_SYS = Path("/proc/sys")
HOST_SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops")


def _sysctl_file() -> Path:
    """The host's values from before the first of the kind clusters now running."""
    return state_dir() / "host-sysctls.json"


def record_host_sysctls() -> None:
    """Record the host's values, unless a cluster still running recorded them already."""
    if _sysctl_file().exists():
        return  # recorded by the first cluster; a kubelet may have changed them since
    saved = {}
    for key in HOST_SYSCTLS:
        path = PROC_SYS / key
        if path.exists():
            saved[key] = path.read_text().strip()
    state_dir().mkdir(parents=True, exist_ok=True)
    _sysctl_file().write_text(json.dumps(saved))


def restore_host_sysctls(progress: Progress) -> None:
    """Put back the recorded values, once, and forget them."""
    file = _sysctl_file()
    if not file.exists():
        return
    for key, value in json.loads(file.read_text()).items():
        path = PROC_SYS / key
        try:
            if path.read_text().strip() != value:
                path.write_text(value)
                progress(f"restored the host's {key.replace('/', '.')} to {value}")
        except OSError as error:
            progress(f"could not restore {key.replace('/', '.')}: {error}")
    file.unlink()
