"""Build the reference application's images (one static Go binary FROM scratch) and load them.

    python3 tests/e2e/app/load.py [CLUSTER]     # default cluster: deployctl

One binary plays every role; each role has its own image repository
(`deployctl.local/app-orchestrator`, `-worker`, `-mcp-server`), the role fixed in
the image (APP_ROLE), because the manifests' Deployments give no command or role
and `deployctl rollout <component> v2` replaces only the tag of the component's
image. Tags v1 and v2 differ only in the version the process reports. Not wired
into any test or environment yet (the coming `kind-real` environment will).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

APP_REPOSITORY = "deployctl.local/app"
APP_DIR = Path(__file__).parent
APP_ROLES = ("orchestrator", "worker", "mcp-server")
LOAD_IMAGE = f"{APP_REPOSITORY}-load:v1"  # the real suite's load generator (load.go)
APP_TAGS = ("v1", "v2", "v2-badmigration")


def app_image(role: str, tag: str) -> str:
    return f"{APP_REPOSITORY}-{role}:{tag}"


def build_binary(output: Path) -> None:
    """The static binary (CGO_ENABLED=0), with the Go toolchain at hand."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local", GOFLAGS="-buildvcs=false")
    cmd = [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(output), "."]
    subprocess.run(cmd, cwd=APP_DIR, env=env, check=True)


def source_digest() -> str:
    """A digest of everything the images are made of: a build with the same finds them."""
    digest = hashlib.sha256(repr(APP_TAGS).encode())
    for path in sorted(APP_DIR.iterdir()):
        if path.suffix == ".go" or path.name in ("go.mod", "go.sum", "Dockerfile", ".dockerignore"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _built(image: str, digest: str) -> bool:
    found = subprocess.run(
        [
            "docker",
            "image",
            "inspect",
            "--format",
            '{{ index .Config.Labels "deployctl.digest" }}',
            image,
        ],
        capture_output=True,
        text=True,
    )
    return found.returncode == 0 and found.stdout.strip() == digest


def build_app(tags: tuple[str, ...] = APP_TAGS) -> list[str]:
    """One image per role and tag, and the load generator's, in the local Docker daemon (one
    Go build for all); nothing is built when every image carries the sources' digest."""
    digest = source_digest()
    wanted = [(role, tag, app_image(role, tag)) for role in APP_ROLES for tag in tags]
    wanted.append(("load", "v1", LOAD_IMAGE))
    if all(_built(image, digest) for _, _, image in wanted):
        return [image for _, _, image in wanted]
    with tempfile.TemporaryDirectory(prefix="deployctl-app-") as tmp:
        context = Path(tmp)
        for name in ("Dockerfile", ".dockerignore"):
            shutil.copy(APP_DIR / name, context / name)
        build_binary(context / "app")
        for role, tag, image in wanted:
            args = ["--build-arg", f"ROLE={role}", "--build-arg", f"VERSION={tag}"]
            args += ["--label", f"deployctl.digest={digest}"]
            build = ["docker", "build", "-q", *args, "-t", image, str(context)]
            subprocess.run(build, check=True, capture_output=True)
    return [image for _, _, image in wanted]


def load_app(cluster: str) -> list[str]:
    from deployctl.cluster import kind

    images = build_app()
    for image in images:
        kind.load_image(cluster, image)
    return images


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "deployctl"
    for loaded in load_app(name):
        print(f"loaded {loaded} into kind cluster {name}")
