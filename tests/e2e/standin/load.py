"""Build the stand-in images (a static Go binary FROM scratch) and load them into kind.

    python3 tests/e2e/standin/load.py [CLUSTER]     # default cluster: deployctl

The end-to-end suite on kind calls `load_standins` for its own cluster; the
command line serves `environments/kind.yaml` (docs/kind.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

STANDIN_REPOSITORY = "deployctl.local/standin"
STANDIN_DIR = Path(__file__).parent
# Tags the suite uses; a -pullerror tag is never built, so pulling it fails for real.
STANDIN_TAGS = {"v1": "ok", "v2": "ok", "v1-crashloop": "crashloop", "v1-unready": "unready"}


def standin_image(tag: str) -> str:
    return f"{STANDIN_REPOSITORY}:{tag}"


def build_standins() -> list[str]:
    """One image per tag of STANDIN_TAGS, in the local Docker daemon."""
    with tempfile.TemporaryDirectory(prefix="deployctl-standin-") as tmp:
        context = Path(tmp)
        for name in ("Dockerfile", ".dockerignore"):
            shutil.copy(STANDIN_DIR / name, context / name)
        env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local", GOFLAGS="-buildvcs=false")
        go = ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(context / "standin"), "."]
        subprocess.run(go, cwd=STANDIN_DIR, env=env, check=True)
        images = []
        for tag, mode in STANDIN_TAGS.items():
            image = standin_image(tag)
            build = ["docker", "build", "-q", "--build-arg", f"MODE={mode}", "-t", image]
            subprocess.run([*build, str(context)], check=True, capture_output=True)
            images.append(image)
    return images


def load_standins(cluster: str) -> list[str]:
    from deployctl.cluster import kind

    images = build_standins()
    for image in images:
        kind.load_image(cluster, image)
    return images


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "deployctl"
    for loaded in load_standins(name):
        print(f"loaded {loaded} into kind cluster {name}")
