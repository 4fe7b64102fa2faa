"""The lab's Grafana dashboards, generated: `python -m chaoslab_report.dashboards --out DIR`.

Generated rather than hand-edited so panel ids stay unique, every panel has a unit and the
datasource uid `prometheus`, and every PromQL expression lives in this file where a test can
enumerate and execute it against the real Prometheus. The committed JSON in
`charts/chaoslab/dashboards/` must equal this output (a test checks it); the chart
provisions those files.

Dashboards: cascade overview (one screen for the game day; console sign-in by customer
region beside the global sign-in, IAM and STS tiers), per-service detail (template
variables service/region; EC2's DWFM leases and work queue in a row of their own), DNS and
CoreDNS, operator and scenarios. All carry the scenario annotation from
`chaoslab_operator_scenario_active`.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from chaoslab_report.queries import SERVER_ERROR_CODES

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
RI = "$__rate_interval"
ERR = "|".join(SERVER_ERROR_CODES)
SVC = 'service=~"$service", region=~"$region"'

SCENARIO_ANNOTATION = {
    "name": "Scenario active",
    "datasource": DATASOURCE,
    "enable": True,
    "iconColor": "rgba(214, 39, 40, 0.4)",
    "expr": "max by (namespace, name) (chaoslab_operator_scenario_active) == 1",
    "step": "1s",
    "titleFormat": "{{namespace}}/{{name}}",
    "textFormat": "DNS faults of {{namespace}}/{{name}} are in the Corefile",
    "tagKeys": "namespace,name",
    "useValueForTime": False,
}


class Board:
    """Lays panels out left to right, 24 columns wide, and numbers them."""

    def __init__(self, uid: str, title: str, description: str) -> None:
        self.uid, self.title, self.description = uid, title, description
        self.panels: list[dict[str, Any]] = []
        self.variables: list[dict[str, Any]] = []
        self._x = self._y = self._row_h = 0

    def _place(self, w: int, h: int) -> dict[str, int]:
        if self._x + w > 24:
            self._x, self._y, self._row_h = 0, self._y + self._row_h, 0
        pos = {"h": h, "w": w, "x": self._x, "y": self._y}
        self._x += w
        self._row_h = max(self._row_h, h)
        return pos

    def row(self, title: str) -> None:
        if self._x:
            self._x, self._y, self._row_h = 0, self._y + self._row_h, 0
        self.panels.append({"id": len(self.panels) + 1, "type": "row", "title": title,
                            "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0,
                                                            "y": self._y}, "panels": []})
        self._y += 1

    def panel(self, title: str, targets: list[tuple[str, str]], unit: str, *,
              kind: str = "timeseries", w: int = 12, h: int = 8, description: str = "",
              minmax: tuple[float | None, float | None] = (None, None),
              stack: bool = False) -> None:
        defaults: dict[str, Any] = {"unit": unit}
        if minmax[0] is not None:
            defaults["min"] = minmax[0]
        if minmax[1] is not None:
            defaults["max"] = minmax[1]
        if kind == "timeseries":
            defaults["custom"] = {"lineWidth": 1, "fillOpacity": 10 if stack else 0,
                                  "stacking": {"mode": "normal" if stack else "none"},
                                  "spanNulls": False}
            options: dict[str, Any] = {"legend": {"displayMode": "table", "placement": "right",
                                                  "calcs": ["min", "max", "lastNotNull"]},
                                       "tooltip": {"mode": "multi", "sort": "desc"}}
        else:
            options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                       "colorMode": "value", "graphMode": "area"}
        self.panels.append({
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DATASOURCE,
            "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options,
            "targets": [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr,
                         "legendFormat": legend, "range": True, "interval": ""}
                        for i, (expr, legend) in enumerate(targets)],
        })

    def variable(self, name: str, metric: str, label: str) -> None:
        self.variables.append({
            "name": name, "label": name, "type": "query", "datasource": DATASOURCE,
            "query": {"query": f"label_values({metric}, {label})", "refId": f"var-{name}"},
            "definition": f"label_values({metric}, {label})",
            "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2, "sort": 1,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        })

    def json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["chaoslab"],
            "timezone": "utc",
            "editable": True,
            "graphTooltip": 1,
            "refresh": "5s",
            "schemaVersion": 39,
            "version": 1,
            "time": {"from": "now-15m", "to": "now"},
            "templating": {"list": self.variables},
            "annotations": {"list": [
                {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                 "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                 "name": "Annotations & Alerts", "type": "dashboard"},
                SCENARIO_ANNOTATION,
            ]},
            "links": [{"title": "DNS Chaos Lab", "type": "dashboards", "tags": ["chaoslab"],
                       "asDropdown": True}],
            "panels": self.panels,
        }


def availability(selector: str, by: str) -> str:
    """1 - server errors / all; `or ... * 0` keeps tiers that never failed (no error series)."""
    all_sel = f"{{{selector}}}" if selector else ""
    err_sel = "{" + ", ".join(filter(None, (selector, f'code=~"{ERR}"'))) + "}"
    every = f"sum by ({by}) (rate(chaoslab_service_requests_total{all_sel}[{RI}]))"
    errors = f"sum by ({by}) (rate(chaoslab_service_requests_total{err_sel}[{RI}]))"
    return f"1 - (({errors} or {every} * 0) / {every})"


def cascade() -> Board:
    b = Board("chaoslab-cascade", "DNS Chaos Lab / Cascade overview",
              "One screen for a game day: what customers see, which tiers fail, why "
              "(DNS faults, dependency errors, retries), and when the scenario was live.")
    b.row("Right now")
    b.panel("Active scenarios", [("sum(chaoslab_operator_active_scenarios)", "active")],
            "short", kind="stat", w=4, h=4)
    b.panel("Customers (Locust users)", [("sum(chaoslab_loadtest_users)", "users")], "short",
            kind="stat", w=4, h=4)
    b.panel("Customer success", [(
        f'sum(rate(chaoslab_loadtest_requests_total{{result="ok"}}[{RI}])) / '
        f"sum(rate(chaoslab_loadtest_requests_total[{RI}]))", "success")], "percentunit",
        kind="stat", w=4, h=4, minmax=(0, 1))
    b.panel("DNS answers faulted /s", [(
        f"sum(rate(coredns_chaoslab_faults_injected_total[{RI}]))", "faulted")], "reqps",
        kind="stat", w=4, h=4)
    b.panel("Open circuit breakers", [(
        "count(max by (service, region, dependency) (chaoslab_service_breaker_state) == 2) "
        "or vector(0)", "open")], "short", kind="stat", w=4, h=4)
    b.panel("Requests shed /s", [(f"sum(rate(chaoslab_service_shed_total[{RI}]))", "shed")],
            "reqps", kind="stat", w=4, h=4)
    b.row("Customers")
    b.panel("Customer workflow success", [(
        f'sum by (workflow, region) (rate(chaoslab_loadtest_requests_total{{result="ok"}}[{RI}]))'
        f" / sum by (workflow, region) (rate(chaoslab_loadtest_requests_total[{RI}]))",
        "{{workflow}} {{region}}")], "percentunit", minmax=(0, 1),
        description="Share of customer workflow runs that succeeded.")
    b.panel("Customer workflow latency p99", [(
        "histogram_quantile(0.99, sum by (workflow, region, le) "
        f"(rate(chaoslab_loadtest_request_duration_seconds_bucket[{RI}])))",
        "{{workflow}} {{region}}")], "s")
    b.panel("Console sign-in by customer region, and the global tiers behind it", [
        (f'sum by (region) (rate(chaoslab_loadtest_requests_total{{workflow="signin", '
         f'result="ok"}}[{RI}])) / sum by (region) (rate(chaoslab_loadtest_requests_total'
         f'{{workflow="signin"}}[{RI}]))', "sign-in, {{region}} customers"),
        (availability('service=~"signin|iam|sts"', "service"), "{{service}} (global, us-east-1)"),
    ], "percentunit", w=24, minmax=(0, 1), description="Customers of every region sign in "
        "through the global sign-in endpoint (IAM checks the password, STS issues the "
        "session), all in us-east-1: a us-west-2 line falling with these tiers while "
        "us-west-2's services are healthy is failover blocked by the global control plane.")
    b.row("Services")
    b.panel("Service availability (server errors count against it)",
            [(availability("", "service, region"), "{{service}} {{region}}")], "percentunit",
            minmax=(0, 1), description="1 - share of RPCs answered with a server-side code ("
            + ", ".join(SERVER_ERROR_CODES) + ").")
    b.panel("Service p99 latency", [(
        "histogram_quantile(0.99, sum by (service, region, le) "
        f"(rate(chaoslab_service_request_duration_seconds_bucket[{RI}])))",
        "{{service}} {{region}}")], "s")
    b.panel("Failed dependency calls by outcome", [(
        f'sum by (dependency, outcome) (rate(chaoslab_service_dependency_calls_total'
        f'{{outcome!="ok"}}[{RI}]))', "{{dependency}} {{outcome}}")], "reqps", stack=True)
    b.panel("Retry amplification (attempts per intended call)", [(
        f"sum by (dependency) (rate(chaoslab_service_dependency_attempts_total[{RI}])) / "
        f"sum by (dependency) (rate(chaoslab_service_dependency_calls_total[{RI}]))",
        "{{dependency}}")], "none", minmax=(1, None))
    b.panel("Requests received per tier", [(
        f"sum by (service, region) (rate(chaoslab_service_requests_total[{RI}]))",
        "{{service}} {{region}}")], "reqps")
    b.panel("Circuit breakers (0 closed, 1 half-open, 2 open)", [(
        "max by (service, region, dependency) (chaoslab_service_breaker_state)",
        "{{service}} {{region}} -> {{dependency}}")], "short", minmax=(0, 2))
    return b


def service() -> Board:
    b = Board("chaoslab-service", "DNS Chaos Lab / Service detail",
              "One service (or several) in depth: traffic, errors, latency, its dependencies "
              "and its resilience machinery (retries, breakers, queues, DNS cache).")
    b.variable("service", "chaoslab_service_requests_total", "service")
    b.variable("region", "chaoslab_service_requests_total", "region")
    b.row("Traffic")
    b.panel("Requests by method and code", [(
        f"sum by (service, region, method, code) (rate(chaoslab_service_requests_total{{{SVC}}}"
        f"[{RI}]))", "{{service}} {{region}} {{method}} {{code}}")], "reqps", stack=True)
    b.panel("Availability", [(availability(SVC, "service, region"),
                              "{{service}} {{region}}")], "percentunit", minmax=(0, 1))
    b.panel("Latency by method", [
        ("histogram_quantile(0.5, sum by (service, region, method, le) (rate("
         f"chaoslab_service_request_duration_seconds_bucket{{{SVC}}}[{RI}])))",
         "p50 {{service}} {{region}} {{method}}"),
        ("histogram_quantile(0.99, sum by (service, region, method, le) (rate("
         f"chaoslab_service_request_duration_seconds_bucket{{{SVC}}}[{RI}])))",
         "p99 {{service}} {{region}} {{method}}"),
    ], "s", w=24)
    b.row("Dependencies")
    b.panel("Dependency calls by outcome", [(
        f"sum by (service, region, dependency, outcome) (rate("
        f"chaoslab_service_dependency_calls_total{{{SVC}}}[{RI}]))",
        "{{dependency}} {{outcome}}")], "reqps", stack=True)
    b.panel("Failure causes", [(
        f"sum by (dependency, outcome, cause) (rate(chaoslab_service_dependency_calls_total"
        f'{{{SVC}, outcome!="ok"}}[{RI}]))', "{{dependency}} {{outcome}} {{cause}}")], "reqps")
    b.panel("Attempts and retries", [
        (f"sum by (dependency) (rate(chaoslab_service_dependency_attempts_total{{{SVC}}}"
         f"[{RI}]))", "attempts {{dependency}}"),
        (f"sum by (dependency) (rate(chaoslab_service_retries_total{{{SVC}}}[{RI}]))",
         "retries {{dependency}}"),
    ], "reqps")
    b.panel("Circuit breaker state", [(
        f"max by (dependency) (chaoslab_service_breaker_state{{{SVC}}})", "{{dependency}}")],
        "short", minmax=(0, 2))
    b.row("Capacity and DNS cache")
    b.panel("Queue and in-flight", [
        (f"sum by (service, region) (chaoslab_service_queue_depth{{{SVC}}})",
         "queued {{service}} {{region}}"),
        (f"sum by (service, region) (chaoslab_service_inflight{{{SVC}}})",
         "in flight {{service}} {{region}}"),
    ], "short", w=8)
    b.panel("Shed (queue full)", [(
        f"sum by (service, region) (rate(chaoslab_service_shed_total{{{SVC}}}[{RI}]))",
        "{{service}} {{region}}")], "reqps", w=8)
    b.panel("Client DNS cache lookups", [(
        f"sum by (result) (rate(chaoslab_service_dns_cache_total{{{SVC}}}[{RI}]))",
        "{{result}}")], "reqps", w=8, stack=True)
    b.row("EC2 and DWFM (host leases through DynamoDB)")
    b.panel("DWFM host leases and work queue", [
        (f"sum by (service, region, state) (chaoslab_service_dwfm_leases{{{SVC}}})",
         "{{state}} {{region}}"),
        (f"sum by (service, region) (chaoslab_service_dwfm_queue_depth{{{SVC}}})",
         "queued {{region}}"),
        (f"max by (service, region) (chaoslab_service_dwfm_throttle{{{SVC}}})",
         "throttle on {{region}}"),
    ], "short", description="Held leases are launch capacity. A queue past the collapse "
        "depth (work_timeout x workers / establish_time) with few leases held while DynamoDB "
        "answers is the congestive collapse; the throttle (1) is the mitigation.")
    b.panel("DWFM work by kind and result", [(
        f"sum by (service, region, kind, result) (rate(chaoslab_service_dwfm_work_total"
        f"{{{SVC}}}[{RI}]))", "{{kind}} {{result}} {{region}}")], "ops", stack=True,
        description="timed_out: done after work_timeout, discarded and queued again.")
    b.panel("DWFM leases lost, work requeued and shed", [
        (f"sum by (service, region) (rate(chaoslab_service_dwfm_leases_expired_total"
         f"{{{SVC}}}[{RI}]))", "leases expired {{region}}"),
        (f"sum by (service, region) (rate(chaoslab_service_dwfm_requeued_total{{{SVC}}}"
         f"[{RI}]))", "requeued {{region}}"),
        (f"sum by (service, region) (rate(chaoslab_service_dwfm_shed_total{{{SVC}}}"
         f"[{RI}]))", "shed by the throttle {{region}}"),
    ], "ops", w=24)
    b.row("Health-checked DNS failover (the NLB / Route 53 role)")
    b.panel("Targets in DNS, removed and passing health checks", [
        (f"sum by (endpoint, state) (chaoslab_service_failover_targets{{{SVC}}})",
         "{{state}} {{endpoint}}"),
        (f"sum by (endpoint) (chaoslab_service_failover_healthy_targets{{{SVC}}})",
         "healthy {{endpoint}}"),
        (f"max by (endpoint) (chaoslab_service_failover_velocity_limit{{{SVC}}})",
         "velocity limit on {{endpoint}}"),
        (f"max by (endpoint) (chaoslab_service_failover_enabled{{{SVC}}})",
         "failover on {{endpoint}}"),
    ], "short", description="Healthy below in-DNS is capacity whose health checks pass but "
        "which failover removed; in-DNS above healthy is what the velocity limit kept.")
    b.panel("Failover removals, restores, refusals and probes", [
        (f"sum by (endpoint) (rate(chaoslab_service_failover_removals_total{{{SVC}}}"
         f"[{RI}]))", "removed {{endpoint}}"),
        (f"sum by (endpoint) (rate(chaoslab_service_failover_restores_total{{{SVC}}}"
         f"[{RI}]))", "restored {{endpoint}}"),
        (f"sum by (endpoint) (rate(chaoslab_service_failover_refused_total{{{SVC}}}"
         f"[{RI}]))", "refused by the velocity limit {{endpoint}}"),
        (f"sum by (endpoint, result) (rate(chaoslab_service_failover_probes_total{{{SVC}}}"
         f"[{RI}]))", "probes {{result}} {{endpoint}}"),
    ], "ops")
    return b


def dns() -> Board:
    b = Board("chaoslab-dns", "DNS Chaos Lab / DNS and CoreDNS",
              "The lab's CoreDNS (authoritative for aws.internal) and the faults it injects, "
              "next to what the services' resolvers saw.")
    b.row("Faults")
    b.panel("Faulted answers by mode and scenario", [(
        f"sum by (mode, scenario) (rate(coredns_chaoslab_faults_injected_total[{RI}]))",
        "{{mode}} {{scenario}}")], "reqps", stack=True)
    b.panel("Services' DNS failures by cause", [(
        f'sum by (dependency, cause) (rate(chaoslab_service_dependency_calls_total'
        f'{{outcome="dns_error"}}[{RI}]))', "{{dependency}} {{cause}}")], "reqps", stack=True)
    b.row("CoreDNS")
    b.panel("Queries by type", [(
        f"sum by (type) (rate(coredns_dns_requests_total[{RI}]))", "{{type}}")], "reqps", w=8)
    b.panel("Responses by rcode", [(
        f"sum by (rcode) (rate(coredns_dns_responses_total[{RI}]))", "{{rcode}}")], "reqps",
        w=8, stack=True)
    b.panel("Query duration", [
        ("histogram_quantile(0.5, sum by (le) "
         f"(rate(coredns_dns_request_duration_seconds_bucket[{RI}])))", "p50"),
        ("histogram_quantile(0.99, sum by (le) "
         f"(rate(coredns_dns_request_duration_seconds_bucket[{RI}])))", "p99"),
    ], "s", w=8)
    b.panel("Corefile reload failures and panics", [
        ("sum(increase(coredns_reload_failed_total[1m]))", "reload failures (1m)"),
        ("sum(increase(coredns_panics_total[1m]))", "panics (1m)"),
    ], "short", description="A fault that never lands is often a reload that failed.")
    b.panel("Services' DNS cache results", [(
        f"sum by (result) (rate(chaoslab_service_dns_cache_total[{RI}]))", "{{result}}")],
        "reqps", stack=True,
        description="stale and negative_hit show client caches masking or prolonging a fault.")
    return b


def operator() -> Board:
    b = Board("chaoslab-operator", "DNS Chaos Lab / Operator and scenarios",
              "The OutageScenario operator: which scenarios are live, injections and reverts, "
              "and how fast it writes the Corefile.")
    b.panel("Active scenarios", [("sum(chaoslab_operator_active_scenarios)", "active")],
            "short", kind="stat", w=6, h=4)
    b.panel("Injections", [("sum(chaoslab_operator_injections_total)", "injections")],
            "short", kind="stat", w=6, h=4)
    b.panel("Reverts", [("sum(chaoslab_operator_reverts_total)", "reverts")], "short",
            kind="stat", w=6, h=4)
    b.panel("Injected, not reverted", [(
        "sum(chaoslab_operator_injections_total) - sum(chaoslab_operator_reverts_total)",
        "outstanding")], "short", kind="stat", w=6, h=4,
        description="Should equal the active scenarios; more means a revert went missing.")
    b.panel("Scenario active (1 while its faults are in the Corefile)", [(
        "max by (namespace, name) (chaoslab_operator_scenario_active)",
        "{{namespace}}/{{name}}")], "short", w=24, minmax=(0, 1))
    b.panel("Reconcile duration", [
        ("histogram_quantile(0.5, sum by (le) "
         f"(rate(chaoslab_operator_reconcile_duration_seconds_bucket[{RI}])))", "p50"),
        ("histogram_quantile(0.99, sum by (le) "
         f"(rate(chaoslab_operator_reconcile_duration_seconds_bucket[{RI}])))", "p99"),
    ], "s")
    b.panel("ConfigMap write duration", [(
        "histogram_quantile(0.99, sum by (le) "
        "(rate(chaoslab_operator_apply_to_configmap_seconds_bucket[5m])))", "p99 over 5m")],
        "s", w=6, description="Writes are rare (one per injection or revert): a 5m window.")
    b.panel("ConfigMap writes", [(
        "sum(increase(chaoslab_operator_apply_to_configmap_seconds_count[1m]))",
        "writes in the last minute")], "short", w=6)
    return b


BOARDS = {"cascade-overview.json": cascade, "service-detail.json": service,
          "dns-coredns.json": dns, "operator-scenarios.json": operator}


def render_all() -> dict[str, str]:
    """file name -> JSON text, exactly as committed."""
    return {name: json.dumps(make().json(), indent=2) + "\n" for name, make in BOARDS.items()}


# Grafana's variables, replaced the way Grafana would for a 1 s-scrape lab, so tests can
# run every dashboard expression against a real Prometheus.
GRAFANA_VARS = {"$__rate_interval": "5s", "$__interval": "1s", "$__range": "1m",
                "$service": ".*", "$region": ".*"}


def substitute(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    if "$" in expr:
        raise ValueError(f"unknown Grafana variable in {expr!r}")
    return expr


def expressions(boards: Mapping[str, Mapping[str, Any]]) -> Iterator[tuple[str, str]]:
    """(where, executable PromQL) for every panel target, annotation and variable query."""
    for name, board in boards.items():
        for panel in board["panels"]:
            for t in panel.get("targets", []):
                yield f"{name} panel {panel['id']} {t['refId']}", substitute(t["expr"])
        for a in board["annotations"]["list"]:
            if "expr" in a:
                yield f"{name} annotation {a['name']}", substitute(a["expr"])
        for v in board["templating"]["list"]:
            m = re.fullmatch(r"label_values\((\w+), *(\w+)\)", v["query"]["query"])
            if not m:
                raise ValueError(f"{name}: variable {v['name']} is not label_values(metric, label)")
            yield f"{name} variable {v['name']}", f"count by ({m[2]}) ({m[1]})"


def load_boards(directory: Path) -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("charts/chaoslab/dashboards"))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in render_all().items():
        (args.out / name).write_text(text)
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
