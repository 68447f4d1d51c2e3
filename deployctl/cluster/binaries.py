"""Build the local cluster's binaries from source, once, into a versioned cache.

Nothing is downloaded from release pages: every binary is compiled with the
machine's Go from modules served by the Go module proxy. Kubernetes and etcd
cannot be `go install`ed directly (their go.mod files carry replace
directives), so each is built inside a throwaway module that pins what those
replace directives would have provided.

The cache lives outside the repository (``$DEPLOYCTL_CACHE_DIR``, else
``$XDG_CACHE_HOME/deployctl``, else ``~/.cache/deployctl``). Each group of
binaries sits in a folder named after its version and is moved into place
only when complete, so a half-finished build is never used; a file lock makes
concurrent runs wait for each other instead of building twice.

`BUILDS` is what the sandbox needs (`cluster build` / `cluster up`). Tools
outside it (Helm for the benchmark, promtool and kube-score for monitoring
checks) are built one at a time on demand by `ensure_tool`, into the same
cache under the same lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deployctl.cluster import versions
from deployctl.errors import ClusterError

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cache_dir() -> Path:
    if explicit := os.environ.get("DEPLOYCTL_CACHE_DIR"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deployctl"


@dataclass(frozen=True)
class GoBuild:
    """One Go module whose main packages become one cached folder of binaries."""

    name: str
    module: str
    version: str
    # (binary name, main package) pairs
    binaries: tuple[tuple[str, str], ...]
    ldflags: tuple[str, ...] = ()
    # k8s.io/kubernetes lists its staging modules at v0.0.0 with local replaces.
    replace_staging_modules: bool = False
    # (file in the module, text, replacement): build the module's own source, patched.
    patches: tuple[tuple[str, str, str], ...] = ()

    @property
    def folder(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(package for _, package in self.binaries)


def _kubernetes_ldflags(version: str) -> tuple[str, ...]:
    major, minor, _ = version.lstrip("v").split(".")
    stamped = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    flags = []
    # component-base stamps the servers, client-go stamps kubectl's client version.
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{key}={value}" for key, value in stamped.items()]
    return tuple(flags)


KUBERNETES = GoBuild(
    name="kubernetes",
    module="k8s.io/kubernetes",
    version=versions.KUBERNETES,
    binaries=tuple(
        (cmd, f"k8s.io/kubernetes/cmd/{cmd}")
        for cmd in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
    ),
    ldflags=_kubernetes_ldflags(versions.KUBERNETES),
    replace_staging_modules=True,
)
ETCD = GoBuild(
    name="etcd",
    module="go.etcd.io/etcd/server/v3",
    version=versions.ETCD,
    binaries=(("etcd", "go.etcd.io/etcd/server/v3"),),
)
KWOK = GoBuild(
    name="kwok",
    module="sigs.k8s.io/kwok",
    version=versions.KWOK,
    binaries=(("kwok", "sigs.k8s.io/kwok/cmd/kwok"), ("kwokctl", "sigs.k8s.io/kwok/cmd/kwokctl")),
    ldflags=(
        f"-X sigs.k8s.io/kwok/pkg/consts.Version={versions.KWOK.lstrip('v')}",
        f"-X sigs.k8s.io/kwok/pkg/consts.KubeVersion={versions.KUBERNETES.lstrip('v')}",
    ),
)
KUSTOMIZE = GoBuild(
    name="kustomize",
    module="sigs.k8s.io/kustomize/kustomize/v5",
    version=versions.KUSTOMIZE,
    binaries=(("kustomize", "sigs.k8s.io/kustomize/kustomize/v5"),),
)
BUILDS = (KUBERNETES, ETCD, KWOK, KUSTOMIZE)

# Not in BUILDS: the sandbox does without it; `ensure_tool(HELM)` builds it when asked.
HELM = GoBuild(
    name="helm",
    module="helm.sh/helm/v4",
    version=versions.HELM,
    binaries=(("helm", "helm.sh/helm/v4/cmd/helm"),),
    # As helm's Makefile does for a tagged release: `helm version` prints the pinned version.
    ldflags=(
        f"-X helm.sh/helm/v4/internal/version.version={versions.HELM}",
        "-X helm.sh/helm/v4/internal/version.gitTreeState=clean",
    ),
)

# Not in BUILDS either. Stamped as Prometheus' .promu.yml does for a release, with the
# version from its VERSION file; the revision and build date come from git and the
# clock there, so they are left out (`--version` says "revision: unknown"). No build
# tags: of .promu.yml's `netgo,builtinassets`, builtinassets only touches web/ui, which
# promtool does not import, and netgo changes nothing with CGO_ENABLED=0.
PROMTOOL = GoBuild(
    name="promtool",
    module="github.com/prometheus/prometheus",
    version=versions.PROMETHEUS,
    binaries=(("promtool", "github.com/prometheus/prometheus/cmd/promtool"),),
    ldflags=(
        "-X github.com/prometheus/common/version.Version="
        + versions.prometheus_release(versions.PROMETHEUS),
        "-X github.com/prometheus/common/version.BuildUser=deployctl",
    ),
)
# Not in BUILDS either. GoReleaser, which kube-score releases with, sets main.version to
# the tag without its "v" (and main.commit, main.date from git; left at "N/A" here).
KUBE_SCORE = GoBuild(
    name="kube-score",
    module="github.com/zegl/kube-score",
    version=versions.KUBE_SCORE,
    binaries=(("kube-score", "github.com/zegl/kube-score/cmd/kube-score"),),
    ldflags=(f"-X main.version={versions.KUBE_SCORE.lstrip('v')}",),
)


@dataclass(frozen=True)
class Toolset:
    """Absolute paths of every binary the local cluster and deployctl use."""

    root: Path

    def path(self, build: GoBuild, binary: str) -> Path:
        return self.root / build.folder / binary

    @property
    def etcd(self) -> Path:
        return self.path(ETCD, "etcd")

    @property
    def kube_apiserver(self) -> Path:
        return self.path(KUBERNETES, "kube-apiserver")

    @property
    def kube_controller_manager(self) -> Path:
        return self.path(KUBERNETES, "kube-controller-manager")

    @property
    def kube_scheduler(self) -> Path:
        return self.path(KUBERNETES, "kube-scheduler")

    @property
    def kubectl(self) -> Path:
        return self.path(KUBERNETES, "kubectl")

    @property
    def kwok(self) -> Path:
        return self.path(KWOK, "kwok")

    @property
    def kwokctl(self) -> Path:
        return self.path(KWOK, "kwokctl")

    @property
    def kustomize(self) -> Path:
        return self.path(KUSTOMIZE, "kustomize")

    @property
    def helm(self) -> Path:
        """Built only by `ensure_tool(HELM)`; absent after a plain `cluster build`."""
        return self.path(HELM, "helm")

    @property
    def promtool(self) -> Path:
        """Built only by `ensure_tool(PROMTOOL)`; absent after a plain `cluster build`."""
        return self.path(PROMTOOL, "promtool")

    @property
    def kube_score(self) -> Path:
        """Built only by `ensure_tool(KUBE_SCORE)`; absent after a plain `cluster build`."""
        return self.path(KUBE_SCORE, "kube-score")

    def has(self, build: GoBuild) -> bool:
        return (self.root / build.folder / ".complete").exists()

    def missing(self) -> list[GoBuild]:
        return [b for b in BUILDS if not self.has(b)]


def toolset() -> Toolset:
    return Toolset(cache_dir() / "bin")


@contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".build.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _stderr(f"another build holds {root / '.build.lock'}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def ensure_binaries(progress: Progress = _stderr) -> Toolset:
    """Return the toolset, building whatever is not cached yet."""
    tools = toolset()
    if not tools.missing():
        return tools
    _require_go()
    with _build_lock(tools.root):
        for build in tools.missing():  # re-read: a concurrent run may have built some
            _build(build, tools.root, progress)
    return tools


def ensure_tool(build: GoBuild, progress: Progress = _stderr) -> Toolset:
    """Return the toolset with `build` in it, building that one build if it is not cached.

    For tools outside `BUILDS` (Helm, promtool, kube-score): same cache, same lock,
    same `.complete` marker.
    """
    tools = toolset()
    if tools.has(build):
        return tools
    _require_go()
    with _build_lock(tools.root):
        if not tools.has(build):  # re-check: a concurrent run may have built it
            _build(build, tools.root, progress)
    return tools


def _require_go() -> None:
    if shutil.which("go") is None:
        raise ClusterError(
            "go is not installed: the local cluster's binaries are built from source; "
            "install Go >= 1.24 and run again"
        )


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOTOOLCHAIN="local",  # build with the machine's Go, never fetch another
        GOFLAGS="-mod=mod -buildvcs=false",
        CGO_ENABLED="0",
        GOWORK="off",
    )
    return env


def _go(args: list[str], workdir: Path, what: str) -> str:
    result = subprocess.run(
        ["go", *args], cwd=workdir, env=_go_env(), capture_output=True, text=True
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise ClusterError(f"building {what} failed: go {' '.join(args[:2])} ...\n{tail}")
    return result.stdout


def staging_replaces(gomod: str, kubernetes_version: str) -> list[str]:
    """Replace lines pinning each staging module that k8s.io/kubernetes lists at v0.0.0."""
    staging = sorted(set(re.findall(r"^\s+(k8s\.io/[\w.\-/]+) v0\.0\.0$", gomod, re.MULTILINE)))
    target = versions.staging_version(kubernetes_version)
    return [f"replace {module} => {module} {target}" for module in staging]


def download_module(module: str, version: str, workdir: Path) -> dict[str, str]:
    """`go mod download -json`: where the module's source (Dir) and go.mod (GoMod) are."""
    return json.loads(_go(["mod", "download", "-json", f"{module}@{version}"], workdir, module))


def _upstream_gomod(build: GoBuild, workdir: Path) -> str:
    return Path(download_module(build.module, build.version, workdir)["GoMod"]).read_text()


def _patched_source(build: GoBuild, workdir: Path) -> Path:
    """A writable copy of the module's source with `build.patches` applied; each must match."""
    source = workdir / "src"
    shutil.copytree(download_module(build.module, build.version, workdir)["Dir"], source)
    for path in source.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)  # the module cache is read-only
    for name, text, replacement in build.patches:
        file = source / name
        original = file.read_text()
        if original.count(text) != 1:
            raise ClusterError(f"building {build.folder}: the patch of {name} no longer applies")
        file.write_text(original.replace(text, replacement))
    return source


def _build(build: GoBuild, root: Path, progress: Progress) -> None:
    started = time.monotonic()
    names = ", ".join(name for name, _ in build.binaries)
    progress(f"building {build.folder} ({names}) from source; a cold build takes several minutes")
    with tempfile.TemporaryDirectory(prefix=f"deployctl-{build.name}-", dir=root) as tmp:
        workdir = Path(tmp)
        if build.patches:
            workdir = _patched_source(build, workdir)
        else:
            lines = ["module deployctl.local/build", "", "go 1.24.0", ""]
            if build.replace_staging_modules:
                gomod = _upstream_gomod(build, workdir)
                lines += ["godebug default=go1.24", "", *staging_replaces(gomod, build.version)]
            (workdir / "go.mod").write_text("\n".join(lines) + "\n")
            _go(["get", *(f"{p}@{build.version}" for p in build.packages)], workdir, build.folder)
        out = Path(tmp) / "out"
        out.mkdir()
        for name, package in build.binaries:
            progress(f"  compiling {name}")
            _go(
                [
                    "build",
                    "-trimpath",
                    "-ldflags",
                    " ".join(("-s", "-w", *build.ldflags)),
                    "-o",
                    str(out / name),
                    package,
                ],
                workdir,
                build.folder,
            )
        (out / ".complete").write_text(f"{build.module} {build.version}\n")
        target = root / build.folder
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
    progress(f"built {build.folder} in {time.monotonic() - started:.0f} s")
