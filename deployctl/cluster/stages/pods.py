"""Pod stages: a pod's first status by its containers' failure markers, then
pull back-off, crash restarts (and, with RESTARTS_ANNOTATION, the restart that
runs), completion and deletion (markers: see the package)."""

from __future__ import annotations

from typing import Any

from deployctl.cluster.stages.common import Condition, stage

READY_DELAY_ANNOTATION = "sandbox.deployctl.dev/ready-delay"
RESTARTS_ANNOTATION = "sandbox.deployctl.dev/restarts-before-running"
MARKERS = ("-crashloop", "-pullerror", "-unready")


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
# A -crashloop container whose next restart is the pod's RESTARTS_ANNOTATION-th: it runs then.
HEALS = (
    f'.metadata.annotations["{RESTARTS_ANNOTATION}"] as $n | $n != null and '
    '([.status.containerStatuses[]? | select(.state.waiting.reason == "CrashLoopBackOff")'
    " | .restartCount + 1 >= ($n | tonumber)] | any)"
)

# A pod's conditions once its containers ran: Ready and ContainersReady follow $ready.
READY_CONDITIONS = """\
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
"""

# One template for a pod's first status; each container is judged by its own image.
POD_START_TEMPLATE = (
    """\
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
"""
    + READY_CONDITIONS
    + """\
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
      message: {{ printf "back-off 10s restarting failed container=%s pod=%s_%s(%s)" .name $root.metadata.name $root.metadata.namespace $root.metadata.uid | Quote }}
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
)

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

# The last allowed restart: crash-looping containers run, and the pod is Ready if all are.
CRASH_HEAL_TEMPLATE = (
    """\
{{ $now := Now }}
{{ $ready := true }}
{{ range .status.containerStatuses }}
{{ $crashing := and .state.waiting ( eq .state.waiting.reason "CrashLoopBackOff" ) }}
{{ if not ( or .ready ( and $crashing ( not ( hasSuffix "-unready" .image ) ) ) ) }}{{ $ready = false }}{{ end }}
{{ end }}
"""
    + READY_CONDITIONS
    + """\
containerStatuses:
{{ range .status.containerStatuses }}
- image: {{ .image | Quote }}
  imageID: ""
  name: {{ .name | Quote }}
  {{ if and .state.waiting ( eq .state.waiting.reason "CrashLoopBackOff" ) }}
  ready: {{ not ( hasSuffix "-unready" .image ) }}
  started: true
  restartCount: {{ add1 .restartCount }}
  lastState:
    {{ YAML .lastState 2 }}
  state:
    running:
      startedAt: {{ $now | Quote }}
  {{ else }}
  ready: {{ .ready }}
  started: {{ or .started false }}
  restartCount: {{ .restartCount }}
  {{ with .lastState }}
  lastState:
    {{ YAML . 2 }}
  {{ end }}
  state:
    {{ YAML .state 2 }}
  {{ end }}
{{ end }}
"""
)

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


def pod_stages(ready_delay_ms: int) -> list[dict[str, Any]]:
    """Every Pod stage, for a cluster whose pods start after ready_delay_ms."""
    timing: dict[str, Any] = {
        "delay_ms": ready_delay_ms,
        "delay_annotation": READY_DELAY_ANNOTATION,
    }
    return [*_start_stages(timing), *_later_stages(timing)]


def _start_stages(timing: dict[str, Any]) -> list[dict[str, Any]]:
    """A scheduled pod's first status: a stage per marker (-pullerror over -crashloop
    over -unready), and pod-ready for a pod without one."""
    crash, pull, unready = (_has_marker(m) for m in MARKERS)
    no_crash, no_pull, no_unready = (_has_marker(m, present=False) for m in MARKERS)
    start = [NOT_DELETING, NOT_STARTED, SCHEDULED]
    return [
        stage(
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
        stage(
            "pod-start-crashloop",
            "Pod",
            [*start, no_pull, crash],
            status_template=POD_START_TEMPLATE,
            event=("Warning", "BackOff", "Back-off restarting failed container"),
            **timing,
        ),
        stage(
            "pod-start-unready",
            "Pod",
            [*start, no_pull, no_crash, unready],
            status_template=POD_START_TEMPLATE,
            event=("Warning", "Unhealthy", "Readiness probe failed (sandbox marker -unready)"),
            **timing,
        ),
        stage(
            "pod-ready",
            "Pod",
            [*start, no_pull, no_crash, no_unready],
            status_template=POD_START_TEMPLATE,
            **timing,
        ),
    ]


def _later_stages(timing: dict[str, Any]) -> list[dict[str, Any]]:
    """After the start: pull back-off, crash restarts, a Job's completion, deletion."""
    no_crash, no_pull, no_unready = (_has_marker(m, present=False) for m in MARKERS)
    return [
        stage(
            "pod-image-pull-backoff",
            "Pod",
            [NOT_DELETING, STARTED, _waiting("ErrImagePull")],
            status_template=PULL_BACKOFF_TEMPLATE,
            delay_ms=1_000,
            event=("Warning", "Failed", "Error: ImagePullBackOff"),
        ),
        stage(
            "pod-crashloop-restart",
            "Pod",
            [NOT_DELETING, STARTED, _waiting("CrashLoopBackOff"), (HEALS, "NotIn", ("true",))],
            status_template=CRASH_RESTART_TEMPLATE,
            delay_ms=10_000,
            event=("Warning", "BackOff", "Back-off restarting failed container"),
        ),
        stage(
            "pod-crashloop-heal",
            "Pod",
            [NOT_DELETING, STARTED, _waiting("CrashLoopBackOff"), (HEALS, "In", ("true",))],
            status_template=CRASH_HEAL_TEMPLATE,
            delay_ms=10_000,
            event=("Normal", "Started", "Started container (sandbox: its last allowed restart)"),
        ),
        stage(
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
        stage("pod-delete", "Pod", [DELETING], delete=True),
    ]
