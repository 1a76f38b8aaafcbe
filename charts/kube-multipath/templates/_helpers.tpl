{{/* Labels Helm adds to the objects it templates by hand (not to selectors or pod templates). */}}
{{- define "kube-multipath.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* image REPOSITORY TAG PULLPOLICY: the image and, when set, its pull policy. */}}
{{- define "kube-multipath.image" -}}
image: {{ printf "%s:%s" .image.repository (.image.tag | default .appVersion) | quote }}
{{- with .image.pullPolicy }}
imagePullPolicy: {{ . }}
{{- end }}
{{- end -}}
