{{- define "audex.name" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "audex.labels" -}}
app.kubernetes.io/name: audex
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "audex.selector" -}}
app.kubernetes.io/name: audex
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
