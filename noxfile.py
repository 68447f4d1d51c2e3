"""Sessions: `nox` runs lint, unit tests and end-to-end tests on the local cluster.

`nox -s e2e -- --provider kind` runs the end-to-end suite on a kind cluster
instead (needs Docker; this project's CI has none and does not exercise it).

`nox -s bench` (not run by default) benchmarks deployctl against ordered kubectl
and Helm on its own sandbox cluster; `nox -s bench -- --help` lists its options.
"""

import nox

nox.options.sessions = ["lint", "tests", "e2e"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"


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
    session.run("pytest", "tests/e2e", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmark (benchmarks/): writes benchmarks/results/latest.{md,json,png}."""
    session.install("-e", ".", "matplotlib")
    session.run("python", "-m", "benchmarks.run", *session.posargs)
