{{- define "phudge.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "phudge.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "phudge.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The PHUDGE_* variables every service reads: shared config and secret references. */}}
{{- define "phudge.env" -}}
- name: PHUDGE_STORE_URL
  value: {{ .Values.config.storeUrl | quote }}
- name: PHUDGE_S3_ENDPOINT
  value: {{ .Values.config.s3Endpoint | quote }}
- name: PHUDGE_S3_FORCE_PATH_STYLE
  value: {{ .Values.config.s3ForcePathStyle | quote }}
- name: PHUDGE_S3_REGION
  value: {{ .Values.config.s3Region | quote }}
- name: PHUDGE_QUEUE_PREFIX
  value: {{ .Values.config.queuePrefix | quote }}
- name: PHUDGE_REDIS_CLUSTER
  value: {{ .Values.config.redisCluster | quote }}
- name: PHUDGE_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: PHUDGE_HOST
  value: "0.0.0.0"
- name: PHUDGE_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.redis.existingSecret }}
      key: {{ .Values.secrets.redis.key }}
{{- if .Values.secrets.s3.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.s3.existingSecret }}
      key: {{ .Values.secrets.s3.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.s3.existingSecret }}
      key: {{ .Values.secrets.s3.secretAccessKeyKey }}
{{- end }}
{{- end -}}

{{/* The service account the pods run as: the chart's, or an existing one. */}}
{{- define "phudge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "phudge.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
