"""Node stages: the three fake nodes become Ready, then send a heartbeat every 20 s."""

from __future__ import annotations

from typing import Any

from deployctl.cluster.stages.common import stage

NODE_READY = '.status.conditions[]? | select(.type == "Ready") | .status'


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


def node_stages() -> list[dict[str, Any]]:
    return [
        stage(
            "node-initialize",
            "Node",
            [(NODE_READY, "NotIn", ("True",))],
            status_template=NODE_STATUS_TEMPLATE,
        ),
        stage(
            "node-heartbeat",
            "Node",
            [(NODE_READY, "In", ("True",))],
            status_template=NODE_STATUS_TEMPLATE,
            delay_ms=20_000,
        ),
    ]
