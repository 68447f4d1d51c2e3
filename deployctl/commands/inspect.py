"""The read-only commands: `plan`, `diff` and `history`. They write nothing."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from deployctl import present, releases
from deployctl import render as rendering
from deployctl.commands import Result, fleet
from deployctl.commands.session import changes_document
from deployctl.commands.target import Target, connect_read_only, header
from deployctl.engine import Deploy, Prepared, normalized
from deployctl.errors import ExitStatus
from deployctl.model import ChangeAction, ref
from deployctl.present import Reporter


def _prepare(target: Target, reporter: Reporter) -> tuple[Prepared, str]:
    rendering.start_render(target.profile)  # while the cluster is being reached
    cluster = connect_read_only(target, reporter)
    header(target, cluster.context, reporter)
    deploy = Deploy(target.project, target.profile, cluster, target.options, reporter)
    return deploy.prepare(read_only=True), cluster.context


def plan(target: Target, reporter: Reporter) -> Result:
    if target.profile.fleet:
        return fleet.survey(target, reporter, plan, present.format_fleet)
    prepared, context = _prepare(target, reporter)
    components = prepared.plan.components
    kinds: dict[str, int] = {}
    for obj in prepared.plan.foundation:
        kinds[obj["kind"]] = kinds.get(obj["kind"], 0) + 1
    document = {
        "environment": target.profile.name,
        "context": context,
        "namespace": target.profile.namespace,
        "foundation": kinds,
        "waves": prepared.plan.waves,
        "dependencies": {n: list(c.depends_on) for n, c in components.items()},
        "changed": prepared.changed,
        "objects": changes_document(prepared),
    }
    return Result(ExitStatus.OK, document, present.format_plan(document))


def diff(target: Target, reporter: Reporter, show_secrets: bool = False) -> Result:
    """Unified diff, live vs. new: exit 0 when equal, 1 when they differ."""
    if target.profile.fleet:
        each = lambda t, r: diff(t, r, show_secrets)  # noqa: E731
        return fleet.survey(target, reporter, each, present.format_fleet)
    prepared, _ = _prepare(target, reporter)
    mask = (lambda o: o) if show_secrets else present.Masker(keyed=True)

    def dump(obj: dict[str, Any] | None) -> list[str]:
        if obj is None:
            return []
        return yaml.safe_dump(mask(normalized(obj)), sort_keys=True).splitlines(keepends=True)

    chunks: list[str] = []
    for change in prepared.changes:
        if change.action in (ChangeAction.UNCHANGED, ChangeAction.UNKNOWN):
            continue
        name = change.ref
        chunks += difflib.unified_diff(
            dump(change.live),
            dump(change.dry_run or change.obj),
            fromfile=f"live/{name}",
            tofile=f"new/{name}",
        )
    for obj in prepared.prune:
        chunks += difflib.unified_diff(
            dump(obj), [], fromfile=f"live/{ref(obj)}", tofile="/dev/null"
        )
    unknown = [c.ref for c in prepared.changes if c.action == ChangeAction.UNKNOWN]
    if unknown:
        reporter.info(f"not compared (no values given): {', '.join(unknown)}")
    text = "".join(chunks)
    status = ExitStatus.FAILED if text else ExitStatus.OK
    return Result(status, {"changed": bool(text), "diff": text}, text)


def history(target: Target, reporter: Reporter) -> Result:
    if target.profile.fleet:
        return fleet.survey(target, reporter, history, present.format_fleet)
    profile = target.profile
    cluster = connect_read_only(target, reporter)
    revisions = releases.history(cluster, profile.namespace, profile.name)
    rows = [
        {
            "revision": r.number,
            "time": r.time,
            "user": r.user,
            "action": r.action,
            "result": r.result,
            "images": r.images,
            "note": r.note,
            "migrations": r.migrations,
        }
        for r in revisions
    ]
    document = {"environment": profile.name, "revisions": rows}
    return Result(ExitStatus.OK, document, present.format_history(document))
