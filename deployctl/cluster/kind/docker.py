"""Asking Docker, and starting dockerd where nothing answers (stopping it again after)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from deployctl.cluster import binaries
from deployctl.cluster.binaries import Progress
from deployctl.cluster.kind.common import state_dir
from deployctl.errors import ClusterError


def run(*args: str, check: bool = True) -> str:
    """`docker ARGS`; its output."""
    if shutil.which("docker") is None:
        raise ClusterError("docker is not installed: kind runs its nodes as Docker containers")
    result = subprocess.run(["docker", *args], capture_output=True)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).decode(errors="replace").strip()
        raise ClusterError(f"docker {args[0]} failed: {detail[-1500:]}")
    return result.stdout.decode(errors="replace")


def answers() -> bool:
    """True when a Docker daemon answers."""
    return (
        shutil.which("docker") is not None
        and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    )


def ensure_docker(progress: Progress = binaries._stderr) -> None:
    """Start dockerd when nothing answers and this user may (root, dockerd installed).

    overlay2 first, vfs where overlay2 cannot mount; `down` stops a daemon started here.
    """
    if answers():
        return
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        raise ClusterError(
            "no Docker daemon answers: start Docker (on Debian as root: "
            "apt-get install docker.io; deployctl starts dockerd itself), then run again"
        )
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    for driver in ("overlay2", "vfs"):
        progress(f"starting dockerd (storage driver {driver})")
        with open(state / "dockerd.log", "ab") as log:
            daemon = subprocess.Popen(
                ["dockerd", f"--storage-driver={driver}"],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and daemon.poll() is None:
            if answers():
                (state / "dockerd.pid").write_text(f"{daemon.pid}\n")
                return
            time.sleep(0.5)
        if daemon.poll() is None:
            daemon.terminate()
            daemon.wait(30)
    raise ClusterError(f"dockerd did not start; see {state / 'dockerd.log'}")


def stop_docker_started_here(progress: Progress) -> None:
    """Stop the dockerd `ensure_docker` started, unless containers still run on it."""
    pidfile = state_dir() / "dockerd.pid"
    if not pidfile.exists():
        return
    if run("ps", "-q", check=False).strip():
        return  # containers of someone else still run
    pid = int(pidfile.read_text())
    pidfile.unlink()
    comm = Path(f"/proc/{pid}/comm")
    if not comm.exists() or comm.read_text().strip() != "dockerd":
        return  # gone already (a reboot), its pid since taken by another process
    progress("stopping the dockerd that deployctl started")
    try:
        os.kill(pid, 15)
        for _ in range(60):
            os.kill(pid, 0)
            time.sleep(0.5)
    except ProcessLookupError:
        pass


def image_exists(ref: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0


def build_image(ref: str, dockerfile: str, files: dict[str, Path | bytes]) -> None:
    """`docker build` of a context made of these files (executable) and the Dockerfile."""
    with tempfile.TemporaryDirectory(prefix="deployctl-image-") as tmp:
        context = Path(tmp)
        for name, source in files.items():
            target = context / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, bytes):
                target.write_bytes(source)
            else:
                shutil.copy2(source, target)
            target.chmod(0o755)
        (context / "Dockerfile").write_text(dockerfile)
        run("build", "-q", "-t", ref, str(context))


def import_stream(tar: subprocess.Popen, ref: str, changes: list[str]) -> None:
    """`docker import` of the tar stream `tar` writes, with these settings."""
    args = ["docker", "import"]
    for change in changes:
        args += ["--change", change]
    imported = subprocess.run([*args, "-", ref], stdin=tar.stdout, capture_output=True)
    if imported.returncode != 0:
        tar.kill()  # nobody reads what it still writes
    tar.wait()
    if imported.returncode != 0 or tar.returncode != 0:
        raise ClusterError(f"docker import of {ref} failed: {imported.stderr.decode()}")


def debootstrap_image(
    ref: str,
    suite: str,
    variant: str,
    include: str,
    changes: list[str],
    needed_for: str,
    progress: Progress,
) -> None:
    """A Debian root filesystem made by debootstrap (with `include`d packages), its apt
    caches removed, imported as `ref` with these settings. `needed_for` says, in the
    error, what the image is for."""
    if shutil.which("debootstrap") is None:
        raise ClusterError(
            f"debootstrap is not installed: {needed_for} starts from a Debian root "
            "filesystem built with it (apt-get install debootstrap)"
        )
    started = time.monotonic()
    progress(f"building a Debian {suite} root filesystem (debootstrap, {variant})")
    with tempfile.TemporaryDirectory(prefix="deployctl-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        extra = [f"--include={include}"] if include else []
        result = subprocess.run(
            ["debootstrap", f"--variant={variant}", *extra, suite, str(rootfs)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise ClusterError(f"debootstrap failed:\n{result.stdout[-1500:]}{result.stderr}")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / cache, ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        import_stream(tar, ref, changes)
    progress(f"built {ref} in {time.monotonic() - started:.0f} s")
