{{/* Namespace, labels and annotations of every object, as site-controller/kubernetes/manifests.ts writes them: extra labels, then part-of and managed-by, then the user's. */}}
{{- define "kskup.metadata" -}}
namespace: {{ .root.Release.Namespace }}
labels:
{{- $labels := merge (deepCopy (default (dict) .extraLabels)) (dict "app.kubernetes.io/part-of" "kskup" "app.kubernetes.io/managed-by" .root.Release.Service) (deepCopy .root.Values.labels) }}
{{- toYaml $labels | nindent 2 }}
{{- with .root.Values.annotations }}
annotations:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "kskup.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{- define "kskup.placement" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "kskup.containerSecurity" -}}
securityContext:
  runAsNonRoot: true
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
  seccompProfile:
    type: RuntimeDefault
{{- end -}}
