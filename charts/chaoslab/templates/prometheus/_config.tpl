{{/* prometheus.yml: every target found by DNS, no Kubernetes API access. */}}
{{- define "chaoslab.prometheusConfig" -}}
{{- $p := .Values.prometheus -}}
{{- $ns := .Release.Namespace -}}
{{- $domain := .Values.dns.clusterDomain -}}
global:
  scrape_interval: {{ $p.scrapeInterval }}
  scrape_timeout: {{ $p.scrapeInterval }}
  evaluation_interval: {{ $p.scrapeInterval }}
  external_labels:
    lab: {{ .Release.Name | quote }}
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]
{{- if .Values.services.enabled }}
  # Every AWS-like service pod (labels service and region come from the metrics).
  - job_name: chaoslab-services
    dns_sd_configs:
      - names: ["chaoslab-services-metrics.{{ $ns }}.svc.{{ $domain }}"]
        type: A
        port: {{ .Values.services.httpPort }}
        refresh_interval: {{ $p.dnsRefreshInterval }}
{{- end }}
{{- if .Values.operator.enabled }}
  - job_name: chaoslab-operator
    dns_sd_configs:
      - names: ["chaoslab-operator-metrics.{{ $ns }}.svc.{{ $domain }}"]
        type: A
        port: 8080
        refresh_interval: {{ $p.dnsRefreshInterval }}
{{- end }}
{{- if .Values.locust.enabled }}
  # Locust master and workers (chaoslab_loadtest_* metrics).
  - job_name: chaoslab-loadtest
    dns_sd_configs:
      - names: ["chaoslab-locust-metrics.{{ $ns }}.svc.{{ $domain }}"]
        type: A
        port: {{ .Values.locust.metricsPort }}
        refresh_interval: {{ $p.dnsRefreshInterval }}
{{- end }}
{{- if $p.coredns.enabled }}
  # The cluster DNS itself: coredns_* and the chaoslab plugin's metrics, on :9153.
  - job_name: coredns
    dns_sd_configs:
      - names: ["chaoslab-coredns-metrics.{{ $p.coredns.namespace }}.svc.{{ $domain }}"]
        type: A
        port: {{ $p.coredns.metricsPort }}
        refresh_interval: {{ $p.dnsRefreshInterval }}
{{- end }}
{{- end }}
