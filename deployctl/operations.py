"""The commands that talk to a cluster, as library calls: up, plan, diff.

Each returns an exit status and the JSON document of `--output json`; the CLI
only parses flags, prints and exits.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import hmac
import os
import secrets as random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from deployctl import profile as profiles
from deployctl import releases
from deployctl.engine import ComponentResult, Deploy, Options, Prepared, connect, normalized
from deployctl.errors import ConfigError, ExitStatus
from deployctl.kube import ref
from deployctl.report import Reporter


@dataclass
class Target:
    """Where a command points: the project, the environment's profile, and flags."""

    project: Path
    profile: profiles.Profile
    options: Options
    yes: bool = False


def resolve_target(
    project: Path,
    env: str | None,
    options: Options,
    namespace: str | None = None,
    yes: bool = False,
) -> Target:
    name = env or os.environ.get("DEPLOYCTL_ENV") or profiles.default_environment(project)
    profile = profiles.load_profile(project, name)
    if namespace:
        profile = dataclasses.replace(profile, namespace=namespace)
    return Target(project, profile, options, yes)


def confirm_change(target: Target, reporter: Reporter, action: str) -> None:
    """Protected environments (or a context other than the profile's) need consent."""
    profile = target.profile
    other_context = target.options.context and target.options.context != profile.context
    if other_context and profile.protected and not target.yes:
        raise ConfigError(
            f"{profile.path}: environment {profile.name} is protected and --context "
            f"{target.options.context} is not its context ({profile.context}); add --yes to confirm"
        )
    if not profile.protected or target.yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(
            f"environment {profile.name} is protected: {action} needs confirmation; "
            "add --yes (no terminal to ask on)"
        )
    import typer

    if not typer.confirm(f"{action} protected environment {profile.name}?", err=True):
        raise ConfigError(f"{action} of {profile.name} not confirmed; nothing was changed")


def _header(target: Target, context: str, reporter: Reporter) -> None:
    reporter.info(
        f"environment {target.profile.name}, context {context}, "
        f"namespace {target.profile.namespace}"
    )


def _changes_document(prepared: Prepared) -> list[dict[str, Any]]:
    rows = [{"object": c.ref, "action": c.action} for c in prepared.changes]
    rows += [{"object": ref(o), "action": "prune"} for o in prepared.prune]
    return rows


def _component_document(result: ComponentResult, origin: float) -> dict[str, Any]:
    def at(moment: float | None) -> float | None:
        return None if moment is None else round(moment - origin, 3)

    duration = None
    if result.started is not None and result.finished is not None:
        duration = round(result.finished - result.started, 3)
    return {
        "state": result.state,
        "started": at(result.started),
        "finished": at(result.finished),
        "duration": duration,
        "message": result.message,
        "details": result.details,
    }


def up(target: Target, reporter: Reporter) -> tuple[ExitStatus, dict[str, Any]]:
    profile = target.profile
    cluster = connect(profile, target.options)
    _header(target, cluster.context, reporter)
    confirm_change(target, reporter, "deploy to")
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    origin = time.monotonic()
    deploy = Deploy(target.project, profile, cluster, target.options, reporter)
    prepared = deploy.prepare()
    if not prepared.changed:
        reporter.info("no changes: the cluster already matches the manifests")
    reporter.start(list(prepared.plan.components))
    try:
        results = deploy.execute(prepared)
    finally:
        reporter.close()
    healthy = all(r.state == "healthy" for r in results.values())
    revision_number = None
    if prepared.changed:
        revision_number = releases.next_number(cluster, profile.namespace, profile.name)
        applied = [c.obj for c in prepared.changes]
        releases.save(
            cluster,
            profile.namespace,
            releases.Revision(
                number=revision_number,
                environment=profile.name,
                action="up",
                result="deployed" if healthy else "failed",
                images=releases.images_by_component(applied),
                objects=applied,
            ),
        )
    for result in results.values():
        if result.state == "failed":
            reporter.info(f"FAILED {result.message}")
            for line in result.details:
                reporter.info(f"  {line}")
    status = ExitStatus.OK if healthy else ExitStatus.FAILED
    verdict = "deployed" if healthy else "failed"
    reporter.info(
        f"{profile.name}: {verdict}"
        + (f", revision {revision_number}" if revision_number else ", nothing changed")
        + f" in {time.monotonic() - origin:.1f} s"
    )
    return status, {
        "environment": profile.name,
        "context": cluster.context,
        "namespace": profile.namespace,
        "result": verdict,
        "changed": prepared.changed,
        "revision": revision_number,
        "started": started_at,
        "duration": round(time.monotonic() - origin, 3),
        "objects": _changes_document(prepared),
        "components": {n: _component_document(r, origin) for n, r in results.items()},
    }


def plan(target: Target, reporter: Reporter) -> tuple[ExitStatus, dict[str, Any]]:
    cluster = connect(target.profile, target.options)
    _header(target, cluster.context, reporter)
    deploy = Deploy(target.project, target.profile, cluster, target.options, reporter)
    prepared = deploy.prepare(read_only=True)
    waves = prepared.plan.waves
    components = prepared.plan.components
    lines = ["foundation: " + ", ".join(ref(o) for o in prepared.plan.foundation)]
    for number, wave in enumerate(waves, start=1):
        described = [
            f"{name}"
            + (
                f" (after {', '.join(components[name].depends_on)})"
                if components[name].depends_on
                else ""
            )
            for name in wave
        ]
        lines.append(f"wave {number}: " + ", ".join(described))
    for change in prepared.changes:
        if change.action != "unchanged":
            lines.append(f"  {change.action:9} {change.ref}")
    for obj in prepared.prune:
        lines.append(f"  {'prune':9} {ref(obj)}")
    if not prepared.changed:
        lines.append("no changes")
    for line in lines:
        reporter.info(line)
    return ExitStatus.OK, {
        "environment": target.profile.name,
        "context": cluster.context,
        "namespace": target.profile.namespace,
        "waves": waves,
        "dependencies": {n: list(c.depends_on) for n, c in components.items()},
        "changed": prepared.changed,
        "objects": _changes_document(prepared),
    }


def _masker():
    """Replace Secret values by a keyed digest: equal values look equal, none is revealed."""
    key = random.token_bytes(16)

    def mask(obj: dict[str, Any] | None) -> dict[str, Any] | None:
        if obj is None or obj.get("kind") != "Secret":
            return obj
        masked = dict(obj)
        for field in ("data", "stringData"):
            if masked.get(field):
                masked[field] = {
                    k: "<masked "
                    + hmac.new(key, str(v).encode(), hashlib.sha256).hexdigest()[:8]
                    + ">"
                    for k, v in masked[field].items()
                }
        return masked

    return mask


def diff(target: Target, reporter: Reporter, show_secrets: bool = False) -> tuple[ExitStatus, str]:
    cluster = connect(target.profile, target.options)
    _header(target, cluster.context, reporter)
    deploy = Deploy(target.project, target.profile, cluster, target.options, reporter)
    prepared = deploy.prepare(read_only=True)
    mask = (lambda o: o) if show_secrets else _masker()
    chunks = []

    def dump(obj: dict[str, Any] | None) -> list[str]:
        if obj is None:
            return []
        return yaml.safe_dump(mask(normalized(obj)), sort_keys=True).splitlines(keepends=True)

    for change in prepared.changes:
        if change.action in ("unchanged", "unknown"):
            continue
        new = change.dry_run or change.obj
        name = change.ref
        chunks += difflib.unified_diff(
            dump(change.live), dump(new), fromfile=f"live/{name}", tofile=f"new/{name}"
        )
    for obj in prepared.prune:
        chunks += difflib.unified_diff(
            dump(obj), [], fromfile=f"live/{ref(obj)}", tofile="/dev/null"
        )
    unknown = [c.ref for c in prepared.changes if c.action == "unknown"]
    if unknown:
        reporter.info(f"not compared (no values given): {', '.join(unknown)}")
    text = "".join(chunks)
    return (ExitStatus.FAILED if text else ExitStatus.OK), text
