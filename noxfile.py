"""Sessions: `nox` runs lint, unit tests and end-to-end tests on the local cluster.

`nox -s e2e -- --provider kind` runs the end-to-end suite on a real kind cluster
instead (needs Docker; CI runs it after the default sessions, docs/kind.md).
`nox -s kind` (not run by default) deploys the dev stack to a kind cluster, every
image a locally built stand-in (environments/kind.yaml).
`nox -s real` (not run by default; CI runs it) deploys the real stack to a kind
cluster (environments/kind-real.yaml: PostgreSQL, Redis, RabbitMQ built from Debian's
packages, the reference application) and runs tests/real against it (docs/real-stack.md).

`nox -s chart` (not run by default) packages the Helm chart into dist/ and indexes
dist/ as a chart repository (`nox -s chart -- https://charts.example.com/ai-agent`
sets the download URL); its lint, drift and install tests are in the e2e suite.

`nox -s bench` (not run by default) benchmarks deployctl against ordered kubectl
and Helm on its own sandbox cluster; `nox -s bench -- --help` lists its options.
"""

from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests", "e2e"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
CHART = "charts/ai-agent-orchestrator"


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests: pure logic on plain dicts, no cluster."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests/unit", *session.posargs)


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """End-to-end tests against a real API server (the kwok sandbox by default)."""
    session.install("-e", ".[test]")
    # The slowest tests are listed: CI's budget is measured, not guessed.
    session.run("pytest", "tests/e2e", "-p", "no:cacheprovider", "--durations=25", *session.posargs)


@nox.session(python=False)
def chart(session: nox.Session) -> None:
    """dist/ai-agent-orchestrator-<version>.tgz and dist/index.yaml, with the pinned Helm."""
    find_helm = (
        "from deployctl.cluster import binaries; print(binaries.ensure_tool(binaries.HELM).helm)"
    )
    here = {"PYTHONPATH": str(Path(__file__).parent)}  # this checkout's deployctl
    out = session.run("python3", "-c", find_helm, env=here, silent=True, external=True)
    helm = str(out).strip().splitlines()[-1]
    session.run(helm, "lint", "--strict", CHART, "-f", f"{CHART}/values-dev.yaml", external=True)
    session.run(helm, "package", CHART, "--destination", "dist", external=True)
    url = ["--url", session.posargs[0]] if session.posargs else []
    session.run(helm, "repo", "index", "dist", *url, external=True)


@nox.session(python=False)
def kind(session: nox.Session) -> None:
    """The dev stack on kind: node image, cluster, stand-in images, `deployctl up kind`."""
    session.run("deployctl", "cluster", "up", "--provider", "kind", external=True)
    session.run("python3", "tests/e2e/standin/load.py", "deployctl", external=True)
    session.run("deployctl", "up", "kind", "--yes", *session.posargs, external=True)


@nox.session(python=PYTHON)
def real(session: nox.Session) -> None:
    """The real stack on kind (tests/real): stores from Debian's packages, the reference
    application, `deployctl up kind-real`, then the tests, which print their figures."""
    session.install("-e", ".[test]")
    session.run(
        "pytest", "tests/real", "-p", "no:cacheprovider", "-s", "--durations=10", *session.posargs
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmark (benchmarks/): writes benchmarks/results/latest.{md,json,png}."""
    session.install("-e", ".", "matplotlib")
    session.run("python", "-m", "benchmarks.run", *session.posargs)
