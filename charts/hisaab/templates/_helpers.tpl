{{/*
Names, labels and shared pod pieces. Selector labels are name + instance +
component only: they are immutable on Deployments, so nothing that changes
between releases (version, chart) may ever enter them.
*/}}

{{- define "hisaab.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hisaab.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hisaab.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of one component's objects: (dict "root" $ "component" "auth"). */}}
{{- define "hisaab.componentName" -}}
{{- printf "%s-%s" (include "hisaab.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Immutable selector labels: (dict "root" $ "component" "auth"). */}}
{{- define "hisaab.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hisaab.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Standard labels: (dict "root" $ "component" "auth"). */}}
{{- define "hisaab.labels" -}}
{{ include "hisaab.selectorLabels" . }}
app.kubernetes.io/part-of: hisaab
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "hisaab.chart" .root }}
{{- end }}

{{/* Image reference: (dict "root" $ "image" .Values.services.auth.image). */}}
{{- define "hisaab.image" -}}
{{- $registry := .root.Values.image.registry }}
{{- $repository := .image.repository }}
{{- if $registry }}{{ $repository = printf "%s/%s" (trimSuffix "/" $registry) $repository }}{{ end }}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- printf "%s:%s" $repository (toString $tag) }}
{{- end }}

{{/* Pod-level hardening shared by every workload. */}}
{{- define "hisaab.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container-level hardening shared by every container. */}}
{{- define "hisaab.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Spread replicas across zones first, then nodes: (dict "root" $ "component" "auth"). */}}
{{- define "hisaab.topologySpread" -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "hisaab.selectorLabels" . | nindent 6 }}
  matchLabelKeys: ["pod-template-hash"]
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "hisaab.selectorLabels" . | nindent 6 }}
  matchLabelKeys: ["pod-template-hash"]
{{- end }}

{{/* Connection strings from existing Secrets; the chart never holds their values. */}}
{{- define "hisaab.secretEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.database.name }}
      key: {{ .Values.secrets.database.writerUrlKey }}
{{- end }}

{{- define "hisaab.readerAndRedisEnv" -}}
- name: DATABASE_READER_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.database.name }}
      key: {{ .Values.secrets.database.readerUrlKey }}
      optional: true
{{- if .Values.secrets.redis.enabled }}
{{- /* Unset REDIS_URL means caches off: every answer comes from PostgreSQL (phase 1). */}}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.redis.name }}
      key: {{ .Values.secrets.redis.urlKey }}
{{- end }}
{{- end }}

{{/* Secret settings as environment variables (payment keys, service client secret). */}}
{{- define "hisaab.secretEnvFrom" -}}
{{- with .Values.secrets.env }}
- secretRef:
    name: {{ .name }}
    optional: true
{{- end }}
{{- end }}

{{/* The Secret holding one service's own client secret (its service identity in AWS). */}}
{{- define "hisaab.identitySecret" -}}
{{ printf "hisaab-identity-%s" . }}
{{- end }}

{{/* Settings every Python workload reads (services and the migration job). */}}
{{- define "hisaab.commonConfig" -}}
HISAAB_ENV: {{ .Values.config.env | quote }}
HISAAB_LOG_LEVEL: {{ .Values.config.logLevel | quote }}
HISAAB_SHUTDOWN_DRAIN_SECONDS: {{ .Values.config.shutdownDrainSeconds | quote }}
HISAAB_SHUTDOWN_GRACE_SECONDS: {{ .Values.config.shutdownGraceSeconds | quote }}
HISAAB_DATA_DIR: "/tmp/hisaab"
AWS_REGION: {{ .Values.config.aws.region | quote }}
{{- with .Values.config.aws.endpointUrl }}
AWS_ENDPOINT_URL: {{ . | quote }}
{{- end }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ .Values.config.otel.endpoint | quote }}
HISAAB_TRACE_SAMPLE_RATIO: {{ .Values.config.otel.sampleRatio | toString | quote }}
OTEL_RESOURCE_ATTRIBUTES: {{ printf "service.namespace=hisaab,deployment.environment=%s" .Values.config.env | quote }}
{{- range $key, $value := .Values.config.extraEnv }}
{{ $key }}: {{ $value | quote }}
{{- end }}
{{- end }}
