{{/*
Helpers. The chart renders exactly the objects of the Kustomize manifests
(manifests/): the same names, labels and field values, and no labels of its
own. tests/e2e/test_chart.py holds it to that.
*/}}

{{/*
The labels of an object of component $component (list "name" "component"):
the Kustomize base's name and component, plus part-of from its `labels:`.
*/}}
{{- define "aao.labels" -}}
app.kubernetes.io/name: {{ index . 0 }}
app.kubernetes.io/component: {{ index . 1 }}
app.kubernetes.io/part-of: ai-agent-orchestrator
{{- end }}

{{/* Selectors use name + component only (selectors are immutable). */}}
{{- define "aao.selector" -}}
app.kubernetes.io/name: {{ . }}
app.kubernetes.io/component: {{ . }}
{{- end }}

{{/* repository:tag of an image value ({repository, tag}). */}}
{{- define "aao.image" -}}
{{ required "image.repository is required" .repository }}:{{ required "image.tag is required" .tag }}
{{- end }}

{{/*
The name Kustomize's configMapGenerator gives a ConfigMap: name-<hash>, the
hash being the first 10 hex digits of the SHA-256 of the JSON
{"data":…,"kind":"ConfigMap","name":""} (Kustomize hashes an empty name), with
0, 1, 3, a and e replaced by g, h, k, m and t. So a change of a file renames
the ConfigMap and rolls its StatefulSet, as with Kustomize.
Argument: (list "name" $data).
*/}}
{{- define "aao.hashedName" -}}
{{- $hash := dict "data" (index . 1) "kind" "ConfigMap" "name" "" | toJson | sha256sum | trunc 10 -}}
{{- $hash = $hash | replace "0" "g" | replace "1" "h" | replace "3" "k" | replace "a" "m" | replace "e" "t" -}}
{{ index . 0 }}-{{ $hash }}
{{- end }}

{{/* The data of the generated ConfigMaps as JSON (one definition for the object and its name). */}}
{{- define "aao.postgresqlConfigData" -}}
{{- toJson (dict "postgresql.conf" (.Files.Get "files/postgresql/postgresql.conf") "pg_hba.conf" (.Files.Get "files/postgresql/pg_hba.conf") "tuning.conf" .Values.postgresql.tuning) }}
{{- end }}
{{- define "aao.postgresqlScriptsData" -}}
{{- toJson (dict "init-replication-role.sh" (.Files.Get "files/postgresql/init-replication-role.sh") "clone-standby.sh" (.Files.Get "files/postgresql/clone-standby.sh")) }}
{{- end }}
{{- define "aao.rabbitmqConfigData" -}}
{{- toJson (dict "rabbitmq.conf" (.Files.Get "files/rabbitmq/rabbitmq.conf") "enabled_plugins" (.Files.Get "files/rabbitmq/enabled_plugins")) }}
{{- end }}
{{- define "aao.redisConfigData" -}}
{{- toJson (dict "redis.conf" (.Files.Get "files/redis/redis.conf") "sentinel.conf" (.Files.Get "files/redis/sentinel.conf") "render-config.sh" (.Files.Get "files/redis/render-config.sh") "failover.sh" (.Files.Get "files/redis/failover.sh")) }}
{{- end }}
{{- define "aao.postgresqlConfigName" -}}
{{ include "aao.hashedName" (list "postgresql-config" (include "aao.postgresqlConfigData" . | fromJson)) }}
{{- end }}
{{- define "aao.postgresqlScriptsName" -}}
{{ include "aao.hashedName" (list "postgresql-scripts" (include "aao.postgresqlScriptsData" . | fromJson)) }}
{{- end }}
{{- define "aao.rabbitmqConfigName" -}}
{{ include "aao.hashedName" (list "rabbitmq-config" (include "aao.rabbitmqConfigData" . | fromJson)) }}
{{- end }}
{{- define "aao.redisConfigName" -}}
{{ include "aao.hashedName" (list "redis-config" (include "aao.redisConfigData" . | fromJson)) }}
{{- end }}

{{/*
The Secret a store's credentials are read from: secrets.<store>.existingSecret
if set, else the one the chart creates (the names of manifests/secrets.yaml).
Argument: (list $ "postgresql").
*/}}
{{- define "aao.secretName" -}}
{{- $root := index . 0 }}{{ $store := index . 1 -}}
{{- $spec := index $root.Values.secrets $store -}}
{{ $spec.existingSecret | default (printf "%s-credentials" $store) }}
{{- end }}

{{/* A secretKeyRef env value. Argument: (list $ "postgresql" "POSTGRES_PASSWORD"). */}}
{{- define "aao.secretKeyRef" -}}
valueFrom:
  secretKeyRef: {name: {{ include "aao.secretName" (list (index . 0) (index . 1)) }}, key: {{ index . 2 }}}
{{- end }}

{{/*
Topology spread constraints of a component, when topologySpread.enabled:
over zones, then over nodes. Stores and apps have their own policies; the
apps' constraints count each ReplicaSet apart (pod-template-hash), so that a
rollout's new pods spread too.
Argument: (list $ "postgresql" "stores"|"apps").
*/}}
{{- define "aao.topologySpread" -}}
{{- $root := index . 0 }}{{ $component := index . 1 }}{{ $kind := index . 2 -}}
{{- $spread := $root.Values.topologySpread -}}
{{- if $spread.enabled }}
topologySpreadConstraints:
{{- range $domain := list "zone" "hostname" }}
  - maxSkew: {{ $spread.maxSkew }}
    topologyKey: {{ index $spread.topologyKeys $domain }}
    whenUnsatisfiable: {{ index (index $spread $kind) $domain }}
    {{- if eq $kind "apps" }}
    matchLabelKeys: [pod-template-hash]
    {{- end }}
    labelSelector:
      matchLabels:
        {{- include "aao.selector" $component | nindent 8 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A component's pod anti-affinity, when antiAffinity.enabled: preferably one
pod per node (topologyKey), so that losing a node costs one replica, not
several. Preferred, never required: a cluster with fewer nodes than replicas
still schedules them all. Argument: (list $ "postgresql").
*/}}
{{- define "aao.antiAffinity" -}}
{{- $root := index . 0 }}{{ $component := index . 1 -}}
{{- $anti := $root.Values.antiAffinity -}}
{{- if $anti.enabled }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: {{ $anti.weight }}
        podAffinityTerm:
          topologyKey: {{ $anti.topologyKey }}
          labelSelector:
            matchLabels:
              {{- include "aao.selector" $component | nindent 14 }}
{{- end }}
{{- end }}

{{/* A volumeClaimTemplate's storageClassName: the store's own, else storageClass, else none. */}}
{{- define "aao.storageClass" -}}
{{- $class := .persistence.storageClass | default .global -}}
{{- if $class }}
storageClassName: {{ $class | quote }}
{{- end }}
{{- end }}

{{/* A PodDisruptionBudget's spec fields from a pdb value. */}}
{{- define "aao.pdbSpec" -}}
{{- if hasKey . "minAvailable" }}
minAvailable: {{ .minAvailable }}
{{- end }}
{{- if hasKey . "maxUnavailable" }}
maxUnavailable: {{ .maxUnavailable }}
{{- end }}
{{- if .unhealthyPodEvictionPolicy }}
unhealthyPodEvictionPolicy: {{ .unhealthyPodEvictionPolicy }}
{{- end }}
{{- end }}

{{/*
An app's HorizontalPodAutoscaler on CPU. Argument: (list $ "orchestrator" $appValues).
*/}}
{{- define "aao.hpa" -}}
{{- $root := index . 0 }}{{ $name := index . 1 }}{{ $v := index . 2 -}}
{{- if $v.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "aao.labels" (list $name $name) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $v.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end }}

{{/*
An app's PodDisruptionBudget. Argument: (list $ "orchestrator" $appValues).
*/}}
{{- define "aao.appPdb" -}}
{{- $root := index . 0 }}{{ $name := index . 1 }}{{ $v := index . 2 -}}
{{- if $v.pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "aao.labels" (list $name $name) | nindent 4 }}
spec:
  {{- include "aao.pdbSpec" $v.pdb | trim | nindent 2 }}
  selector:
    matchLabels:
      {{- include "aao.selector" $name | nindent 6 }}
{{- end }}
{{- end }}

{{/*
A ServiceMonitor (Prometheus Operator) scraping the named port of one
component's Services. Argument: (list $ "orchestrator" "http").
*/}}
{{- define "aao.serviceMonitor" -}}
{{- $root := index . 0 }}{{ $name := index . 1 }}{{ $port := index . 2 -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "aao.labels" (list $name $name) | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- include "aao.selector" $name | nindent 6 }}
  endpoints:
    - port: {{ $port }}
      path: /metrics
      interval: {{ $root.Values.monitoring.serviceMonitors.interval }}
{{- end }}

{{/*
Whether a component's alerts and dashboard are rendered ("true" or ""):
PostgreSQL's and Redis's read nothing but their exporter's metrics, so they
go with the exporter (postgresql.exporter.enabled, redis.exporter.enabled), as
its ServiceMonitor does; every other component's are always rendered.
Argument: (list $ "postgresql").
*/}}
{{- define "aao.monitored" -}}
{{- $root := index . 0 }}{{ $component := index . 1 -}}
{{- $exporters := dict "postgresql" $root.Values.postgresql.exporter.enabled "redis" $root.Values.redis.exporter.enabled -}}
{{- if or (not (hasKey $exporters $component)) (index $exporters $component) }}true{{ end -}}
{{- end }}

{{/*
An app's Ingress: host, TLS, the cert-manager issuer, the WAF annotations
(ingress.waf.enabled) and its own annotations (which win over the others).
Argument: (list $ "orchestrator" $ingressValues).
*/}}
{{- define "aao.ingress" -}}
{{- $root := index . 0 }}{{ $name := index . 1 }}{{ $v := index . 2 -}}
{{- $annotations := dict -}}
{{- with $root.Values.ingress.clusterIssuer }}{{ $_ := set $annotations "cert-manager.io/cluster-issuer" . }}{{ end -}}
{{- if $root.Values.ingress.waf.enabled }}{{ $annotations = merge $annotations $root.Values.ingress.waf.annotations }}{{ end -}}
{{- $annotations = merge (deepCopy ($v.annotations | default dict)) $annotations -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "aao.labels" (list $name $name) | nindent 4 }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $root.Values.ingress.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- if $v.tls.enabled }}
  tls:
    - hosts: [{{ $v.host | quote }}]
      secretName: {{ $v.tls.secretName }}
  {{- end }}
  rules:
    - host: {{ $v.host | quote }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{ $name }}
                port: {name: http}
{{- end }}

{{/* Redis Sentinel settings in an app's ConfigMap (clients ask Sentinel for the master). */}}
{{- define "aao.sentinelConfig" -}}
{{- if .Values.redis.sentinel.enabled }}
REDIS_SENTINEL_HOST: redis-sentinel
REDIS_SENTINEL_PORT: "26379"
REDIS_SENTINEL_MASTER: mymaster
{{- end }}
{{- end }}
