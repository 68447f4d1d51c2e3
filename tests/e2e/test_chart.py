"""The Helm chart (charts/ai-agent-orchestrator): one source of truth with the manifests.

- No drift: for every environment, `helm template -f values-ENV.yaml` renders
  the objects of `deployctl render ENV`, field for field. Helm's own labels
  and annotations and the Secrets' values are the only exceptions.
- `helm lint --strict` is clean for every values file.
- The packaged chart is served from a chart repository (`helm repo index`,
  HTTP on the loopback interface) and installs from it.
- On the suite's cluster (on kind, every image the stand-in): `helm install
  --wait` of dev becomes healthy, `helm upgrade` with a new orchestrator tag
  rolls it, `helm rollback` restores it, and the generated Secret values
  survive all three.

Helm is built from source once into the binaries cache (`binaries.HELM`).
"""

from __future__ import annotations

import base64
import difflib
import functools
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubetest import Kube, deployment_complete, pod_ready
from standin.load import STANDIN_REPOSITORY

from deployctl import profile, render, secrets
from deployctl.cluster import binaries

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "ai-agent-orchestrator"
MONITORING = REPO / "manifests" / "components" / "monitoring"
DASHBOARDS = MONITORING / "dashboards"
ENVIRONMENTS = ("dev", "staging", "production")
RELEASE = "ai-agent"
VERSION = "1.2.0"
PACKAGE = f"ai-agent-orchestrator-{VERSION}.tgz"

Obj = dict[str, Any]

# -- helm ----------------------------------------------------------------------------


class Helm:
    """The cached helm binary with a private configuration, cache and data home."""

    def __init__(self, binary: Path, home: Path) -> None:
        self.binary = binary
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_")}
        self.env.pop("KUBECONFIG", None)
        for name in ("CONFIG", "CACHE", "DATA"):
            self.env[f"HELM_{name}_HOME"] = str(home / name.lower())

    def run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess:
        argv = [str(self.binary), *map(str, args)]
        done = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=600)
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv[1:4])} … exited {done.returncode}:\n{done.stderr}{done.stdout}"
            )
        return done

    def on(self, cluster, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess:
        """A command against the test cluster (its kubeconfig and context, never the user's)."""
        target = ("--kubeconfig", str(cluster.kubeconfig), "--kube-context", cluster.context)
        return self.run(*args, *target, check=check)


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    tools = binaries.ensure_tool(binaries.HELM)
    return Helm(tools.helm, tmp_path_factory.mktemp("helm-home"))


@functools.cache
def secret_keys() -> dict[str, tuple[str, ...]]:
    """Store -> keys, from manifests/secrets.yaml (the chart's Secrets must match it)."""
    return {spec.component: spec.keys for spec in secrets.load_specs(REPO)}


def install_time_secrets(tag: str = "test") -> list[str]:
    """--set flags giving every secret value, as an operator does at install time."""
    return [
        f"--set=secrets.{store}.{key}={tag}-{key.lower().replace('_', '-')}"
        for store, keys in secret_keys().items()
        for key in keys
    ]


def values_args(env: str) -> list[str]:
    """An install of `env`: its values file, and its secrets unless it generates them."""
    args = ["-f", str(CHART / f"values-{env}.yaml")]
    if not profile.load_profile(REPO, env).secrets.generate:
        args += install_time_secrets()
    return args


def load_all(text: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def helm_template(helm: Helm, namespace: str, *args: str) -> list[Obj]:
    done = helm.run("template", RELEASE, CHART, "--namespace", namespace, *args)
    return load_all(done.stdout)


# -- drift ---------------------------------------------------------------------------

# Labels and annotations Helm (or a chart's conventions) may add; nothing else may differ.
HELM_LABELS = {
    "helm.sh/chart",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
}
HELM_ANNOTATION_PREFIXES = ("helm.sh/", "meta.helm.sh/")
SECRET_VALUE = "<secret value>"


# The suffix Kustomize's configMapGenerator hashes from the data: objects are paired without it,
# so that a change of a store's configuration shows as a diff of its data.
GENERATED_SUFFIX = re.compile(r"-[2456789bcdfghkmt]{10}$")


def key(obj: Obj) -> str:
    metadata = obj.get("metadata") or {}
    where = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
    name = str(metadata.get("name"))
    if obj.get("kind") == "ConfigMap":
        name = GENERATED_SUFFIX.sub("-<hash>", name)
    return f"{obj.get('apiVersion')} {obj.get('kind')} {where}{name}"


def comparable(obj: Obj) -> Obj:
    """The object without Helm's own labels and annotations and with its Secret values masked."""
    obj = json.loads(json.dumps(obj))
    metadata = obj.setdefault("metadata", {})
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k not in HELM_LABELS}
    annotations = {
        k: v
        for k, v in (metadata.get("annotations") or {}).items()
        if not k.startswith(HELM_ANNOTATION_PREFIXES)
    }
    for field, kept in (("labels", labels), ("annotations", annotations)):
        if kept:
            metadata[field] = kept
        else:
            metadata.pop(field, None)
    if obj.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if field in obj:
                obj[field] = dict.fromkeys(obj[field] or {}, SECRET_VALUE)
    return obj


class _BlockDumper(yaml.SafeDumper):
    """YAML whose multi-line strings (configuration files) read as blocks in a diff."""


_BlockDumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None
    ),
)


def dump(obj: Obj) -> list[str]:
    return yaml.dump(obj, Dumper=_BlockDumper, sort_keys=True).splitlines(keepends=True)


def drift(expected: list[Obj], actual: list[Obj], want: str, got: str) -> list[str]:
    """Every difference between two renders, one readable unified diff per object."""
    ours = {key(o): comparable(o) for o in expected}
    theirs = {key(o): comparable(o) for o in actual}
    problems = [f"only in {want}: {k}" for k in ours if k not in theirs]
    problems += [f"only in {got}: {k}" for k in theirs if k not in ours]
    for k in ours.keys() & theirs.keys():
        if ours[k] != theirs[k]:
            diff = difflib.unified_diff(
                dump(ours[k]),
                dump(theirs[k]),
                f"{k} ({want})",
                f"{k} ({got})",
            )
            problems.append("".join(diff))
    return sorted(problems)


def checkout_environ() -> dict[str, str]:
    """The environment with this checkout first on PYTHONPATH: `python -m deployctl` is ours."""
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), environ.get("PYTHONPATH", "")) if p
    )
    return environ


def deployctl_render(env: str) -> list[Obj]:
    """`deployctl render ENV`, run as a user would, from this checkout's deployctl."""
    done = subprocess.run(
        [sys.executable, "-m", "deployctl", "render", env],
        cwd=REPO,
        env=checkout_environ(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return load_all(done.stdout)


def kustomize(kustomization: Path, namespace: str) -> list[Obj]:
    """A Kustomize build in `namespace`, plus the declared Secrets (as deployctl renders them)."""
    done = subprocess.run(
        [*render.kustomize_command(), str(kustomization)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    specs = secrets.load_specs(REPO)
    objects = render.set_namespace(load_all(done.stdout), namespace)
    return objects + secrets.secret_objects(specs, secrets.placeholders(specs), namespace)


def assert_no_drift(expected: list[Obj], actual: list[Obj], want: str, got: str) -> None:
    problems = drift(expected, actual, want, got)
    assert not problems, f"the chart drifted from the manifests ({len(problems)}):\n" + "\n".join(
        problems
    )


def test_deployctl_render_runs_this_checkout() -> None:
    """The renders compared below come from this checkout's deployctl, not an installed one."""
    done = subprocess.run(
        [sys.executable, "-c", "import deployctl; print(deployctl.__file__)"],
        cwd=REPO,
        env=checkout_environ(),
        capture_output=True,
        text=True,
    )
    assert Path(done.stdout.strip()).resolve() == REPO / "deployctl" / "__init__.py", done.stderr


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_helm_template_of_each_environment_equals_deployctl_render(env: str, helm: Helm) -> None:
    namespace = profile.load_profile(REPO, env).namespace
    expected = deployctl_render(env)
    actual = helm_template(helm, namespace, *values_args(env))

    assert_no_drift(expected, actual, f"deployctl render {env}", f"helm values-{env}.yaml")
    assert len(actual) == len(expected)  # and no object rendered twice


def test_chart_defaults_equal_the_kustomize_base(helm: Helm) -> None:
    """values.yaml documents manifests/base: with no values file, the same objects."""
    namespace = "ai-agent-orchestrator"
    expected = kustomize(REPO / "manifests" / "base", namespace)
    actual = helm_template(helm, namespace, *install_time_secrets())

    assert_no_drift(expected, actual, "kustomize base", "helm values.yaml")


MONITORING_SWITCHES = (
    "--set=monitoring.serviceMonitors.enabled=true,monitoring.prometheusRules.enabled=true",
    "--set=monitoring.dashboards.enabled=true",
)


def with_component(tmp_path: Path, env: str, component: Path) -> Path:
    """A Kustomization of manifests/overlays/ENV plus one component; its folder."""
    overlay = tmp_path / f"{env}-{component.name}"
    overlay.mkdir()
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(REPO / "manifests" / "overlays" / env, overlay)],
        "components": [os.path.relpath(component, overlay)],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return overlay


def test_monitoring_switches_equal_the_monitoring_component(helm: Helm, tmp_path: Path) -> None:
    """monitoring.serviceMonitors, .prometheusRules and .dashboards, all enabled, add what
    components/monitoring adds to an overlay: ServiceMonitors, alerts and dashboards."""
    namespace = profile.load_profile(REPO, "production").namespace
    expected = kustomize(with_component(tmp_path, "production", MONITORING), namespace)
    actual = helm_template(helm, namespace, *values_args("production"), *MONITORING_SWITCHES)

    assert {o["kind"] for o in actual} >= {"ServiceMonitor", "PrometheusRule"}
    assert sum(is_dashboard(o) for o in actual) == len(list(DASHBOARDS.glob("*.json")))
    assert_no_drift(expected, actual, "kustomize production + monitoring", "helm")
    assert len(actual) == len(expected)


def test_the_migration_switch_equals_the_orchestrator_migration_component(
    helm: Helm, tmp_path: Path
) -> None:
    """orchestrator.migration.enabled adds what components/orchestrator-migration adds: the
    migration Job (for Helm a post-install, pre-upgrade hook; hook annotations aside), its
    NetworkPolicy, and PostgreSQL's ingress from it."""
    namespace = profile.load_profile(REPO, "staging").namespace
    component = REPO / "manifests" / "components" / "orchestrator-migration"
    expected = kustomize(with_component(tmp_path, "staging", component), namespace)
    switch = ("--set", "orchestrator.migration.enabled=true")
    actual = helm_template(helm, namespace, *values_args("staging"), *switch)

    job = next(o for o in actual if o["kind"] == "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    assert job["metadata"]["annotations"]["deployctl.dev/migration"] == "true"
    assert_no_drift(expected, actual, "kustomize staging + orchestrator-migration", "helm")
    assert len(actual) == len(expected)


def is_dashboard(obj: Obj) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return obj.get("kind") == "ConfigMap" and labels.get("grafana_dashboard") == "1"


@pytest.mark.parametrize(
    ("switch", "kind"),
    [
        ("serviceMonitors", "ServiceMonitor"),
        ("prometheusRules", "PrometheusRule"),
        ("dashboards", None),
    ],
)
def test_each_monitoring_switch_renders_its_own_objects_only(
    switch: str, kind: str | None, helm: Helm
) -> None:
    """The three switches are independent: the dashboards (plain ConfigMaps) need no
    Prometheus Operator, the alerts need no ServiceMonitors of this chart."""
    objects = helm_template(
        helm, "elsewhere", *values_args("dev"), f"--set=monitoring.{switch}.enabled=true"
    )
    kinds = {o["kind"] for o in objects}
    dashboards = [o for o in objects if is_dashboard(o)]

    assert kinds & {"ServiceMonitor", "PrometheusRule"} == ({kind} - {None})
    assert len(dashboards) == (len(list(DASHBOARDS.glob("*.json"))) if kind is None else 0)


def test_the_charts_monitoring_files_are_copies_of_the_component() -> None:
    """files/monitoring holds the component's rules and dashboards byte for byte (comments
    included, which the comparison of rendered objects cannot see)."""
    copies = CHART / "files" / "monitoring"
    sources = {
        "prometheusrules.yaml": MONITORING / "prometheusrules.yaml",
        **{f"dashboards/{p.name}": p for p in DASHBOARDS.glob("*.json")},
    }
    copied = {str(p.relative_to(copies)) for p in copies.rglob("*") if p.is_file()}

    assert copied == set(sources)
    for name, source in sources.items():
        assert (copies / name).read_bytes() == source.read_bytes(), f"files/monitoring/{name}"


def test_drift_is_reported_as_a_diff_per_object() -> None:
    expected = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"x": 1}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}},
    ]
    actual = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "a", "labels": {"helm.sh/chart": "c-1"}},
            "spec": {"x": 2},
        },
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "c"}},
    ]

    problems = drift(expected, actual, "kustomize", "helm")

    assert problems[0].startswith("--- v1 Service a (kustomize)\n+++ v1 Service a (helm)\n")
    assert "-  x: 1\n+  x: 2\n" in problems[0]
    assert "helm.sh/chart" not in problems[0]
    assert problems[1:] == ["only in helm: v1 Service c", "only in kustomize: v1 Service b"]


def test_switches_and_parameters_render_what_they_say(helm: Helm) -> None:
    """The parameters no environment exercises (the drift checks cover the others)."""
    objects = helm_template(
        helm,
        "elsewhere",
        *values_args("dev"),
        "--set=namespace.create=false,networkPolicy.enabled=false",
        "--set=monitoring.podAnnotations=false,monitoring.scrapeConfig.enabled=false",
        "--set=storageClass=fast,redis.persistence.storageClass=slow",
        "--set=orchestrator.autoscaling.enabled=true,orchestrator.replicas=4",
        "--set=ingress.enabled=true,ingress.clusterIssuer=,ingress.orchestrator.tls.enabled=false",
        "--set=worker.image.repository=registry.example.com/worker,worker.image.tag=v9",
    )
    by_kind: dict[str, dict[str, Obj]] = {}
    for o in objects:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    pods = {
        n: o["spec"]["template"]
        for k in ("Deployment", "StatefulSet")
        for n, o in by_kind[k].items()
    }

    assert "Namespace" not in by_kind and "NetworkPolicy" not in by_kind
    assert "prometheus-scrape-config" not in by_kind["ConfigMap"]
    assert not any("prometheus.io/scrape" in str(t["metadata"]) for t in pods.values())
    claims = {
        n: o["spec"]["volumeClaimTemplates"][0]["spec"] for n, o in by_kind["StatefulSet"].items()
    }
    assert {n: c["storageClassName"] for n, c in claims.items()} == {
        "postgresql": "fast",
        "rabbitmq": "fast",
        "redis": "slow",
    }
    assert "replicas" not in by_kind["Deployment"]["orchestrator"]["spec"]
    assert by_kind["HorizontalPodAutoscaler"]["orchestrator"]["spec"]["minReplicas"] == 3
    ingress = by_kind["Ingress"]
    assert "tls" not in ingress["orchestrator"]["spec"]
    assert "cert-manager.io/cluster-issuer" not in ingress["mcp-server"]["metadata"]["annotations"]
    assert pods["worker"]["spec"]["containers"][0]["image"] == "registry.example.com/worker:v9"


def test_exporter_anti_affinity_and_waf_switches(helm: Helm) -> None:
    """The stores' exporters and the anti-affinity off (on everywhere else), the WAF on outside
    production (on there only): every object each one adds goes with it, the stores' alerts
    and dashboards too (they read nothing but the exporters' metrics)."""
    objects = helm_template(
        helm,
        "elsewhere",
        *values_args("staging"),
        "--set=postgresql.exporter.enabled=false,redis.exporter.enabled=false",
        "--set=antiAffinity.enabled=false",
        *MONITORING_SWITCHES,
        "--set=ingress.waf.enabled=true",
    )
    by_kind: dict[str, dict[str, Obj]] = {}
    for o in objects:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    pods = {
        n: o["spec"]["template"]
        for k in ("Deployment", "StatefulSet")
        for n, o in by_kind[k].items()
    }

    text = yaml.safe_dump_all(objects)
    assert "9187" not in text and "9121" not in text
    for store in ("postgresql", "redis"):
        assert "exporter" not in {c["name"] for c in pods[store]["spec"]["containers"]}
        assert "prometheus.io/scrape" not in pods[store]["metadata"].get("annotations", {})
        assert store not in by_kind["ServiceMonitor"]
        assert store not in by_kind["PrometheusRule"]
        assert f"grafana-dashboard-{store}" not in by_kind["ConfigMap"]
    assert {"orchestrator", "worker", "mcp-server", "rabbitmq"} <= set(by_kind["ServiceMonitor"])
    assert set(by_kind["PrometheusRule"]) == {"ai-agent-orchestrator", "rabbitmq"}
    assert {n for n, o in by_kind["ConfigMap"].items() if is_dashboard(o)} == {
        "grafana-dashboard-ai-agent-overview",
        "grafana-dashboard-rabbitmq",
    }
    assert not any("affinity" in t["spec"] for t in pods.values())
    for ingress in by_kind["Ingress"].values():
        annotations = ingress["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/enable-modsecurity"] == "true"
        assert annotations["nginx.ingress.kubernetes.io/enable-owasp-core-rules"] == "true"


# -- secrets -------------------------------------------------------------------------


def secrets_of(objects: list[Obj]) -> dict[str, dict[str, str]]:
    return {
        o["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in o["data"].items()}
        for o in objects
        if o["kind"] == "Secret"
    }


def test_values_given_at_install_time_fill_the_secrets(helm: Helm) -> None:
    objects = helm_template(helm, "ai-agent-staging", *values_args("staging"))

    assert secrets_of(objects) == {
        f"{store}-credentials": {key: f"test-{key.lower().replace('_', '-')}" for key in keys}
        for store, keys in secret_keys().items()
    }


def test_a_missing_secret_value_fails_and_names_it(helm: Helm) -> None:
    done = helm.run("template", RELEASE, CHART, "-f", CHART / "values-production.yaml", check=False)

    assert done.returncode != 0
    assert "secrets.postgresql.POSTGRES_PASSWORD: no value" in done.stderr
    assert "existingSecret" in done.stderr


def test_dev_generates_its_secret_values(helm: Helm) -> None:
    values = secrets_of(helm_template(helm, "ai-agent-dev", *values_args("dev")))

    assert set(values) == {f"{store}-credentials" for store in secret_keys()}
    assert all(len(v) >= 24 for keys in values.values() for v in keys.values())


def test_existing_secrets_replace_the_charts_own(helm: Helm) -> None:
    names = {store: f"vault-{store}" for store in secret_keys()}
    objects = helm_template(
        helm,
        "ai-agent-production",
        "-f",
        str(CHART / "values-production.yaml"),
        *(f"--set=secrets.{store}.existingSecret={name}" for store, name in names.items()),
    )
    text = yaml.safe_dump_all(objects)

    assert not [o for o in objects if o["kind"] == "Secret"]
    assert "-credentials" not in text
    for name in names.values():
        assert f"name: {name}\n" in text or f"secretName: {name}\n" in text


# -- lint, package, repository --------------------------------------------------------


@pytest.mark.parametrize("values", ["values.yaml", *(f"values-{e}.yaml" for e in ENVIRONMENTS)])
def test_helm_lint_strict_is_clean(values: str, helm: Helm) -> None:
    done = helm.run(
        "lint", "--strict", CHART, "-f", CHART / values, *install_time_secrets(), check=False
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout, done.stdout


@pytest.fixture(scope="session")
def package(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`helm package` of the chart, as it would be written to dist/."""
    dist = tmp_path_factory.mktemp("dist")
    helm.run("package", CHART, "--destination", dist)
    packaged = dist / PACKAGE
    assert packaged.is_file(), sorted(p.name for p in dist.iterdir())
    return packaged


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """The folder over HTTP on the loopback interface, as a chart repository's web server."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def released(helm: Helm, cluster, kube_client) -> Iterator[Kube]:
    """A fresh namespace for a release; uninstalled and deleted afterwards (the chart keeps
    its Namespace on uninstall)."""
    namespace = f"t-chart-{uuid.uuid4().hex[:6]}"
    try:
        yield Kube(kube_client, namespace)
    finally:
        helm.on(cluster, "uninstall", RELEASE, "--namespace", namespace, check=False)
        namespaces = kube_client.resources.get(api_version="v1", kind="Namespace")
        with_suppressed_404(lambda: namespaces.delete(name=namespace))


def with_suppressed_404(action) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        action()
    except ApiException as error:
        if error.status != 404:
            raise


def healthy(kube: Kube) -> None:
    """Every workload of the stack rolled out and every pod ready."""
    for deployment in kube.list("apps/v1", "Deployment"):
        assert deployment_complete(deployment), deployment["status"]
    for statefulset in kube.list("apps/v1", "StatefulSet"):
        status, replicas = statefulset.get("status") or {}, statefulset["spec"]["replicas"]
        assert status.get("readyReplicas", 0) == replicas, (statefulset["metadata"]["name"], status)
        assert status.get("updatedReplicas", 0) == replicas
    pods = kube.list("v1", "Pod")
    assert pods and all(pod_ready(p) for p in pods)


def image_of(kube: Kube, name: str) -> str:
    return kube.get("apps/v1", "Deployment", name)["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]


def live_secrets(kube: Kube) -> dict[str, dict[str, str]]:
    return {
        name: secrets.decode(kube.get("v1", "Secret", name))
        for name in (f"{store}-credentials" for store in secret_keys())
    }


def test_packaged_chart_is_published_to_a_repository_and_installs_from_it(
    helm: Helm, package: Path, cluster, client, images: Images
) -> None:
    repository = package.parent
    with served(repository) as url:
        helm.run("repo", "index", repository, "--url", url)
        index = yaml.safe_load((repository / "index.yaml").read_text())
        (entry,) = index["entries"]["ai-agent-orchestrator"]
        assert (entry["version"], entry["appVersion"]) == (VERSION, "2.0.0")
        assert entry["urls"] == [f"{url}/{PACKAGE}"]

        helm.run("repo", "add", "ai-agent", url)
        found = json.loads(helm.run("search", "repo", "ai-agent/", "-o", "json").stdout)
        assert [(c["name"], c["version"]) for c in found] == [
            ("ai-agent/ai-agent-orchestrator", VERSION)
        ]

        with released(helm, cluster, client) as kube:
            helm.on(
                cluster,
                "install",
                RELEASE,
                "ai-agent/ai-agent-orchestrator",
                "--version",
                VERSION,
                "--namespace",
                kube.namespace,
                "--create-namespace",
                *values_args("dev"),
                *images.values,
                "--wait",
                "--timeout",
                "5m",
            )
            (listed,) = json.loads(
                helm.on(cluster, "list", "-n", kube.namespace, "-o", "json").stdout
            )
            assert (listed["status"], listed["chart"], listed["app_version"]) == (
                "deployed",
                f"ai-agent-orchestrator-{VERSION}",
                "2.0.0",
            )
            healthy(kube)


# On kind the official images cannot be pulled: every image of the chart is the
# stand-in (docs/kind.md), and the orchestrator rolls between its v1 and v2 tags.
STANDIN = {"repository": STANDIN_REPOSITORY, "tag": "v1"}
STANDIN_VALUES = {
    "orchestrator": {"image": STANDIN},
    "worker": {"image": STANDIN},
    "mcpServer": {"image": STANDIN},
    "postgresql": {"image": STANDIN, "exporter": {"image": STANDIN}},
    "rabbitmq": {"image": STANDIN},
    "redis": {"image": STANDIN, "exporter": {"image": STANDIN}},
}


@dataclass(frozen=True)
class Images:
    """What the install tests deploy on this provider: extra values, and the tags to roll."""

    values: list[str]
    repository: str
    tags: tuple[str, str]


@pytest.fixture
def images(cluster, tmp_path: Path) -> Images:
    if cluster.provider != "kind":
        return Images([], "ai-agent-orchestrator", ("v2.0.0", "v2.0.1"))
    values = tmp_path / "values-standin.yaml"
    values.write_text(yaml.safe_dump(STANDIN_VALUES))
    return Images(["-f", str(values)], STANDIN_REPOSITORY, ("v1", "v2"))


def orchestrator_rolled_to(kube: Kube, image: str) -> None:
    """The orchestrator's Deployment and every one of its pods on `image`, ready."""
    assert image_of(kube, "orchestrator") == image
    kube.wait_for(
        "v1",
        "Pod",
        lambda pods: (
            bool(pods)
            and all(p["spec"]["containers"][0]["image"] == image and pod_ready(p) for p in pods)
        ),
        label_selector="app.kubernetes.io/name=orchestrator",
        timeout=120,
        what=f"orchestrator pods on {image}",
    )


@pytest.mark.containers
def test_install_upgrade_and_rollback(
    helm: Helm, package: Path, cluster, client, images: Images
) -> None:
    first, second = (f"{images.repository}:{tag}" for tag in images.tags)
    with released(helm, cluster, client) as kube:
        namespace = kube.namespace
        release = ("--namespace", namespace, *values_args("dev"), *images.values)
        release += ("--wait", "--timeout", "5m")

        # Install: dev as it stands, its Secret values generated by the chart.
        helm.on(cluster, "install", RELEASE, package, "--create-namespace", *release)
        healthy(kube)
        orchestrator_rolled_to(kube, first)
        labels = client.resources.get(api_version="v1", kind="Namespace").get(name=namespace)
        assert labels.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
        generated = live_secrets(kube)

        # Upgrade: a new orchestrator tag rolls the Deployment; the Secrets are kept (lookup).
        upgrade = f"--set=orchestrator.image.tag={images.tags[1]}"
        helm.on(cluster, "upgrade", RELEASE, package, *release, upgrade)
        orchestrator_rolled_to(kube, second)
        healthy(kube)
        assert live_secrets(kube) == generated

        # Rollback to the install: the old tag is back and rolled out, the Secrets the same.
        helm.on(cluster, "rollback", RELEASE, "1", "--namespace", namespace, "--wait")
        orchestrator_rolled_to(kube, first)
        healthy(kube)
        assert live_secrets(kube) == generated

        history = json.loads(
            helm.on(cluster, "history", RELEASE, "-n", namespace, "-o", "json").stdout
        )
        assert [(h["revision"], h["status"]) for h in history] == [
            (1, "superseded"),
            (2, "superseded"),
            (3, "deployed"),
        ]
        assert history[-1]["description"] == "Rollback to 1"
