{{- define "demo.fullname" -}}{{ printf "%s-exporter" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "demo.labels" -}}
app.kubernetes.io/name: demo-exporter
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
