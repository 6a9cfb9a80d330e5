{{/* HPA (autoscaling/v2) on CPU and memory: (dict "ctx" $ctx "autoscaling" $a). */}}
{{- define "hisaab.hpa" -}}
{{- $a := .autoscaling }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "hisaab.componentName" .ctx }}
  labels:
    {{- include "hisaab.labels" .ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "hisaab.componentName" .ctx }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ $a.targetMemoryUtilizationPercentage }}
  behavior:
    scaleDown:
      # Avoid flapping after a burst (e.g. month-end settle-ups).
      stabilizationWindowSeconds: 300
{{- end }}

{{/* PodDisruptionBudget: (dict "ctx" $ctx "pdb" $p); exactly one of minAvailable/maxUnavailable. */}}
{{- define "hisaab.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "hisaab.componentName" .ctx }}
  labels:
    {{- include "hisaab.labels" .ctx | nindent 4 }}
spec:
  {{- $min := .pdb.minAvailable }}
  {{- $max := .pdb.maxUnavailable }}
  {{- if and (not (kindIs "invalid" $min)) (not (kindIs "invalid" $max)) }}
  {{- fail (printf "pdb of %s: set minAvailable or maxUnavailable, not both (null clears a default)" .ctx.component) }}
  {{- else if not (kindIs "invalid" $min) }}
  minAvailable: {{ $min }}
  {{- else if not (kindIs "invalid" $max) }}
  maxUnavailable: {{ $max }}
  {{- else }}
  {{- fail (printf "pdb of %s: set minAvailable or maxUnavailable" .ctx.component) }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "hisaab.selectorLabels" .ctx | nindent 6 }}
{{- end }}
