{{/*
Shared helpers. Names of the objects other parts of the lab rely on are fixed, not
derived from the release name: the Corefile maps *.aws.internal to Services named
`<service>-<region>`, and the operator's default Prometheus URL is http://prometheus:9090.
*/}}

{{/* Labels every object carries; pass (dict "root" $ "component" "x"). */}}
{{- define "chaoslab.labels" -}}
app.kubernetes.io/name: chaoslab
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: dns-chaos-lab
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{/* Selector labels (stable across upgrades); pass (dict "root" $ "component" "x"). */}}
{{- define "chaoslab.selectorLabels" -}}
app.kubernetes.io/name: chaoslab
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The lab image, repository:tag. */}}
{{- define "chaoslab.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end }}

{{/*
HOST:PORT of the cluster DNS (CoreDNS) the lab's processes query: dns.server if set, else
the kube-dns Service's ClusterIP looked up at install, else kind's fixed 10.96.0.10.
*/}}
{{- define "chaoslab.dnsServer" -}}
{{- if .Values.dns.server -}}
{{ .Values.dns.server }}
{{- else -}}
{{- $svc := lookup "v1" "Service" "kube-system" "kube-dns" -}}
{{- if and $svc $svc.spec $svc.spec.clusterIP -}}
{{ $svc.spec.clusterIP }}:53
{{- else -}}
10.96.0.10:53
{{- end -}}
{{- end -}}
{{- end }}

{{/* Prometheus URL for the operator. */}}
{{- define "chaoslab.prometheusUrl" -}}
{{- if .Values.operator.prometheusUrl -}}
{{ .Values.operator.prometheusUrl }}
{{- else -}}
http://prometheus:9090
{{- end -}}
{{- end }}

{{/* Enabled regions, as a list of names. */}}
{{- define "chaoslab.enabledRegions" -}}
{{- $out := list -}}
{{- range .Values.services.regions -}}
{{- if .enabled -}}{{- $out = append $out .name -}}{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end }}

{{/*
The service processes to run: a JSON list of {service, region, name}, one per enabled
(service, region) pair; global services only in services.globalRegion.
*/}}
{{- define "chaoslab.serviceProcesses" -}}
{{- $out := list -}}
{{- $root := . -}}
{{- range $region := .Values.services.regions -}}
{{- if $region.enabled -}}
{{- range $svc := keys $root.Values.services.catalog | sortAlpha -}}
{{- $cfg := index $root.Values.services.catalog $svc -}}
{{- if and $cfg.enabled (or (not $cfg.global) (eq $region.name $root.Values.services.globalRegion)) -}}
{{- $out = append $out (dict "service" $svc "region" $region.name "name" (printf "%s-%s" $svc $region.name)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end }}

{{/*
endpoints.yaml: {key: {host, port}} for every service of every known region (global
services and their aliases once, without a region in the key or the name).
*/}}
{{- define "chaoslab.endpoints" -}}
{{- $root := . -}}
{{- $port := int .Values.services.grpcPort -}}
{{- $zone := .Values.services.zone -}}
{{- $doc := dict -}}
{{- range $svc := keys .Values.services.catalog | sortAlpha -}}
{{- $cfg := index $root.Values.services.catalog $svc -}}
{{- if $cfg.global -}}
{{- range $key := prepend ($cfg.aliases | default list) $svc -}}
{{- $_ := set $doc $key (dict "host" (printf "%s.%s" $key $zone) "port" $port) -}}
{{- end -}}
{{- else -}}
{{- range $region := $root.Values.services.regions -}}
{{- $key := printf "%s.%s" $svc $region.name -}}
{{- $_ := set $doc $key (dict "host" (printf "%s.%s" $key $zone) "port" $port) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $doc -}}
{{- end }}

{{/* Volumes every Python container needs with a read-only root filesystem. */}}
{{- define "chaoslab.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}
{{- define "chaoslab.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
chaoslab_loadtest configuration for the cluster (--chaoslab-config): the customers'
front doors by cluster Service name (cluster.local, never faulted), dialled directly
(customer_dns: direct; the local lab's customers resolve aws.internal names instead),
customers in every enabled region, then locust.config on top.
*/}}
{{- define "chaoslab.locustConfig" -}}
{{- $root := . -}}
{{- $targets := dict -}}
{{- $suffix := printf "%s.svc.%s:%v" .Release.Namespace .Values.dns.clusterDomain .Values.services.grpcPort -}}
{{- range $p := include "chaoslab.serviceProcesses" . | fromJsonArray -}}
{{- $cfg := index $root.Values.services.catalog $p.service -}}
{{- if $cfg.global -}}
{{- range $key := prepend ($cfg.aliases | default list) $p.service -}}
{{- $_ := set $targets $key (printf "%s.%s" $p.name $suffix) -}}
{{- end -}}
{{- else -}}
{{- $_ := set $targets (printf "%s.%s" $p.service $p.region) (printf "%s.%s" $p.name $suffix) -}}
{{- end -}}
{{- end -}}
{{- $doc := dict "targets" $targets "regions" (include "chaoslab.enabledRegions" . | fromJsonArray) "customer_dns" "direct" -}}
{{- toYaml (mustMergeOverwrite $doc (deepCopy (.Values.locust.config | default dict))) -}}
{{- end }}
