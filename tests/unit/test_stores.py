"""The stores' images: their tags follow their inputs, their settings are the official ones."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml

from deployctl.cluster import versions
from deployctl.cluster.kind import stores
from deployctl.cluster.kind.stores import POSTGRES, RABBITMQ, REDIS, REDIS_EXPORTER, User

REPO = Path(__file__).resolve().parents[2]

MANIFESTS = Path(__file__).parents[2] / "manifests"


def test_the_tag_is_the_first_packages_debian_version_and_a_digest():
    assert re.fullmatch(r"deployctl\.local/postgres:17\.12-0_deb13u1-[0-9a-f]{12}", POSTGRES.ref)
    assert re.fullmatch(r"deployctl\.local/redis:8\.0\.2-3_deb13u3-[0-9a-f]{12}", REDIS.ref)
    assert stores.tag_version("5:8.0.2-3+deb13u3") == "8.0.2-3_deb13u3"
    assert stores.tag_version("1.69.0-1") == "1.69.0-1"


def test_the_same_inputs_give_the_same_tag():
    assert dataclasses.replace(POSTGRES).ref == POSTGRES.ref
    same_file = {"docker-entrypoint.sh": POSTGRES.file_bytes(POSTGRES.files[0])}
    assert dataclasses.replace(POSTGRES, contents=same_file).ref == POSTGRES.ref
    # What the manifests' image is does not change what is built.
    assert dataclasses.replace(POSTGRES, stands_for="postgres:17").ref == POSTGRES.ref


def digest(image: stores.StoreImage) -> str:
    return image.ref.rsplit("-", 1)[1]


@pytest.mark.parametrize(
    "change",
    [
        {"contents": {"docker-entrypoint.sh": b'#!/bin/sh\nexec "$@"\n'}},
        {"packages": (*POSTGRES.packages, "postgresql-contrib")},
        {"users": (User("postgres", 999, "postgres", 999, "/var/lib/postgresql"),)},
        {"suite": "forky"},
        {"before": ""},
        {"stopsignal": "SIGTERM"},
        {"env": (*POSTGRES.env, ("LC_ALL", "C.UTF-8"))},
        {"files": (stores.File("docker-entrypoint.sh", "/entrypoint.sh", 0o755),)},
        {"files": (stores.File("docker-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh"),)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_changed_input_changes_the_digest(change):
    assert digest(dataclasses.replace(POSTGRES, **change)) != digest(POSTGRES)


def test_a_new_package_version_changes_the_tag_and_its_digest():
    newer = dataclasses.replace(POSTGRES, packages=("postgresql-17=17.13-0+deb13u1",))
    assert newer.ref.startswith("deployctl.local/postgres:17.13-0_deb13u1-")
    assert digest(newer) != digest(POSTGRES)


def test_users_are_created_before_the_packages_are_installed():
    script = POSTGRES.script()
    assert script.index("useradd --system --uid 70 --gid 70") < script.index("apt-get install")
    assert script.index("create_main_cluster = false") < script.index("apt-get install")
    assert "postgresql-17=17.12-0+deb13u1" in script
    assert script.rstrip().endswith("rm -rf /deployctl-build")


def test_postgres_has_the_official_images_settings():
    settings = POSTGRES.settings()
    assert settings[0] == "ENV PATH=/usr/lib/postgresql/17/bin:" + stores.PATH
    assert "ENV PGDATA=/var/lib/postgresql/data" in settings
    assert 'VOLUME ["/var/lib/postgresql/data"]' in settings
    assert settings[-4:] == [
        "USER 70:70",
        "STOPSIGNAL SIGINT",
        'ENTRYPOINT ["docker-entrypoint.sh"]',
        'CMD ["postgres"]',
    ]


def test_redis_has_the_official_images_settings():
    assert REDIS.settings() == [
        "EXPOSE 6379",
        'VOLUME ["/data"]',
        "WORKDIR /data",
        "USER 999:1000",
        'ENTRYPOINT ["docker-entrypoint.sh"]',
        'CMD ["redis-server"]',
    ]
    assert {package.split("=")[0] for package in REDIS.packages} >= {
        "redis-server",
        "redis-sentinel",
    }


def test_rabbitmq_runs_debians_scripts_not_its_wrappers():
    settings = RABBITMQ.settings()
    assert settings[0] == "ENV PATH=/usr/lib/rabbitmq/bin:" + stores.PATH
    assert "ENV HOME=/var/lib/rabbitmq" in settings
    assert "ENV RABBITMQ_LOGS=-" in settings
    assert settings[-3:] == [
        "USER 100:101",
        'ENTRYPOINT ["docker-entrypoint.sh"]',
        'CMD ["rabbitmq-server"]',
    ]
    plugins = RABBITMQ.file_bytes(RABBITMQ.files[1]).decode()
    assert plugins.strip() == "[rabbitmq_management,rabbitmq_prometheus]."


def test_the_postgres_exporter_is_static_from_scratch_as_nobody():
    dockerfile = stores.POSTGRES_EXPORTER_DOCKERFILE.splitlines()
    assert dockerfile[0] == "FROM scratch"
    assert dockerfile[-1] == 'ENTRYPOINT ["/bin/postgres_exporter"]'
    assert "USER 65534:65534" in dockerfile
    assert stores.postgres_exporter_ref().startswith(
        f"deployctl.local/postgres-exporter:{versions.POSTGRES_EXPORTER}-"
    )


def containers() -> list[tuple[dict, dict]]:
    """(pod securityContext, container) of every container of the stores' manifests."""
    specs = {}
    for store in ("postgresql", "redis", "rabbitmq"):
        statefulset = yaml.safe_load((MANIFESTS / "base" / store / "statefulset.yaml").read_text())
        specs[store] = statefulset["spec"]["template"]["spec"]
    patch = MANIFESTS / "components/redis-sentinel/statefulset-patch.yaml"
    sentinel = yaml.safe_load(patch.read_text())["spec"]["template"]["spec"]
    # The patch adds the sentinel container to redis' pods, under their securityContext.
    specs["sentinel"] = {**sentinel, "securityContext": specs["redis"]["securityContext"]}
    return [
        (spec["securityContext"], container)
        for spec in specs.values()
        for container in spec.get("initContainers", []) + spec["containers"]
        if "image" in container  # not the patch's changes to an existing one
    ]


def test_every_image_of_the_stores_manifests_has_one_built_here():
    images = {container["image"] for _, container in containers()}
    assert images == set(stores.stores_refs())


def test_each_images_user_is_the_one_the_manifests_run_it_as():
    users = {image.stands_for: image.user for image in stores.STORES}
    users[stores.POSTGRES_EXPORTER_STANDS_FOR] = "65534:65534"
    for pod, container in containers():
        context = {**pod, **container.get("securityContext", {})}
        expected = f"{context['runAsUser']}:{context['runAsGroup']}"
        assert users[container["image"]] == expected, container["name"]


def test_every_file_an_image_adds_is_package_data():
    for image in (POSTGRES, REDIS, RABBITMQ, REDIS_EXPORTER):
        for file in image.files:
            assert image.file_bytes(file), (image.name, file.source)
    entrypoint = POSTGRES.file_bytes(POSTGRES.files[0]).decode()
    assert entrypoint.startswith("#!/bin/sh\n")
    assert json.dumps(POSTGRES.settings())  # plain strings all


def test_load_stores_kind_loads_every_image_it_built_under_its_version_tag(monkeypatch):
    from deployctl.cluster import kind

    built = ["deployctl.local/postgres:17.12-0_deb13u1-f839d014a936", "deployctl.local/x:v1-abc"]
    loaded = []
    monkeypatch.setattr(stores, "build_stores", lambda progress: built)
    monkeypatch.setattr(kind, "load_image", lambda name, image: loaded.append((name, image)))
    tags = ["deployctl.local/postgres:17.12-0_deb13u1", "deployctl.local/x:v1"]
    assert stores.load_stores("dev", progress=lambda message: None) == tags
    assert loaded == [("dev", ref) for ref in tags]


def test_the_kind_real_overlay_names_each_store_image_by_its_version_tag():
    """manifests/overlays/kind-real maps every store image to what load_stores loads."""
    overlay = yaml.safe_load((REPO / "manifests/overlays/kind-real/kustomization.yaml").read_text())
    named = {f"{image['newName']}:{image['newTag']}": image["name"] for image in overlay["images"]}
    refs = stores.stores_refs().items()
    loaded = {stores.version_tag(ref): stands_for for stands_for, ref in refs}
    assert set(named) == set(loaded)
    for tag, stands_for in loaded.items():
        assert stands_for.rsplit(":", 1)[0] == named[tag]


def test_cluster_build_refuses_stores_without_kind():
    from typer.testing import CliRunner

    from deployctl.cli import app

    result = CliRunner().invoke(app, ["cluster", "build", "--stores"])
    assert result.exit_code == 2
    assert "--stores needs --provider kind" in result.output
