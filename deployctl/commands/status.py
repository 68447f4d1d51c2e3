"""`deployctl status`: every component's workloads — ready/desired, images, health,
and why not — from one list per kind; `-w` follows until all are healthy.

A workload's pods are those `up` judges, picked by owner (`health.workload_pods`): the
pods of a Deployment's old ReplicaSets, a failed rollout's still going away, are not its
pods, and a selector's `matchExpressions` count as much as its `matchLabels`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from deployctl import health, present, releases
from deployctl.commands import Result, fleet
from deployctl.commands.target import Target, connect_read_only
from deployctl.errors import ExitStatus
from deployctl.kube import Cluster
from deployctl.model import COMPONENT_LABEL, Obj
from deployctl.plan import WORKLOAD_KINDS, containers_of, is_migration, stamped_digest
from deployctl.present import Reporter

FOLLOW_EVERY = 2.0  # seconds between looks with --watch
# The workloads whose pods status reports: a CronJob's pods belong to the Jobs it makes.
REPORTED_KINDS = tuple(kind for kind in WORKLOAD_KINDS if kind != "CronJob")


def status(
    target: Target,
    reporter: Reporter,
    watch: bool = False,
    show: Callable[[Result], None] = lambda result: None,
) -> Result:
    """With `watch`, `show` gets each changed picture until everything is healthy."""
    if target.profile.fleet:
        each = lambda t, r: look(t, connect_read_only(t, r))  # noqa: E731
        everywhere = lambda: fleet.survey(target, reporter, each, present.format_fleet)  # noqa: E731
        return follow(everywhere, show) if watch else everywhere()
    cluster = connect_read_only(target, reporter)
    result = follow(lambda: look(target, cluster), show) if watch else look(target, cluster)
    if not result.document["components"]:
        reporter.info(f"environment {target.profile.name} has no deployed revision")
    return result


def follow(look_now: Callable[[], Result], show: Callable[[Result], None]) -> Result:
    """`--watch`: look again every FOLLOW_EVERY seconds until healthy; `show` each changed
    picture on the way."""
    result = look_now()
    shown = ""
    while result.status != ExitStatus.OK:
        if result.text != shown:
            show(result)
            shown = result.text or ""
        time.sleep(FOLLOW_EVERY)
        result = look_now()
    return result


def look(target: Target, cluster: Cluster) -> Result:
    profile = target.profile
    current = releases.current_state(releases.history(cluster, profile.namespace, profile.name))
    workloads = [o for o in (current.objects if current else []) if o["kind"] in REPORTED_KINDS]
    live, owned_by = _read(cluster, profile.namespace, workloads)
    events, _ = cluster.list("v1", "Event", profile.namespace, field_selector="type=Warning")
    now = cluster.server_now()  # the pods' stamps are the API server's: so is the grace
    rows = [
        _row(
            obj,
            live.get((obj["kind"], obj["metadata"]["name"])),
            owned_by,
            events,
            lambda pod, component: health.pod_problem(
                pod,
                now=now,
                unschedulable_grace=profile.unschedulable_grace,
                restarts_allowed=profile.restarts_for(component),
            ),
        )
        for obj in workloads
    ]
    unhealthy = any(row.pop("unhealthy") for row in rows)
    document = {
        "environment": profile.name,
        "namespace": profile.namespace,
        "revision": current.number if current else None,
        "healthy": not unhealthy and bool(rows),
        "components": rows,
    }
    status = ExitStatus.OK if document["healthy"] else ExitStatus.FAILED
    return Result(status, document, present.format_status(document))


def _read(
    cluster: Cluster, namespace: str, workloads: list[Obj]
) -> tuple[dict[tuple[str, str], Obj], health.OwnedBy]:
    """The live workloads by (kind, name), and an owner index over them, the Pods and the
    ReplicaSets (a Deployment's pods are its ReplicaSets'): one list per kind."""
    kinds = {(o["apiVersion"], o["kind"]) for o in workloads} | {("v1", "Pod")}
    if any(o["kind"] == "Deployment" for o in workloads):
        kinds.add(("apps/v1", "ReplicaSet"))
    listed = [item for kind in sorted(kinds) for item in cluster.list(*kind, namespace)[0]]
    live = {(o["kind"], o["metadata"]["name"]): o for o in listed if o["kind"] in REPORTED_KINDS}
    return live, health.index_by_owner(listed)


def _row(
    obj: Obj,
    live: Obj | None,
    owned_by: health.OwnedBy,
    events: list[Obj],
    problem_of: Callable[[Obj, str], str | None] = lambda pod, _component: health.pod_problem(pod),
) -> dict[str, Any]:
    """One workload's row. `problem_of(pod, component)`: a pod's problem, judged as `up`
    judges it (the server's time, the profile's grace and restart allowance)."""
    meta = obj["metadata"]
    component = (meta.get("labels") or {}).get(COMPONENT_LABEL, meta["name"])
    row: dict[str, Any] = {"component": component, "kind": obj["kind"], "name": meta["name"]}
    problems: list[str] = []
    if live is None:
        problems.append("missing from the cluster")
        state = health.failed("missing")
    else:
        state = health.object_health(live)
        if counts := health.ready_count(live):
            row["ready"], row["desired"] = counts.ready, counts.desired
        row["images"] = [c["image"] for c in containers_of(live)]
        mine = health.workload_pods(live, owned_by)
        problems += [p for pod in mine if (p := problem_of(pod, component))]
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
    row["unhealthy"] = not state.healthy or any(not p.startswith("event ") for p in problems)
    if live is not None and is_migration(obj) and stamped_digest(obj) != stamped_digest(live):
        # The live Job is another revision's migration (a rollout whose migration failed
        # was rolled back; going back runs no migration): not this revision's health.
        row["message"] = (
            f"{state.message}; this Job ran another revision's migration, the next deploy "
            "runs this one"
        )
        row["unhealthy"] = False
    return row
