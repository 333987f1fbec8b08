{{/* Chart name, truncated to the 63 characters Kubernetes allows in a name. */}}
{{- define "tunebot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the components add -bot / -service (so 55 characters are kept). */}}
{{- define "tunebot.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 55 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tunebot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object; each object adds app.kubernetes.io/component. */}}
{{- define "tunebot.labels" -}}
helm.sh/chart: {{ include "tunebot.chart" . }}
{{ include "tunebot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tunebot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tunebot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tunebot.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "tunebot.botServiceAccountName" -}}
{{- if .Values.bot.serviceAccount.create }}
{{- default (printf "%s-bot" (include "tunebot.fullname" .)) .Values.bot.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.bot.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tunebot.jobServiceAccountName" -}}
{{- if .Values.jobService.serviceAccount.create }}
{{- default (printf "%s-service" (include "tunebot.fullname" .)) .Values.jobService.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.jobService.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The job service's in-cluster URL, the bot's TUNEBOT_SERVICE_URL. */}}
{{- define "tunebot.serviceUrl" -}}
{{- printf "http://%s-service:%d" (include "tunebot.fullname" .) (.Values.jobService.service.port | int) }}
{{- end }}

{{/* TUNEBOT_API_TOKEN from its Secret (both roles). */}}
{{- define "tunebot.apiTokenEnv" -}}
- name: TUNEBOT_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ required "secrets.api.existingSecret: name the Secret holding TUNEBOT_API_TOKEN" .Values.secrets.api.existingSecret }}
      key: {{ .Values.secrets.api.tokenKey }}
{{- end }}

{{/*
TUNEBOT_DATABASE_URL for the job service: from a Secret holding the whole URL, or assembled from
host, port, database and user with the password from a Secret. Kubernetes expands
$(TUNEBOT_DATABASE_PASSWORD) because that variable is defined first.
*/}}
{{- define "tunebot.databaseEnv" -}}
{{- $db := .Values.database }}
{{- if $db.url.existingSecret -}}
- name: TUNEBOT_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $db.url.existingSecret }}
      key: {{ $db.url.key }}
{{- else if $db.host -}}
- name: TUNEBOT_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "database.passwordSecret.name: name the Secret holding the PostgreSQL password" $db.passwordSecret.name }}
      key: {{ $db.passwordSecret.key }}
- name: TUNEBOT_DATABASE_URL
  value: {{ printf "postgresql+psycopg://%s:$(TUNEBOT_DATABASE_PASSWORD)@%s:%d/%s%s" $db.user $db.host ($db.port | int) $db.name (ternary (printf "?%s" $db.params) "" (ne $db.params "")) | quote }}
{{- else }}
{{- fail "database: set database.url.existingSecret, or database.host and database.passwordSecret.name (the job service needs an external PostgreSQL)" }}
{{- end }}
{{- end }}
