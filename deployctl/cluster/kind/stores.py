"""The stores' images (PostgreSQL, Redis, RabbitMQ, their exporters), built offline.

No registry serves the official images here, so each is made from Debian's own
packages with the official image's interface (environment, command, user, stop
signal), and tagged ``deployctl.local/<name>:<Debian version>-<digest>``, the digest
taken over everything it is made of: a build with the same inputs finds the image
and does nothing.

How: one Debian root filesystem (``debootstrap --variant=minbase``) is imported
once as a base image. Each store image is then a container of that base in which
its users are created with the official image's uids, then its packages installed
with apt (so that the packages' own scripts find the users and keep them), then
deployctl's files (entrypoints, default configs, ``storeimages/<name>/``) added
and apt's caches and the documentation removed; the container is exported and
imported as one layer, then given the official image's settings by a `docker build`
of Dockerfile instructions only, which adds no layer (`docker import --change`
knows no STOPSIGNAL). debootstrap runs once for all images (the slow part); apt in a container gets
/proc, /dev and the network as the packages' scripts expect them.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from deployctl.cluster import binaries, versions
from deployctl.cluster.binaries import GoBuild, Progress
from deployctl.cluster.kind import docker
from deployctl.cluster.kind.images import IMAGE_REPOSITORY
from deployctl.errors import ClusterError

# Bump when the recipe below changes in a way the digest of its inputs does not show.
RECIPE = 1
BASE_VARIANT = "minbase"
# What no store needs, kept out of every image (dpkg's path-exclude, as slim images do).
DPKG_EXCLUDES = (
    "/usr/share/doc/*",
    "/usr/share/man/*",
    "/usr/share/info/*",
    "/usr/share/locale/*",
    "/usr/share/lintian/*",
)
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class User(NamedTuple):
    name: str
    uid: int
    group: str
    gid: int
    home: str


class File(NamedTuple):
    """One of deployctl's files (``storeimages/<image>/<source>``) at ``target``."""

    source: str
    target: str
    mode: int = 0o644


@dataclass(frozen=True)
class StoreImage:
    """A Debian image: its packages, users, files and the official image's settings."""

    name: str
    # Debian packages, "name=version" where pinned; the first one's version is in the tag.
    packages: tuple[str, ...]
    users: tuple[User, ...] = ()
    files: tuple[File, ...] = ()
    # Shell run as root before the packages are installed, and after the files are in.
    before: str = ""
    after: str = ""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    user: str = ""
    env: tuple[tuple[str, str], ...] = ()
    workdir: str = ""
    stopsignal: str = ""
    expose: tuple[int, ...] = ()
    volumes: tuple[str, ...] = ()
    suite: str = versions.STORES_DEBIAN
    # The image of the manifests this one stands in for (not part of the digest).
    stands_for: str = ""
    # The files' contents; read from the package data when not given (tests give them).
    contents: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def version(self) -> str:
        """The first package's pinned Debian version, as a tag allows it."""
        _, _, pinned = self.packages[0].partition("=")
        return tag_version(pinned) if pinned else self.suite

    def file_bytes(self, file: File) -> bytes:
        if file.source in self.contents:
            return self.contents[file.source]
        return (
            resources.files("deployctl.cluster") / "storeimages" / self.name / file.source
        ).read_bytes()

    def settings(self) -> list[str]:
        """The official image's settings, as Dockerfile instructions."""
        lines = [f"ENV {key}={value}" for key, value in self.env]
        lines += [f"EXPOSE {port}" for port in self.expose]
        if self.volumes:
            lines.append(f"VOLUME {json.dumps(list(self.volumes))}")
        if self.workdir:
            lines.append(f"WORKDIR {self.workdir}")
        if self.user:
            lines.append(f"USER {self.user}")
        if self.stopsignal:
            lines.append(f"STOPSIGNAL {self.stopsignal}")
        if self.entrypoint:
            lines.append(f"ENTRYPOINT {json.dumps(list(self.entrypoint))}")
        if self.cmd:
            lines.append(f"CMD {json.dumps(list(self.cmd))}")
        return lines

    def script(self) -> str:
        """What runs as root in a container of the base image to make this image."""
        lines = [
            "set -eu",
            "export DEBIAN_FRONTEND=noninteractive",
            # No service is started by a package's scripts.
            "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d",
            "chmod 755 /usr/sbin/policy-rc.d",
            "printf '%s\\n' "
            + " ".join(shlex.quote(f"path-exclude={path}") for path in DPKG_EXCLUDES)
            + " > /etc/dpkg/dpkg.cfg.d/deployctl-excludes",
        ]
        for user in self.users:
            lines.append(f"groupadd --system --gid {user.gid} {user.group}")
            lines.append(
                f"useradd --system --uid {user.uid} --gid {user.gid} --home-dir {user.home}"
                f" --no-create-home --shell /usr/sbin/nologin {user.name}"
            )
        if self.before:
            lines.append(self.before.strip())
        packages = " ".join(shlex.quote(package) for package in self.packages)
        lines += [
            "apt-get update -qq",
            f"apt-get install -y -qq --no-install-recommends {packages} >/dev/null",
        ]
        for index, file in enumerate(self.files):
            lines.append(
                f"install -D -m {file.mode:o} /deployctl-build/{index} {shlex.quote(file.target)}"
            )
        if self.after:
            lines.append(self.after.strip())
        lines += [
            "apt-get clean",
            # What the base image itself brought of what the packages leave out.
            "rm -rf " + " ".join(DPKG_EXCLUDES),
            "rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/lib/dpkg/*-old",
            "find /var/log -type f -delete",
            "rm -f /usr/sbin/policy-rc.d",
            "rm -rf /deployctl-build",
        ]
        return "\n".join(lines) + "\n"

    def digest(self) -> str:
        inputs = [
            RECIPE,
            self.suite,
            BASE_VARIANT,
            self.script(),
            self.settings(),
            [
                [file.target, file.mode, hashlib.sha256(self.file_bytes(file)).hexdigest()]
                for file in self.files
            ],
        ]
        return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:12]

    @property
    def ref(self) -> str:
        return f"{IMAGE_REPOSITORY}/{self.name}:{self.version}-{self.digest()}"


def tag_version(debian_version: str) -> str:
    """5:8.0.2-3+deb13u3 -> 8.0.2-3_deb13u3: a Debian version as a Docker tag allows it."""
    without_epoch = debian_version.split(":", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", without_epoch)


def _lock():
    return binaries._build_lock(binaries.cache_dir() / "stores")


def base_image(suite: str = versions.STORES_DEBIAN, progress: Progress = binaries._stderr) -> str:
    """A minimal Debian root filesystem (debootstrap), imported once; its reference."""
    digest = hashlib.sha256(json.dumps([RECIPE, suite, BASE_VARIANT]).encode()).hexdigest()[:8]
    ref = f"{IMAGE_REPOSITORY}/debian-{BASE_VARIANT}:{suite}-{digest}"
    if docker.image_exists(ref):
        return ref
    docker.debootstrap_image(
        ref, suite, BASE_VARIANT, "", [f"ENV PATH={PATH}"], "the stores' images", progress
    )
    return ref


def build_store_image(image: StoreImage, progress: Progress = binaries._stderr) -> str:
    """Build (or find) one store image; return its reference."""
    ref = image.ref
    if docker.image_exists(ref):
        return ref
    with _lock():
        if docker.image_exists(ref):  # a concurrent run built it meanwhile
            return ref
        base = base_image(image.suite, progress)
        started = time.monotonic()
        progress(f"building {ref} ({' '.join(image.packages)})")
        stage = f"{IMAGE_REPOSITORY}/{image.name}-stage:{ref.rsplit(':', 1)[1]}"
        with tempfile.TemporaryDirectory(prefix="deployctl-store-") as tmp:
            context = Path(tmp) / "deployctl-build"
            context.mkdir()
            (context / "build.sh").write_text(image.script())
            for index, file in enumerate(image.files):
                (context / str(index)).write_bytes(image.file_bytes(file))
            container = docker.run("create", base, "sh", "/deployctl-build/build.sh").strip()
            try:
                docker.run("cp", str(context), f"{container}:/")
                result = subprocess.run(
                    ["docker", "start", "-a", container], capture_output=True, text=True
                )
                if result.returncode != 0:
                    detail = (result.stderr + result.stdout).strip()
                    raise ClusterError(f"building {ref} failed:\n{detail[-2000:]}")
                export = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
                docker.import_stream(export, stage, [])
            finally:
                docker.run("rm", "-f", container, check=False)
        # `docker import --change` knows no STOPSIGNAL: the settings are a build FROM it,
        # which adds no layer.
        dockerfile = "\n".join([f"FROM {stage}", *image.settings()]) + "\n"
        docker.build_image(ref, dockerfile, {})
        docker.run("rmi", stage, check=False)
        progress(f"built {ref} in {time.monotonic() - started:.0f} s")
    return ref


_POSTGRES_MAJOR = versions.POSTGRESQL_DEBIAN.split(".", 1)[0]
# The official postgres image's interface; uid/gid 70 as its alpine variant, which the
# manifests' securityContext names.
POSTGRES = StoreImage(
    name="postgres",
    stands_for="postgres:16.6-alpine",
    packages=(f"postgresql-{_POSTGRES_MAJOR}={versions.POSTGRESQL_DEBIAN}",),
    users=(User("postgres", 70, "postgres", 70, "/var/lib/postgresql"),),
    files=(File("docker-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh", 0o755),),
    # Debian's package would otherwise create a cluster of its own at install.
    before="mkdir -p /etc/postgresql-common/createcluster.d\n"
    "echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/deployctl.conf",
    after="mkdir -p /var/run/postgresql /var/lib/postgresql/data /docker-entrypoint-initdb.d\n"
    "chown postgres:postgres /var/run/postgresql /var/lib/postgresql /var/lib/postgresql/data\n"
    "chmod 3777 /var/run/postgresql\n"
    "chmod 1777 /var/lib/postgresql/data",
    env=(
        ("PATH", f"/usr/lib/postgresql/{_POSTGRES_MAJOR}/bin:{PATH}"),
        ("LANG", "C.UTF-8"),
        ("PGDATA", "/var/lib/postgresql/data"),
    ),
    entrypoint=("docker-entrypoint.sh",),
    cmd=("postgres",),
    user="70:70",
    stopsignal="SIGINT",
    expose=(5432,),
    volumes=("/var/lib/postgresql/data",),
)

# The official redis image's interface, `redis-server` and `redis-sentinel` both; uid 999
# and gid 1000 as its alpine variant, which the manifests' securityContext names.
REDIS = StoreImage(
    name="redis",
    stands_for="redis:7.4.1-alpine",
    packages=tuple(
        f"{package}={versions.REDIS_DEBIAN}"
        for package in ("redis-server", "redis-sentinel", "redis-tools")
    ),
    users=(User("redis", 999, "redis", 1000, "/data"),),
    files=(File("docker-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh", 0o755),),
    after="mkdir -p /data\nchown redis:redis /data",
    entrypoint=("docker-entrypoint.sh",),
    cmd=("redis-server",),
    user="999:1000",
    workdir="/data",
    expose=(6379,),
    volumes=("/data",),
)

# The official rabbitmq image's interface (management variant); uid 100 and gid 101 as
# its alpine variant, which the manifests' securityContext names. Debian's wrappers in
# /usr/sbin log to a file and insist on running as `rabbitmq`: the scripts behind them,
# /usr/lib/rabbitmq/bin, come first on the PATH.
_RABBITMQ = versions.RABBITMQ_DEBIAN.split("-", 1)[0]
RABBITMQ = StoreImage(
    name="rabbitmq",
    stands_for="rabbitmq:3.13.7-management-alpine",
    packages=(f"rabbitmq-server={versions.RABBITMQ_DEBIAN}",),
    users=(User("rabbitmq", 100, "rabbitmq", 101, "/var/lib/rabbitmq"),),
    files=(
        File("docker-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh", 0o755),
        File("enabled_plugins", "/etc/rabbitmq/enabled_plugins"),
        File("10-defaults.conf", "/etc/rabbitmq/conf.d/10-defaults.conf"),
    ),
    after="mkdir -p /var/lib/rabbitmq /var/log/rabbitmq\n"
    "chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq",
    env=(
        ("PATH", f"/usr/lib/rabbitmq/bin:{PATH}"),
        ("HOME", "/var/lib/rabbitmq"),
        ("LANG", "C.UTF-8"),
        ("LC_ALL", "C.UTF-8"),
        ("RABBITMQ_LOGS", "-"),
        # Debian's rabbitmq-plugins wrapper says where; the script itself does not know.
        ("RABBITMQ_PLUGINS_DIR", f"/usr/lib/rabbitmq/lib/rabbitmq_server-{_RABBITMQ}/plugins"),
    ),
    entrypoint=("docker-entrypoint.sh",),
    cmd=("rabbitmq-server",),
    user="100:101",
    expose=(4369, 5671, 5672, 15671, 15672, 15691, 15692, 25672),
    volumes=("/var/lib/rabbitmq",),
)

# oliver006/redis_exporter's interface: the binary as entrypoint, uid 59000 (which the
# manifests name), REDIS_ADDR and REDIS_PASSWORD read by the exporter itself.
REDIS_EXPORTER = StoreImage(
    name="redis-exporter",
    stands_for="oliver006/redis_exporter:v1.67.0-alpine",
    packages=(f"prometheus-redis-exporter={versions.REDIS_EXPORTER_DEBIAN}",),
    entrypoint=("/usr/bin/prometheus-redis-exporter",),
    user="59000:59000",
    expose=(9121,),
)

STORES = (POSTGRES, REDIS, RABBITMQ, REDIS_EXPORTER)

# Stamped as its .promu.yml does for a release (revision, branch and date left out).
POSTGRES_EXPORTER_BUILD = GoBuild(
    name="postgres-exporter",
    module="github.com/prometheus-community/postgres_exporter",
    version=versions.POSTGRES_EXPORTER,
    binaries=(
        (
            "postgres_exporter",
            "github.com/prometheus-community/postgres_exporter/cmd/postgres_exporter",
        ),
    ),
    ldflags=(
        f"-X github.com/prometheus/common/version.Version={versions.POSTGRES_EXPORTER.lstrip('v')}",
        "-X github.com/prometheus/common/version.BuildUser=deployctl",
    ),
)
# The official postgres-exporter image's settings; FROM scratch, as the binary is static
# (its image is busybox with the binary; nothing in the manifests runs a shell in it).
POSTGRES_EXPORTER_STANDS_FOR = "quay.io/prometheuscommunity/postgres-exporter:v0.16.0"
POSTGRES_EXPORTER_DOCKERFILE = (
    "\n".join(
        [
            "FROM scratch",
            "COPY postgres_exporter /bin/postgres_exporter",
            "USER 65534:65534",
            "EXPOSE 9187",
            'ENTRYPOINT ["/bin/postgres_exporter"]',
        ]
    )
    + "\n"
)


def postgres_exporter_ref() -> str:
    build = POSTGRES_EXPORTER_BUILD
    inputs = [RECIPE, build.module, build.version, build.binaries, build.ldflags]
    inputs.append(POSTGRES_EXPORTER_DOCKERFILE)
    digest = hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:12]
    return f"{IMAGE_REPOSITORY}/postgres-exporter:{build.version}-{digest}"


def build_postgres_exporter(progress: Progress = binaries._stderr) -> str:
    """postgres_exporter built through the Go module proxy, FROM scratch; its reference."""
    ref = postgres_exporter_ref()
    if docker.image_exists(ref):
        return ref
    tools = binaries.ensure_tool(POSTGRES_EXPORTER_BUILD, progress)
    binary = tools.path(POSTGRES_EXPORTER_BUILD, "postgres_exporter")
    docker.build_image(ref, POSTGRES_EXPORTER_DOCKERFILE, {"postgres_exporter": binary})
    progress(f"built {ref}")
    return ref


def stores_refs() -> dict[str, str]:
    """The image of the manifests -> the image built here that stands in for it."""
    refs = {image.stands_for: image.ref for image in STORES}
    refs[POSTGRES_EXPORTER_STANDS_FOR] = postgres_exporter_ref()
    return refs


def version_tag(ref: str) -> str:
    """The reference without its digest: postgres:17.12-0_deb13u1-f839d014a936 ->
    postgres:17.12-0_deb13u1 (under deployctl.local/).

    The name manifests use (manifests/overlays/kind-real): it names the version, not the
    digest, so a rebuilt image needs no change to them. `build_stores` moves it."""
    name, _, tag = ref.rpartition(":")
    version, _, _digest = tag.rpartition("-")
    return f"{name}:{version}"


def build_stores(progress: Progress = binaries._stderr) -> list[str]:
    """Build (or find) every store image, tag it with its version too; their references."""
    docker.ensure_docker(progress)
    refs = [build_store_image(image, progress) for image in STORES]
    refs.append(build_postgres_exporter(progress))
    for ref in refs:
        docker.run("tag", ref, version_tag(ref))
    return refs


def load_stores(cluster: str, progress: Progress = binaries._stderr) -> list[str]:
    """Build (or find) every store image and `kind load` it into the named cluster under
    its version tag (`version_tag`), the name the manifests use."""
    from deployctl.cluster import kind

    refs = [version_tag(ref) for ref in build_stores(progress)]
    for ref in refs:
        progress(f"loading {ref} into kind cluster {cluster}")
        kind.load_image(cluster, ref)
    return refs
