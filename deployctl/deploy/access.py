"""What the deploy identity may do, checked before the first write.

One SelfSubjectRulesReview lists the rules that apply to this identity in the
environment's namespace; every verb a deploy will use on every resource it
touches must be among them. A missing one is exit 2 naming the verb, the
resource and the namespace, instead of a 403 halfway through a deploy.
Where the authorizer cannot list rules (`incomplete`), the check is skipped
and the API server's own answers stay the authority.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from deployctl.errors import ConfigError
from deployctl.kube import Cluster, NotServed
from deployctl.model import Obj

# Every verb a deploy uses on the objects it manages: read them in bulk, watch
# workloads, apply (create or patch), prune and take down (delete).
OBJECT_VERBS = ("get", "list", "watch", "create", "patch", "delete")
# What deployctl itself uses in the namespace, whatever the manifests hold.
OWN_NEEDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("coordination.k8s.io", "leases", ("get", "create", "update", "delete")),  # the lock
    ("", "secrets", ("get", "list", "create", "patch", "delete")),  # revision records
    ("", "pods", ("get", "list", "watch", "delete")),  # health; stuck pods replaced
    ("", "pods/log", ("get",)),  # the last log lines of a failing pod
    ("", "events", ("list", "watch")),  # warning events, FailedCreate
    ("apps", "replicasets", ("list", "watch")),  # a Deployment's current pods
)
RBAC_DOC = "see docs/rbac.md and manifests/rbac/"


@dataclass(frozen=True)
class Need:
    group: str
    resource: str
    verb: str
    name: str = ""  # for a cluster-scoped object: the one it is about

    def __str__(self) -> str:
        what = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{self.verb} {what}" + (f" {self.name}" if self.name else "")


def needs_for(cluster: Cluster, objects: Iterable[Obj]) -> list[Need]:
    """Every (group, resource, verb) a deploy of `objects` uses."""
    found: dict[tuple, Need] = {}
    for group, resource, verbs in OWN_NEEDS:
        for verb in verbs:
            found[(group, resource, verb, "")] = Need(group, resource, verb)
    objects = list(objects)
    defined = _defined_by_crds(objects)
    for obj in objects:
        group = obj["apiVersion"].rpartition("/")[0]
        try:
            kind = cluster.resource(obj["apiVersion"], obj["kind"])
            plural, namespaced = kind.plural, kind.namespaced
        except NotServed:
            if (group, obj["kind"]) not in defined:
                continue  # validation says what is wrong with it
            plural, namespaced = defined[(group, obj["kind"])]  # its CRD comes with it
        name = "" if namespaced else obj["metadata"]["name"]
        for verb in OBJECT_VERBS if namespaced else ("get", "patch"):
            found[(group, plural, verb, name)] = Need(group, plural, verb, name)
    return list(found.values())


def _defined_by_crds(objects: list[Obj]) -> dict[tuple[str, str], tuple[str, bool]]:
    """(group, kind) -> (plural, namespaced) for the CRDs among the objects."""
    defined = {}
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj.get("kind") == "CustomResourceDefinition":
            names = spec.get("names") or {}
            key = (spec.get("group", ""), names.get("kind", ""))
            defined[key] = (names.get("plural", ""), spec.get("scope") != "Cluster")
    return defined


def _allows(rule: Obj, need: Need) -> bool:
    def has(values: list[str] | None, value: str) -> bool:
        return bool(values) and ("*" in values or value in values)

    if not (has(rule.get("verbs"), need.verb) and has(rule.get("apiGroups"), need.group)):
        return False
    if not has(rule.get("resources"), need.resource):
        return False
    names = rule.get("resourceNames") or []
    return not names or (need.name != "" and need.name in names)


def missing(rules: list[Obj], needs: Iterable[Need]) -> list[Need]:
    return [n for n in needs if not any(_allows(rule, n) for rule in rules)]


def check(cluster: Cluster, namespace: str, objects: Iterable[Obj] = ()) -> None:
    """Exit 2 before the first write when the identity lacks a permission the deploy needs."""
    review = cluster.request(
        "SelfSubjectRulesReview",
        "create",
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        body={
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace},
        },
    )
    status = review.get("status") or {}
    if status.get("incomplete"):
        return  # the authorizer cannot list its rules: let the server answer each request
    lacking = missing(status.get("resourceRules") or [], needs_for(cluster, objects))
    if lacking:
        more = f" (and {len(lacking) - 1} more: {', '.join(map(str, lacking[1:4]))})"
        raise ConfigError(
            f"forbidden: this identity cannot {lacking[0]} in namespace {namespace}"
            + (more if len(lacking) > 1 else "")
            + f"; nothing was changed — grant it ({RBAC_DOC})"
        )
