{{- define "tiny.fullname" -}}{{ printf "%s-tiny-app" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "tiny.sa" -}}{{ default (include "tiny.fullname" .) .Values.serviceAccount.name }}{{- end -}}
{{- define "tiny.selector" -}}
app.kubernetes.io/name: tiny-app
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
