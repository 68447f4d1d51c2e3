"""The commands that talk to a cluster, as library calls: up, plan, diff.

Each returns an exit status and the JSON document of `--output json`; the CLI
only parses flags, prints and exits.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import difflib
import hashlib
import hmac
import re
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
from deployctl import render as rendering
from deployctl.deploy import access
from deployctl.deploy.prepare import wait_gone
from deployctl.engine import (
    ComponentResult,
    Deploy,
    DeployFailed,
    Options,
    Prepared,
    connect,
    identify,
    inventory,
    normalized,
    object_key,
    pin_key,
)
from deployctl.errors import ConfigError, DeployctlError, ExitStatus, Terminated
from deployctl.kube import ref
from deployctl.lock import DeployLock, Locked
from deployctl.plan import containers_of
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
    everyone = {p.name: p for p in profiles.load_all(project)}  # also checks they don't collide
    name = env or profiles.default_environment(project)
    if name not in everyone:
        known = ", ".join(sorted(everyone)) or "none"
        raise ConfigError(f'environments/: no environment "{name}" (known: {known})')
    profile = everyone[name]
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


@dataclass
class Outcome:
    """What one locked run did: its revision, results, and the document for --output json."""

    status: ExitStatus
    document: dict[str, Any]
    results: dict[str, ComponentResult]
    revision: releases.Revision | None


def _run(
    target: Target,
    reporter: Reporter,
    cluster,
    lock: DeployLock,
    action: str,
    *,
    objects: list[dict[str, Any]] | None = None,
    pins: dict[str, dict[str, str]] | None = None,
    replace_stuck_pods: bool = False,
    record: bool = True,
    scaffold: Deploy | None = None,
) -> Outcome:
    """Validate, apply, wait, prune and record one change under the held lock."""
    profile = target.profile
    origin = time.monotonic()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    deploy = Deploy(target.project, profile, cluster, target.options, reporter, guard=lock.check)
    deploy.replace_stuck_pods = replace_stuck_pods
    prepared = deploy.prepare(objects=objects, pins=pins)
    if objects is not None:  # recorded objects (rollout, rollback): their kinds too
        access.check(cluster, profile.namespace, prepared.objects)
    phases = {"validate": round(time.monotonic() - origin, 3)}
    _settle_abandoned(cluster, profile, prepared.revisions, lock)
    if scaffold is not None:
        scaffold.keep_scaffolding()  # validation passed: a namespace made for it stays
    if not prepared.changed:
        reporter.info("no changes: the cluster already matches")
    revision = None
    applied = [c.obj for c in prepared.changes]
    if prepared.changed and record:
        revision = releases.Revision(
            number=max((r.number for r in prepared.revisions), default=0) + 1,
            environment=profile.name,
            action=action,
            result="pending",
            images=releases.images_by_component(applied),
            objects=applied,
            pins=prepared.pins,
        )
        try:
            releases.save(
                cluster, profile.namespace, revision, profile.keep_revisions, prepared.revisions
            )
        except DeployctlError as error:
            # Its outcome is unknown (the write may have landed): exit 2 would promise
            # that nothing was written. A record left pending is settled by the next deploy.
            raise DeployFailed(
                f"could not record revision {revision.number} before deploying: {error}; "
                "nothing else was changed, and the next deploy settles the record"
            ) from None
    reporter.start([name for wave in prepared.plan.waves for name in wave])
    try:
        executed = deploy.execute(prepared)
        results, healthy = executed.results, executed.healthy
        phases.update(executed.phases)
        if revision is not None:
            lock.check()
            revision.result = "deployed" if healthy else "failed"
            revision.fingerprints = executed.fingerprints
            releases.settle(
                cluster, profile.namespace, revision, profile.keep_revisions, prepared.revisions
            )
        elif record and healthy:
            _refresh_fingerprints(cluster, profile, prepared, lock)
    except (KeyboardInterrupt, Terminated):
        _mark(cluster, profile, revision, "interrupted", lock)
        raise
    except DeployctlError as error:
        _mark(cluster, profile, revision, "failed", lock)
        if error.exit_status == ExitStatus.NOTHING_CHANGED:
            # Objects were written already: exit 2 would promise that nothing changed.
            raise DeployFailed(
                f"{error} — after changes were applied; see `deployctl status -e {profile.name}`"
            ) from None
        raise
    finally:
        reporter.close()
    for result in results.values():
        if result.state == "failed":
            reporter.info(f"FAILED {result.message}")
            for line in result.details:
                reporter.info(f"  {line}")
    verdict = "deployed" if healthy else "failed"
    document = {
        "environment": profile.name,
        "action": action,
        "context": cluster.context,
        "namespace": profile.namespace,
        "result": verdict,
        "changed": prepared.changed,
        "revision": revision.number if revision else None,
        "started": started_at,
        "duration": round(time.monotonic() - origin, 3),
        "objects": _changes_document(prepared),
        "dry_runs": prepared.dry_runs,
        "phases": phases,
        "components": {n: _component_document(r, origin) for n, r in results.items()},
    }
    return Outcome(ExitStatus.OK if healthy else ExitStatus.FAILED, document, results, revision)


def _settle_abandoned(cluster, profile, revisions: list, lock: DeployLock) -> None:
    """Records left pending belong to deploys that died: this one holds the lock, so no
    other runs. They become interrupted (their objects stay in the prune inventory)."""
    for revision in revisions:
        if revision.result == "pending":
            lock.check()
            revision.result = "interrupted"
            revision.note = revision.note or "its deploy stopped without settling it"
            releases.save(cluster, profile.namespace, revision, profile.keep_revisions, revisions)


def _refresh_fingerprints(cluster, profile, prepared: Prepared, lock: DeployLock) -> None:
    """Nothing changed, but some objects had to be dry-run to know it (a status-only
    controller write, a restore): remember them as they are, so the next run need not."""
    current = prepared.current
    if current is None or current.result != "deployed":
        return
    if current.fingerprints == prepared.fingerprints or current.objects != prepared.objects:
        return
    lock.check()
    current.fingerprints = prepared.fingerprints
    releases.save(cluster, profile.namespace, current, profile.keep_revisions)


def _mark(cluster, profile: profiles.Profile, revision, result: str, lock: DeployLock) -> None:
    """Best effort: record how a run ended, even while it is failing."""
    if revision is None or revision.result != "pending" or lock.lost.is_set():
        return  # a holder that lost the lock writes nothing more
    revision.result = result
    with contextlib.suppress(DeployctlError):
        releases.save(cluster, profile.namespace, revision, profile.keep_revisions)


def _with_lock(
    target: Target, reporter: Reporter, action: str, work, check_inputs: bool = False
) -> tuple[ExitStatus, dict]:
    """Connect, ask consent, take the environment's lock, run `work`, always release.

    The Lease lives in the environment's namespace: a first `up` creates that
    namespace before locking, and removes it again if validation fails. With
    `check_inputs` (up), every local check — render, profile, secret values —
    passes before that first write.
    """
    profile = target.profile
    cluster = connect(profile, target.options)
    _header(target, cluster.context, reporter)
    confirm_change(target, reporter, action)
    scaffold = Deploy(target.project, profile, cluster, target.options, reporter)
    objects = scaffold.check_inputs() if check_inputs else []
    access.check(cluster, profile.namespace, objects)
    namespace = cluster.get("v1", "Namespace", profile.namespace)
    if namespace is not None and namespace["metadata"].get("deletionTimestamp"):
        wait_gone(cluster, namespace, reporter.info)  # an earlier failed validation's, say
        namespace = None
    if namespace is None:
        if action != "deploy to":
            raise ConfigError(
                f"environment {profile.name} is not deployed (namespace {profile.namespace} "
                f"does not exist); run `deployctl up {profile.name}` first"
            )
        scaffold.ensure_namespace(_namespace_objects(target))
    lock = DeployLock(cluster, profile.namespace, profile.name, action, reporter.info)
    try:
        lock.acquire(wait=target.options.wait_lock)
    except Locked:
        raise  # another deploy holds it: a namespace we both applied is its to use now
    except BaseException:
        scaffold.undo_scaffolding()
        raise
    try:
        status, document = work(cluster, lock, scaffold)
    except BaseException:
        scaffold.undo_scaffolding()  # only what validation made and did not keep
        raise
    finally:
        lock.release()
    # What this run cost the API server, the lock's renewals and release included.
    document["requests"] = cluster.request_counts()
    return status, document


def _namespace_objects(target: Target) -> list[dict[str, Any]]:
    """The rendered Namespace (with its Pod Security labels), or a bare one."""
    try:
        objects = rendering.set_namespace(
            rendering.kustomize_build(target.profile.overlay), target.profile.namespace
        )
    except ConfigError:
        objects = []
    found = [o for o in objects if o["kind"] == "Namespace"]
    bare = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target.profile.namespace}}
    return [identify(o, target.profile.name) for o in found or [bare]]


def up(target: Target, reporter: Reporter) -> tuple[ExitStatus, dict[str, Any]]:
    rendering.start_render(target.profile.overlay)  # while the cluster is being reached

    def work(cluster, lock, scaffold):
        outcome = _run(target, reporter, cluster, lock, "up", scaffold=scaffold)
        _summary(target, reporter, outcome)
        return outcome.status, outcome.document

    return _with_lock(target, reporter, "deploy to", work, check_inputs=True)


def _summary(target: Target, reporter: Reporter, outcome: Outcome, note: str = "") -> None:
    verdict = outcome.document["result"]
    number = outcome.document["revision"]
    reporter.info(
        f"{target.profile.name}: {verdict}"
        + (f", revision {number}" if number else ", nothing changed")
        + f" in {outcome.document['duration']:.1f} s"
        + (f" — {note}" if note else "")
    )


def _connect_read_only(target: Target, reporter: Reporter):
    """Read-only commands may look at any context, with a warning when it is not the profile's."""
    chosen = target.options.context
    if chosen and chosen != target.profile.context:
        reporter.info(
            f"warning: context {chosen} is not environment {target.profile.name}'s "
            f"({target.profile.context})"
        )
    return connect(target.profile, target.options)


def plan(target: Target, reporter: Reporter) -> tuple[ExitStatus, dict[str, Any]]:
    rendering.start_render(target.profile.overlay)
    cluster = _connect_read_only(target, reporter)
    _header(target, cluster.context, reporter)
    deploy = Deploy(target.project, target.profile, cluster, target.options, reporter)
    prepared = deploy.prepare(read_only=True)
    components = prepared.plan.components
    kinds: dict[str, int] = {}
    for obj in prepared.plan.foundation:
        kinds[obj["kind"]] = kinds.get(obj["kind"], 0) + 1
    return ExitStatus.OK, {
        "environment": target.profile.name,
        "context": cluster.context,
        "namespace": target.profile.namespace,
        "foundation": kinds,
        "waves": prepared.plan.waves,
        "dependencies": {n: list(c.depends_on) for n, c in components.items()},
        "changed": prepared.changed,
        "objects": _changes_document(prepared),
    }


def format_plan(document: dict[str, Any]) -> str:
    kinds = ", ".join(f"{count} {kind}" for kind, count in document["foundation"].items())
    lines = [f"foundation: {kinds}"]
    for number, wave in enumerate(document["waves"], start=1):
        described = []
        for name in wave:
            after = document["dependencies"][name]
            described.append(name + (f" (after {', '.join(after)})" if after else ""))
        lines.append(f"wave {number}: " + ", ".join(described))
    for row in document["objects"]:
        if row["action"] != "unchanged":
            lines.append(f"  {row['action']:9} {row['object']}")
    if not document["changed"]:
        lines.append("no changes")
    return "\n".join(lines)


def _masker():
    """Replace Secret values by a keyed digest: equal values look equal, none is revealed."""
    key = random.token_bytes(16)

    def mask(obj: dict[str, Any] | None) -> dict[str, Any] | None:
        if obj is None or obj.get("kind") != "Secret":
            return obj
        masked = dict(obj)
        metadata = dict(masked.get("metadata") or {})
        annotations = dict(metadata.get("annotations") or {})
        # kubectl's last-applied copy of a Secret holds its values in clear.
        if annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None):
            metadata["annotations"] = annotations
            masked["metadata"] = metadata
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
    rendering.start_render(target.profile.overlay)
    cluster = _connect_read_only(target, reporter)
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


# -- rollout ----------------------------------------------------------------------------

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REFERENCE = re.compile(
    r"^(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)


def new_image(current: str, version: str) -> str:
    """A tag replaces the current image's tag; a full reference replaces the image."""
    if _TAG.match(version) and "/" not in version and ":" not in version:
        name = current.split("@", 1)[0]
        repository = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
        return f"{repository}:{version}"
    if _REFERENCE.match(version) and (":" in version or "@" in version):
        return version
    raise ConfigError(
        f'VERSION "{version}" is neither a tag (like v2.0.1) nor a full image reference '
        "(like registry.example.com/team/app:v2.0.1)"
    )


def _pick_container(workloads: list[dict], component: str, container: str | None):
    """The (workload, container) whose image a rollout changes."""
    candidates = [(w, c) for w in workloads for c in containers_of(w)]
    if container is not None:
        chosen = [(w, c) for w, c in candidates if c["name"] == container]
        if not chosen:
            names = ", ".join(sorted({c["name"] for _, c in candidates}))
            raise ConfigError(
                f'--container: component {component} has no container "{container}" '
                f"(it has: {names})"
            )
        return chosen
    if len(candidates) == 1:
        return candidates
    named = [(w, c) for w, c in candidates if c["name"] == component]
    if named:
        return named
    names = ", ".join(sorted({c["name"] for _, c in candidates}))
    raise ConfigError(
        f"component {component} has several containers ({names}); name one with --container"
    )


def rollout(
    target: Target,
    reporter: Reporter,
    component: str,
    version: str,
    container: str | None = None,
    no_rollback: bool = False,
) -> tuple[ExitStatus, dict[str, Any]]:
    if not (_TAG.match(version) or _REFERENCE.match(version)):
        new_image("", version)  # raises the explanation

    def work(cluster, lock, scaffold):
        profile = target.profile
        current = releases.latest(cluster, profile.namespace, profile.name, deployed=True)
        if current is None:
            raise ConfigError(
                f"environment {profile.name} has no deployed revision to roll out from; "
                f"run `deployctl up {profile.name}` first"
            )
        objects = copy.deepcopy(current.objects)
        workloads = [o for o in releases.component_objects(objects, component) if containers_of(o)]
        if not workloads:
            known = sorted({c for c in releases.images_by_component(objects)})
            raise ConfigError(f'unknown component "{component}" (known: {", ".join(known)})')
        chosen = _pick_container(workloads, component, container)
        pins = dict(current.pins)
        changes = []
        for workload, spec in chosen:
            key = pin_key(workload, spec["name"])
            manifest = (current.pins.get(key) or {}).get("manifest", spec["image"])
            image = new_image(spec["image"], version)
            if image != spec["image"]:
                changes.append(f"{key}: {spec['image']} -> {image}")
            spec["image"] = image
            pins[key] = {"image": image, "manifest": manifest}
        if not changes:
            reporter.info(f"{component} already runs {version}; nothing to do")
            return ExitStatus.OK, {"result": "unchanged", "changed": False, "revision": None}
        reporter.info("rolling out " + "; ".join(changes))
        outcome = _run(
            target,
            reporter,
            cluster,
            lock,
            "rollout",
            objects=objects,
            pins=pins,
            scaffold=scaffold,
        )
        if outcome.status == ExitStatus.OK:
            _summary(target, reporter, outcome)
            return outcome.status, outcome.document
        failure = next((r.message for r in outcome.results.values() if r.state == "failed"), "")
        if no_rollback:
            _summary(target, reporter, outcome, "kept the failed state (--no-rollback)")
            return ExitStatus.FAILED, outcome.document
        reporter.info(f"rollout failed; restoring revision {current.number}")
        try:
            restored = _run(
                target,
                reporter,
                cluster,
                lock,
                "rollout",
                objects=current.objects,
                pins=current.pins,
                replace_stuck_pods=True,
                record=False,
            )
        except DeployctlError as error:
            running = _running_images(cluster, profile.namespace, objects, component)
            raise NotRestored(
                f"rollout of {component} to {version} failed ({failure}), and restoring "
                f"revision {current.number} failed too: {error}; {component} runs {running} "
                f"— see `deployctl status -e {profile.name}`"
            ) from None
        if restored.status != ExitStatus.OK:
            running = _running_images(cluster, profile.namespace, objects, component)
            failed_again = next(
                (r.message for r in restored.results.values() if r.state == "failed"), ""
            )
            reporter.info(
                f"rollout of {component} to {version} failed: {failure}; restoring revision "
                f"{current.number} did not become healthy either: {failed_again}; "
                f"{component} runs {running}"
            )
            document = {**outcome.document, "result": "not-restored", "restored": restored.document}
            return ExitStatus.NOT_RESTORED, document
        if outcome.revision is not None:
            outcome.revision.result = "rolled-back"
            outcome.revision.note = failure
            releases.save(cluster, profile.namespace, outcome.revision, profile.keep_revisions)
            # The cluster runs the previous revision again.
            current.result = "deployed"
            releases.save(cluster, profile.namespace, current, profile.keep_revisions)
        reporter.info(
            f"rollout of {component} to {version} failed: {failure}; rolled back to "
            f"revision {current.number}, which is healthy again"
        )
        document = {**outcome.document, "result": "rolled-back", "restored": restored.document}
        return ExitStatus.FAILED, document

    return _with_lock(target, reporter, "rollout", work)


class NotRestored(DeployctlError):
    """A rollout failed and its automatic rollback did not restore the cluster (exit 4)."""

    exit_status = ExitStatus.NOT_RESTORED


def _running_images(cluster, namespace: str, objects: list[dict], component: str) -> str:
    """What the component's workloads run now, as the cluster says (for the on-call)."""
    found = []
    for obj in releases.component_objects(objects, component):
        if not containers_of(obj):
            continue
        try:
            live = cluster.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], namespace)
        except DeployctlError:
            live = None
        images = [c["image"] for c in containers_of(live or {})] or ["(unknown)"]
        found.append(f"{obj['metadata']['name']}={','.join(images)}")
    return "; ".join(found) or "(nothing)"


# -- rollback ---------------------------------------------------------------------------


def rollback(
    target: Target,
    reporter: Reporter,
    component: str | None = None,
    to_revision: int | None = None,
) -> tuple[ExitStatus, dict[str, Any]]:
    def work(cluster, lock, scaffold):
        profile = target.profile
        revisions = releases.history(cluster, profile.namespace, profile.name)
        current = releases.current_state(revisions)
        if current is None:
            raise ConfigError(f"environment {profile.name} has no revision to roll back from")
        if to_revision is not None:
            chosen = next((r for r in revisions if r.number == to_revision), None)
            if chosen is None or not chosen.successful:
                kept = ", ".join(str(r.number) for r in revisions if r.successful)
                raise ConfigError(
                    f"--to-revision {to_revision}: not a kept successful revision (kept: {kept})"
                )
        else:
            chosen = releases.rollback_target(revisions, current, component)
            if chosen is None:
                what = f"component {component}" if component else profile.name
                raise ConfigError(
                    f"nothing to roll back to: no earlier successful revision of {what} "
                    f"differs from the current one (revision {current.number})"
                )
        if component:
            if not releases.component_objects(current.objects, component):
                raise ConfigError(f'unknown component "{component}" in revision {current.number}')
            keep = [
                o
                for o in current.objects
                if o not in releases.component_objects(current.objects, component)
            ]
            objects = keep + releases.component_objects(chosen.objects, component)
            pins = {k: v for k, v in current.pins.items() if not _pin_of(k, objects, component)}
            pins.update({k: v for k, v in chosen.pins.items() if _pin_of(k, objects, component)})
        else:
            objects, pins = chosen.objects, chosen.pins
        what = f"{component} " if component else ""
        reporter.info(f"rolling back {what}to revision {chosen.number}")
        outcome = _run(
            target,
            reporter,
            cluster,
            lock,
            "rollback",
            objects=copy.deepcopy(objects),
            pins=pins,
            replace_stuck_pods=True,
            scaffold=scaffold,
        )
        _summary(target, reporter, outcome, f"restored revision {chosen.number}")
        return outcome.status, {**outcome.document, "target": chosen.number}

    return _with_lock(target, reporter, "rollback", work)


def _pin_of(key: str, objects: list[dict], component: str) -> bool:
    kind, name, _ = key.split("/", 2)
    return any(
        o["kind"] == kind and o["metadata"]["name"] == name
        for o in releases.component_objects(objects, component)
    )


# -- history, status, down ---------------------------------------------------------------


def _short_images(images: dict[str, list[str]]) -> str:
    return ", ".join(
        f"{c}={i.rsplit('/', 1)[-1]}" for c, imgs in sorted(images.items()) for i in imgs
    )


def history(target: Target, reporter: Reporter) -> tuple[ExitStatus, dict[str, Any]]:
    profile = target.profile
    cluster = _connect_read_only(target, reporter)
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
        }
        for r in revisions
    ]
    return ExitStatus.OK, {"environment": profile.name, "revisions": rows}


def format_history(document: dict[str, Any]) -> str:
    lines = [f"{'REV':>4}  {'TIME':25}  {'USER':24}  {'ACTION':9}  {'RESULT':12}  IMAGES"]
    for row in document["revisions"]:
        lines.append(
            f"{row['revision']:>4}  {row['time']:25}  {row['user'][:24]:24}  "
            f"{row['action']:9}  {row['result']:12}  {_short_images(row['images'])}"
        )
    if not document["revisions"]:
        lines.append(f"no revisions recorded for {document['environment']}")
    return "\n".join(lines)


def status(target: Target, reporter: Reporter) -> tuple[ExitStatus, dict[str, Any]]:
    """Every component's workloads: kind, ready/desired, image, revision, problems."""
    from deployctl import health

    profile = target.profile
    cluster = _connect_read_only(target, reporter)
    current = releases.current_state(releases.history(cluster, profile.namespace, profile.name))
    objects = current.objects if current else []
    pods, _ = cluster.list("v1", "Pod", profile.namespace)
    events, _ = cluster.list("v1", "Event", profile.namespace, field_selector="type=Warning")
    rows = []
    unhealthy = False
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            continue
        meta = obj["metadata"]
        live = cluster.get(obj["apiVersion"], obj["kind"], meta["name"], profile.namespace)
        component = (meta.get("labels") or {}).get("app.kubernetes.io/component", meta["name"])
        row: dict[str, Any] = {"component": component, "kind": obj["kind"], "name": meta["name"]}
        problems: list[str] = []
        if live is None:
            problems.append("missing from the cluster")
            state = health.failed("missing")
        else:
            state = health.object_health(live)
            spec, st = live.get("spec") or {}, live.get("status") or {}
            row["ready"] = st.get("readyReplicas", st.get("numberReady", st.get("succeeded", 0)))
            row["desired"] = spec.get("replicas", st.get("desiredNumberScheduled", 1))
            row["images"] = [c["image"] for c in containers_of(live)]
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            mine = [
                p
                for p in pods
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
            ]
            problems += [p for pod in mine if (p := health.pod_problem(pod))]
            names = {p["metadata"]["name"] for p in mine} | {meta["name"]}
            recent = [e for e in events if (e.get("involvedObject") or {}).get("name") in names]
            recent.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
            problems += [
                f"event {e.get('reason')} on {e['involvedObject']['name']}: "
                f"{(e.get('message') or '').strip()}"
                for e in recent[-3:]
            ]
        row["health"] = state.state.value
        row["message"] = state.message
        row["problems"] = problems
        unhealthy |= not state.healthy or any(not p.startswith("event ") for p in problems)
        rows.append(row)
    document = {
        "environment": profile.name,
        "namespace": profile.namespace,
        "revision": current.number if current else None,
        "healthy": not unhealthy and bool(rows),
        "components": rows,
    }
    if not rows:
        reporter.info(f"environment {profile.name} has no deployed revision")
    return (ExitStatus.OK if document["healthy"] else ExitStatus.FAILED), document


def format_status(document: dict[str, Any]) -> str:
    lines = [
        f"environment {document['environment']} (namespace {document['namespace']}), "
        f"revision {document['revision']}"
    ]
    for row in document["components"]:
        ready = f"{row.get('ready', 0)}/{row.get('desired', '?')}"
        images = ", ".join(i.rsplit("/", 1)[-1] for i in row.get("images", []))
        lines.append(
            f"  {row['component']:14} {row['kind']:12} {ready:6} {row['health']:11} {images}"
            + (f"  {row['message']}" if row["health"] != "Current" else "")
        )
        lines += [f"      ! {p}" for p in row["problems"]]
    return "\n".join(lines)


def down(
    target: Target,
    reporter: Reporter,
    delete_volumes: bool = False,
    delete_namespace: bool = False,
) -> tuple[ExitStatus, dict[str, Any]]:
    def work(cluster, lock, scaffold):
        from deployctl import plan as plans
        from deployctl.secrets import GENERATED_ANNOTATION

        profile = target.profile
        revisions = releases.history(cluster, profile.namespace, profile.name)
        deployed = next((r for r in reversed(revisions) if r.result == "deployed"), None)
        objects = list({object_key(o): o for o in inventory(revisions, deployed)}.values())
        deploy_plan = plans.build_plan(objects, profile.order)
        removed: list[str] = []

        def remove(group: list[dict]) -> None:
            deleted = []
            for obj in group:
                meta = obj["metadata"]
                if obj["kind"] in (
                    "Namespace",
                    "PersistentVolumeClaim",
                    "CustomResourceDefinition",
                ):
                    continue  # a CRD's deletion would take every object of its kind with it
                if obj["kind"] == "Secret" and (meta.get("annotations") or {}).get(
                    GENERATED_ANNOTATION
                ):
                    continue  # generated values must survive, or kept volumes stop matching
                lock.check()
                if cluster.delete(
                    obj["apiVersion"],
                    obj["kind"],
                    meta["name"],
                    meta.get("namespace"),
                    propagation="Foreground",
                ):
                    deleted.append(obj)
                    removed.append(ref(obj))
                    reporter.object(ref(obj), "deleted")
            _wait_gone(cluster, deleted, lock)

        try:
            for wave in reversed(deploy_plan.waves):
                for name in wave:
                    reporter.info(f"removing {name}")
                remove([o for name in wave for o in deploy_plan.components[name].objects])
            remove(list(reversed(deploy_plan.foundation)))
            if delete_volumes:
                claims, _ = cluster.list("v1", "PersistentVolumeClaim", profile.namespace)
                selectors = [
                    (o["spec"].get("selector") or {}).get("matchLabels") or {}
                    for o in objects
                    if o["kind"] == "StatefulSet"
                ]
                for claim in claims:
                    labels = claim["metadata"].get("labels") or {}
                    if any(s and all(labels.get(k) == v for k, v in s.items()) for s in selectors):
                        name = claim["metadata"]["name"]
                        cluster.delete("v1", "PersistentVolumeClaim", name, profile.namespace)
                        removed.append(ref(claim))
                        reporter.object(ref(claim), "deleted")
            if delete_namespace:
                lock.release()
                cluster.delete("v1", "Namespace", profile.namespace)
                reporter.info(f"namespace {profile.namespace} deleted, with deployctl's records")
        except DeployctlError as error:
            if removed and error.exit_status == ExitStatus.NOTHING_CHANGED:
                raise DeployFailed(f"{error} — after removing {len(removed)} objects") from None
            raise
        reporter.info(f"{profile.name}: down ({len(removed)} objects removed)")
        return ExitStatus.OK, {"environment": profile.name, "removed": removed}

    return _with_lock(target, reporter, "take down", work)


# A CRD's deletion would take every object of its kind, in every namespace, with it.
KEPT_BY_DOWN = ("Namespace", "PersistentVolumeClaim", "CustomResourceDefinition")


def _wait_gone(cluster, objects: list[dict], lock: DeployLock, timeout: float = 120) -> None:
    """Wait until every deleted object is really gone (finalizers, foreground deletion)."""
    deadline = time.monotonic() + timeout
    remaining = list(objects)
    while remaining and time.monotonic() < deadline:
        lock.check()
        remaining = [
            o
            for o in remaining
            if cluster.get(
                o["apiVersion"], o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")
            )
            is not None
        ]
        if remaining:
            time.sleep(0.5)
    if remaining:
        raise ConfigError(
            f"still being deleted after {timeout:.0f} s: {', '.join(ref(o) for o in remaining)}"
        )
