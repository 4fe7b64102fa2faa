"""Customer-side numbers for Prometheus: workflow outcomes and durations, and the user count.

Prometheus sees the customers the way the report needs them: one sample per *workflow run*
(a login, an invoke, ...) labelled `workflow`, `region` and `result` (ok | error), while
Locust's own statistics keep the per-call detail. In distributed mode each worker keeps
the increments since its last report and ships them in Locust's `report_to_master` message;
the master merges them (`worker_report`) and is the only process that serves `/metrics`, so
one scrape target carries the whole fleet. Counters never reset with Locust's "reset stats".

Metric names are fixed in ARCHITECTURE.md:
`chaoslab_loadtest_requests_total{workflow,region,result}`,
`chaoslab_loadtest_request_duration_seconds{workflow,region}` (histogram),
`chaoslab_loadtest_users`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

# Seconds; from a fast cached read to a customer giving up.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WIRE_KEY = "chaoslab_workflows"  # key of our data inside Locust's worker report


@dataclass
class _Series:
    ok: int = 0
    error: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    seconds: float = 0.0


class WorkflowStats:
    """Cumulative workflow outcomes and duration histograms, keyed by (workflow, region)."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], _Series] = {}

    def declare(self, workflows: Iterable[str], regions: Iterable[str]) -> None:
        """Creates zero series, so a workflow's first failure is an increase Prometheus sees."""
        for w in workflows:
            for r in regions:
                self._series.setdefault((w, r), _Series())

    def observe(self, workflow: str, region: str, ok: bool, seconds: float) -> None:
        s = self._series.setdefault((workflow, region), _Series())
        if ok:
            s.ok += 1
        else:
            s.error += 1
        s.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        s.seconds += seconds

    def to_wire(self) -> list[list[Any]]:
        return [[w, r, s.ok, s.error, s.buckets, s.seconds]
                for (w, r), s in self._series.items() if s.ok or s.error]

    def merge_wire(self, rows: Iterable[list[Any]]) -> None:
        for w, r, ok, error, buckets, seconds in rows:
            s = self._series.setdefault((str(w), str(r)), _Series())
            s.ok += int(ok)
            s.error += int(error)
            s.buckets = [a + int(b) for a, b in zip(s.buckets, buckets, strict=True)]
            s.seconds += float(seconds)

    def clear(self) -> None:
        self._series.clear()

    def items(self) -> Iterator[tuple[tuple[str, str], _Series]]:
        return iter(sorted(self._series.items()))

    def totals(self) -> tuple[int, int]:
        """(ok, error) over every series; for tests and log lines."""
        return (sum(s.ok for s in self._series.values()),
                sum(s.error for s in self._series.values()))


class LoadtestCollector:
    """Exposes a WorkflowStats and the live user count in the ARCHITECTURE.md names."""

    def __init__(self, stats: WorkflowStats, user_count: Callable[[], int]) -> None:
        self.stats = stats
        self.user_count = user_count

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "chaoslab_loadtest_requests", "Customer workflow runs, by outcome (ok | error).",
            labels=["workflow", "region", "result"])
        duration = HistogramMetricFamily(
            "chaoslab_loadtest_request_duration_seconds",
            "Duration of customer workflow runs, retries and re-logins included.",
            labels=["workflow", "region"])
        for (w, r), s in self.stats.items():
            requests.add_metric([w, r, "ok"], s.ok)
            requests.add_metric([w, r, "error"], s.error)
            cumulative, running = [], 0
            for le, n in zip((*map(_le, BUCKETS), "+Inf"), s.buckets, strict=True):
                running += n
                cumulative.append((le, running))
            duration.add_metric([w, r], cumulative, s.seconds)
        yield requests
        yield duration
        yield GaugeMetricFamily("chaoslab_loadtest_users",
                                "Customers (Locust users) currently running, all workers.",
                                value=self.user_count())


def _le(bound: float) -> str:
    return repr(float(bound))


def registry_for(collector: LoadtestCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # type: ignore[arg-type]
    return registry


def wsgi_app(registry: CollectorRegistry, ready: Callable[[], bool]) -> Callable[..., Any]:
    """`/metrics`, `/healthz` and `/readyz`, as every lab process serves them."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            body, status = generate_latest(registry), "200 OK"
            start_response(status, [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        if path == "/healthz" or (path == "/readyz" and ready()):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == "/readyz":
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"not ready\n"]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /metrics, /healthz, /readyz\n"]

    return app
