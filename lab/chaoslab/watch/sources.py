"""Where `chaoslab watch` gets its figures: Prometheus, through the dashboards' own queries,
and the Kubernetes API, for the OutageScenarios and their phases.

The PromQL is not written here: every figure is looked up by the title of the Grafana panel
it mirrors (`chaoslab_report.dashboards`, with Grafana's variables replaced the way the
report's tests replace them), so the terminal and the dashboards cannot drift apart. A source
that fails becomes a short reason in the frame, never an exception out of the loop; the
last figures Prometheus gave are kept and shown as such.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chaoslab.watch.frame import Metrics, Scenario, Snapshot, Tier
from chaoslab_report import dashboards
from chaoslab_report.prom import Prometheus, PrometheusError, Series
from chaoslab_report.timeline import parse_time

GROUP, VERSION, PLURAL = "chaoslab.io", "v1alpha1", "outagescenarios"

# What the view shows -> (dashboard, panel title) whose first query it runs.
PANELS: dict[str, tuple[str, str]] = {
    "service_availability": ("cascade", "Service availability (server errors count against it)"),
    "service_p99": ("cascade", "Service p99 latency"),
    "workflow_success": ("cascade", "Customer workflow success"),
    "workflow_p99": ("cascade", "Customer workflow latency p99"),
    "dns_faults": ("cascade", "DNS answers faulted /s"),
    "dns_by": ("dns", "Faulted answers by mode and scenario"),
    "users": ("cascade", "Customers (Locust users)"),
    "customer_success": ("cascade", "Customer success"),
    "breakers_open": ("cascade", "Open circuit breakers"),
    "shed": ("cascade", "Requests shed /s"),
}
_BOARDS = {"cascade": dashboards.cascade, "dns": dashboards.dns}


def expressions() -> dict[str, str]:
    """name -> executable PromQL, taken from the generated dashboards (and their annotation)."""
    built = {name: make().json() for name, make in _BOARDS.items()}
    out: dict[str, str] = {}
    for key, (board, title) in PANELS.items():
        panel = next((p for p in built[board]["panels"] if p.get("title") == title), None)
        if panel is None:
            raise LookupError(f"the {board} dashboard has no panel {title!r}")
        out[key] = dashboards.substitute(panel["targets"][0]["expr"])
    out["active"] = dashboards.substitute(str(dashboards.SCENARIO_ANNOTATION["expr"]))
    return out


def reason(exc: BaseException) -> str:
    """A one-line cause for the frame: 'connection refused', not a urllib3 traceback."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status:
        if status == 404:
            return "404: the OutageScenario CRD is not installed in this cluster"
        return f"{status} {getattr(exc, 'reason', '') or ''}".strip()
    text = str(exc)
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if m:
        return m.group(1).strip().rstrip(".").lower()
    if re.search(r"timed? ?out", text, re.IGNORECASE):
        return "no answer in time (timed out)"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _tiers(kind: str, label: str, avail: Sequence[Series], p99: Sequence[Series],
           history: int) -> list[Tier]:
    def key(s: Series) -> tuple[str, str]:
        return s.labels.get(label, "?"), s.labels.get("region", "?")

    def tail(s: Series | None) -> tuple[float, ...]:
        return tuple(s.values[-history:]) if s else ()

    by_avail = {key(s): s for s in avail}
    by_p99 = {key(s): s for s in p99}
    keys = sorted(set(by_avail) | set(by_p99), key=lambda k: (k[1], k[0]))
    return [Tier(kind, name, region, tail(by_avail.get((name, region))),
                 tail(by_p99.get((name, region)))) for name, region in keys]


def _first(result: Sequence[tuple[Mapping[str, str], float]]) -> float | None:
    if not result or math.isnan(result[0][1]):
        return None
    return result[0][1]


def fetch_metrics(prom: Prometheus, exprs: Mapping[str, str], now: float,
                  history: int) -> Metrics:
    """One round of queries, every one evaluated at the same whole second: ranges for the
    sparklines (1 s apart), instants for the rest. Raises PrometheusError at the first
    query Prometheus does not answer."""
    now = math.floor(now)
    start = now - max(history - 1, 1)

    def series(name: str) -> list[Series]:
        return prom.query_range(exprs[name], start, now, 1.0)

    services = _tiers("service", "service", series("service_availability"),
                      series("service_p99"), history)
    workflows = _tiers("workflow", "workflow", series("workflow_success"),
                       series("workflow_p99"), history)
    faults = series("dns_faults")
    dns_by = tuple((m.get("mode", "?"), m.get("scenario", "?"), v)
                   for m, v in prom.query(exprs["dns_by"], at=now) if not math.isnan(v))
    active = tuple(sorted(f"{m.get('namespace', 'default')}/{m.get('name', '?')}"
                          for m, _ in prom.query(exprs["active"], at=now)))
    return Metrics(
        at=now, tiers=(*workflows, *services),
        dns_faults=tuple(faults[0].values[-history:]) if faults else (),
        dns_by=dns_by,
        users=_first(prom.query(exprs["users"], at=now)),
        customer_success=_first(prom.query(exprs["customer_success"], at=now)),
        breakers_open=_first(prom.query(exprs["breakers_open"], at=now)),
        shed=_first(prom.query(exprs["shed"], at=now)),
        active=active,
    )


def _fault_text(fault: Mapping[str, Any]) -> str:
    mode = str(fault.get("mode", "?"))
    extra = {"delay": fault.get("delay"), "redirect": fault.get("redirectTo")}.get(mode)
    p = fault.get("probability")
    parts = [mode, *([str(extra)] if extra else []),
             *([f"{float(p):.0%}"] if p not in (None, 1, 1.0) else []),
             str(fault.get("target", "?"))]
    return " ".join(parts)


def scenario_from_object(obj: Mapping[str, Any]) -> Scenario:
    """An OutageScenario as the API returns it; no status yet reads as Pending."""
    meta, spec = obj.get("metadata", {}), obj.get("spec") or {}
    status = obj.get("status") or {}

    def t(key: str) -> float | None:
        try:
            return parse_time(status.get(key))
        except ValueError:
            return None

    return Scenario(
        namespace=meta.get("namespace", "default"), name=meta.get("name", "?"),
        phase=status.get("phase") or "Pending", message=status.get("message") or "",
        faults=tuple(_fault_text(f) for f in spec.get("faults") or ()),
        start_at=t("startAt"), injected_at=t("injectedAt"), end_at=t("endAt"),
        ended_at=t("endedAt") or t("revertedAt"))


class Cluster:
    """Lists OutageScenarios in every namespace, each call bounded by `timeout`, no retries
    (the next frame is the retry)."""

    def __init__(self, kubeconfig: Path, timeout: float) -> None:
        self.kubeconfig, self.timeout = kubeconfig, timeout
        self._api: Any = None

    def _client(self) -> Any:
        if self._api is None:
            from kubernetes import client, config  # heavy: only when watching a cluster

            cfg = client.Configuration()
            config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=cfg)
            cfg.retries = False
            self._api = client.CustomObjectsApi(client.ApiClient(cfg))
        return self._api

    def scenarios(self) -> tuple[Scenario, ...]:
        body = self._client().list_cluster_custom_object(
            GROUP, VERSION, PLURAL, _request_timeout=self.timeout)
        return tuple(scenario_from_object(o) for o in body.get("items", []))


class Sources:
    """Fills a Snapshot each frame; keeps Prometheus's last good answer for when it stops."""

    def __init__(self, prometheus_url: str, kubeconfig: Path | None, *, history: int = 60,
                 timeout: float = 2.0, state_file: Path | None = None) -> None:
        self.prometheus_url = prometheus_url
        self.prom = Prometheus(prometheus_url, timeout=timeout)
        self.cluster = Cluster(kubeconfig, timeout) if kubeconfig else None
        self.kubeconfig = str(kubeconfig or "")
        self.history = history
        self.state_file = state_file
        self.exprs = expressions()
        self.last: Metrics | None = None

    def snapshot(self) -> Snapshot:
        now = time.time()
        prometheus_error = kubernetes_error = None
        try:
            self.last = fetch_metrics(self.prom, self.exprs, now, self.history)
        except (PrometheusError, ValueError, KeyError) as exc:
            prometheus_error = reason(exc)
        scenarios = None
        if self.cluster is not None:
            try:
                scenarios = self.cluster.scenarios()
            except Exception as exc:  # any client, config or transport failure: shown, not raised
                kubernetes_error = reason(exc)
        notes: tuple[str, ...] = ()
        if self.state_file is not None and not self.state_file.exists():
            notes = (f"the lab was stopped ({self.state_file} is gone): start one with "
                     "`chaoslab up --local`, or quit",)
        return Snapshot(now=now, prometheus_url=self.prometheus_url, metrics=self.last,
                        prometheus_error=prometheus_error, scenarios=scenarios,
                        kubernetes_error=kubernetes_error, kubeconfig=self.kubeconfig,
                        notes=notes)
