"""The sandbox's simulated kubelet: kwok Stage objects for nodes, pods and volumes.

kwok drops its built-in stages as soon as a config names any Stage, so the
whole lifecycle is spelled out here. Stages of one resource are written with
disjoint selectors, so each object always has exactly one applicable stage.

Failure markers, by the suffix of a container's image tag:

  -crashloop  the container keeps failing: CrashLoopBackOff, restarts growing
              (a Job pod with restartPolicy Never fails instead)
  -pullerror  the image cannot be pulled: ErrImagePull, then ImagePullBackOff
  -unready    the container runs but its readiness probe never passes

A pod's annotation ``sandbox.deployctl.dev/ready-delay`` (a Go duration such
as ``30s``) overrides the cluster-wide delay before it starts.
"""

from __future__ import annotations

from typing import Any

READY_DELAY_ANNOTATION = "sandbox.deployctl.dev/ready-delay"
STORAGE_CLASS = "standard"
MARKERS = ("-crashloop", "-pullerror", "-unready")


# Pod and Node stages select with jq: kwok's CEL cannot resolve typed nested lists
# (v1.NodeCondition, v1.Container) in v0.8.0. A condition is (jq key, operator, values).
Condition = tuple[str, str, tuple[str, ...]]


def _has_marker(marker: str, present: bool = True) -> Condition:
    key = f'[.spec.containers[].image | endswith("{marker}")] | any'
    return (key, "In" if present else "NotIn", ("true",))


def _waiting(reason: str) -> Condition:
    return (".status.containerStatuses[]?.state.waiting.reason", "In", (reason,))


NOT_DELETING: Condition = (".metadata.deletionTimestamp", "DoesNotExist", ())
DELETING: Condition = (".metadata.deletionTimestamp", "Exists", ())
NOT_STARTED: Condition = (".status.podIP", "DoesNotExist", ())
STARTED: Condition = (".status.podIP", "Exists", ())
SCHEDULED: Condition = (".spec.nodeName", "Exists", ())
NODE_READY = '.status.conditions[]? | select(.type == "Ready") | .status'


# One template for a pod's first status; each container is judged by its own image.
POD_START_TEMPLATE = """\
{{ $now := Now }}
{{ $root := . }}
{{ $ready := true }}
{{ $phase := "Running" }}
{{ $restartNever := eq ( or .spec.restartPolicy "Always" ) "Never" }}
{{ range .spec.containers }}
{{ if or ( hasSuffix "-crashloop" .image ) ( hasSuffix "-pullerror" .image ) ( hasSuffix "-unready" .image ) }}{{ $ready = false }}{{ end }}
{{ if and $restartNever ( hasSuffix "-crashloop" .image ) }}{{ $phase = "Failed" }}{{ end }}
{{ end }}
{{ range .spec.containers }}
{{ if hasSuffix "-pullerror" .image }}{{ $phase = "Pending" }}{{ end }}
{{ end }}
conditions:
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  status: {{ if $ready }}"True"{{ else }}"False"{{ end }}
  {{ if not $ready }}reason: ContainersNotReady{{ end }}
  type: Ready
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  status: {{ if $ready }}"True"{{ else }}"False"{{ end }}
  {{ if not $ready }}reason: ContainersNotReady{{ end }}
  type: ContainersReady
initContainerStatuses:
{{ range .spec.initContainers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $now | Quote }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  imageID: ""
  name: {{ .name | Quote }}
  {{ if hasSuffix "-pullerror" .image }}
  ready: false
  started: false
  restartCount: 0
  state:
    waiting:
      reason: ErrImagePull
      message: {{ printf "failed to pull and unpack image %q: not found (sandbox marker -pullerror)" .image | Quote }}
  {{ else if and $restartNever ( hasSuffix "-crashloop" .image ) }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated:
      exitCode: 1
      reason: Error
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
  {{ else if hasSuffix "-crashloop" .image }}
  ready: false
  started: false
  restartCount: 1
  lastState:
    terminated:
      exitCode: 1
      reason: Error
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
  state:
    waiting:
      reason: CrashLoopBackOff
      message: {{ printf "back-off 10s restarting failed container=%s pod=%s" .name $root.metadata.name | Quote }}
  {{ else }}
  ready: {{ not ( hasSuffix "-unready" .image ) }}
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
  {{ end }}
{{ end }}
hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
phase: {{ $phase }}
startTime: {{ $now | Quote }}
"""

# Later transitions rewrite only the containers they concern.
PULL_BACKOFF_TEMPLATE = """\
containerStatuses:
{{ range .status.containerStatuses }}
- image: {{ .image | Quote }}
  imageID: ""
  name: {{ .name | Quote }}
  ready: {{ .ready }}
  started: {{ or .started false }}
  restartCount: {{ .restartCount }}
  {{ if and .state.waiting ( eq .state.waiting.reason "ErrImagePull" ) }}
  state:
    waiting:
      reason: ImagePullBackOff
      message: {{ printf "Back-off pulling image %q" .image | Quote }}
  {{ else }}
  state:
    {{ YAML .state 2 }}
  {{ end }}
{{ end }}
"""

CRASH_RESTART_TEMPLATE = """\
{{ $now := Now }}
containerStatuses:
{{ range .status.containerStatuses }}
- image: {{ .image | Quote }}
  imageID: ""
  name: {{ .name | Quote }}
  ready: {{ .ready }}
  started: {{ or .started false }}
  {{ if and .state.waiting ( eq .state.waiting.reason "CrashLoopBackOff" ) }}
  restartCount: {{ add1 .restartCount }}
  lastState:
    terminated:
      exitCode: 1
      reason: Error
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
  {{ else }}
  restartCount: {{ .restartCount }}
  {{ with .lastState }}
  lastState:
    {{ YAML . 2 }}
  {{ end }}
  {{ end }}
  state:
    {{ YAML .state 2 }}
{{ end }}
"""

POD_COMPLETE_TEMPLATE = """\
{{ $now := Now }}
conditions:
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  status: "False"
  reason: PodCompleted
  type: Ready
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  status: "False"
  reason: PodCompleted
  type: ContainersReady
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  imageID: ""
  name: {{ .name | Quote }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
phase: Succeeded
"""

NODE_STATUS_TEMPLATE = """\
{{ $now := Now }}
{{ $since := or .metadata.creationTimestamp $now }}
conditions:
{{ range NodeConditions }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $since | Quote }}
  message: {{ .message | Quote }}
  reason: {{ .reason | Quote }}
  status: {{ .status | Quote }}
  type: {{ .type | Quote }}
{{ end }}
addresses:
{{ with .status.addresses }}
{{ YAML . 1 }}
{{ else }}
- address: {{ NodeIP | Quote }}
  type: InternalIP
- address: {{ .metadata.name | Quote }}
  type: Hostname
{{ end }}
phase: Running
"""


def _stage(
    name: str,
    kind: str,
    conditions: list[Condition],
    *,
    status_template: str | None = None,
    delay_ms: int | None = None,
    delay_annotation: str | None = None,
    event: tuple[str, str, str] | None = None,
    delete: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "resourceRef": {"apiGroup": "v1", "kind": kind},
        "selector": {
            "matchExpressions": [
                {"key": key, "operator": op, **({"values": list(values)} if values else {})}
                for key, op, values in conditions
            ]
        },
        "next": {},
    }
    if delay_ms is not None:
        spec["delay"] = {"durationMilliseconds": delay_ms}
        if delay_annotation:
            spec["delay"]["durationFrom"] = {
                "expressionFrom": f'.metadata.annotations["{delay_annotation}"]'
            }
    if status_template is not None:
        spec["next"]["statusTemplate"] = status_template
    if event is not None:
        kind_, reason, message = event
        spec["next"]["event"] = {"type": kind_, "reason": reason, "message": message}
    if delete:
        spec["next"]["delete"] = True
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": spec,
    }


def _volume_stages() -> list[dict[str, Any]]:
    """Provision a PersistentVolume for each claim of the sandbox's class that a pod needs."""
    ours = f"has(self.spec.storageClassName) && self.spec.storageClassName == '{STORAGE_CLASS}'"
    not_deleting = "!has(self.metadata.deletionTimestamp)"
    # WaitForFirstConsumer: the scheduler names the node once a pod needs the claim.
    node_selected = (
        "has(self.metadata.annotations) && "
        "'volume.kubernetes.io/selected-node' in self.metadata.annotations"
    )
    pv = """\
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pvc-{{ .metadata.uid }}
  annotations:
    pv.kubernetes.io/provisioned-by: sandbox.deployctl.dev/volume
spec:
  accessModes:
  {{ YAML .spec.accessModes 1 }}
  capacity:
    storage: {{ .spec.resources.requests.storage | Quote }}
  persistentVolumeReclaimPolicy: Delete
  storageClassName: {{ .spec.storageClassName | Quote }}
  volumeMode: {{ or .spec.volumeMode "Filesystem" | Quote }}
  claimRef:
    apiVersion: v1
    kind: PersistentVolumeClaim
    name: {{ .metadata.name | Quote }}
    namespace: {{ .metadata.namespace | Quote }}
    uid: {{ .metadata.uid | Quote }}
  hostPath:
    path: /tmp/deployctl-sandbox/pvc-{{ .metadata.uid }}
"""

    def stage(name: str, kind: str, conditions: list[str], steps: list[dict[str, Any]]) -> dict:
        return {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": name},
            "spec": {
                "resourceRef": {"apiGroup": "v1", "kind": kind},
                "selector": {"matchExpressions": [{"cel": {"expression": c}} for c in conditions]},
                "steps": steps,
            },
        }

    return [
        stage(
            "pvc-provision",
            "PersistentVolumeClaim",
            [ours, not_deleting, node_selected, "!has(self.spec.volumeName)"],
            [
                {"apply": {"template": pv}},
                {"patch": {"root": "spec", "template": "volumeName: pvc-{{ .metadata.uid }}"}},
                {
                    "patch": {
                        "root": "status",
                        "subresource": "status",
                        "template": "phase: Bound\naccessModes:\n{{ YAML .spec.accessModes 0 }}"
                        "capacity:\n  storage: {{ .spec.resources.requests.storage | Quote }}\n",
                    }
                },
            ],
        ),
        stage(
            "pv-bind",
            "PersistentVolume",
            [
                ours,
                not_deleting,
                "has(self.spec.claimRef)",
                "!has(self.status.phase) || !(self.status.phase in ['Bound', 'Released', 'Failed'])",
            ],
            [{"patch": {"root": "status", "subresource": "status", "template": "phase: Bound"}}],
        ),
        stage(
            "pv-delete-released",
            "PersistentVolume",
            [ours, not_deleting, "has(self.status.phase) && self.status.phase == 'Released'"],
            [{"delete": True}],
        ),
    ]


def sandbox_stages(ready_delay_ms: int) -> list[dict[str, Any]]:
    """Every Stage of the sandbox, for a cluster whose pods start after ready_delay_ms."""
    crash, pull, unready = (_has_marker(m) for m in MARKERS)
    no_crash, no_pull, no_unready = (_has_marker(m, present=False) for m in MARKERS)
    start = [NOT_DELETING, NOT_STARTED, SCHEDULED]
    timing: dict[str, Any] = {
        "delay_ms": ready_delay_ms,
        "delay_annotation": READY_DELAY_ANNOTATION,
    }
    return [
        _stage(
            "node-initialize",
            "Node",
            [(NODE_READY, "NotIn", ("True",))],
            status_template=NODE_STATUS_TEMPLATE,
        ),
        _stage(
            "node-heartbeat",
            "Node",
            [(NODE_READY, "In", ("True",))],
            status_template=NODE_STATUS_TEMPLATE,
            delay_ms=20_000,
        ),
        _stage(
            "pod-start-pullerror",
            "Pod",
            [*start, pull],
            status_template=POD_START_TEMPLATE,
            event=(
                "Warning",
                "Failed",
                "Failed to pull image: not found (sandbox marker -pullerror)",
            ),
            **timing,
        ),
        _stage(
            "pod-start-crashloop",
            "Pod",
            [*start, no_pull, crash],
            status_template=POD_START_TEMPLATE,
            event=("Warning", "BackOff", "Back-off restarting failed container"),
            **timing,
        ),
        _stage(
            "pod-start-unready",
            "Pod",
            [*start, no_pull, no_crash, unready],
            status_template=POD_START_TEMPLATE,
            event=("Warning", "Unhealthy", "Readiness probe failed (sandbox marker -unready)"),
            **timing,
        ),
        _stage(
            "pod-ready",
            "Pod",
            [*start, no_pull, no_crash, no_unready],
            status_template=POD_START_TEMPLATE,
            **timing,
        ),
        _stage(
            "pod-image-pull-backoff",
            "Pod",
            [NOT_DELETING, STARTED, _waiting("ErrImagePull")],
            status_template=PULL_BACKOFF_TEMPLATE,
            delay_ms=1_000,
            event=("Warning", "Failed", "Error: ImagePullBackOff"),
        ),
        _stage(
            "pod-crashloop-restart",
            "Pod",
            [NOT_DELETING, STARTED, _waiting("CrashLoopBackOff")],
            status_template=CRASH_RESTART_TEMPLATE,
            delay_ms=10_000,
            event=("Warning", "BackOff", "Back-off restarting failed container"),
        ),
        _stage(
            "pod-complete",
            "Pod",
            [
                NOT_DELETING,
                STARTED,
                (".status.phase", "In", ("Running",)),
                (".spec.restartPolicy", "NotIn", ("Always",)),
                no_crash,
                no_pull,
                no_unready,
            ],
            status_template=POD_COMPLETE_TEMPLATE,
            **timing,
        ),
        _stage("pod-delete", "Pod", [DELETING], delete=True),
        *_volume_stages(),
    ]
