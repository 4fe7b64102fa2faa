"""Prometheus metrics of one service process, named exactly as ARCHITECTURE.md says.

Every series carries ``service`` and ``region``. Children are cached per label tuple so the
hot path costs a dict lookup, not a ``labels()`` call.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

NS = "chaoslab"
SUB = "service"
# ``*_created`` series double the scrape size and no dashboard of the lab uses them.
disable_created_metrics()

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The metric families and cached children for one (service, region)."""

    def __init__(self, service: str, region: str,
                 registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.service, self.region = service, region
        base = ["service", "region"]
        reg = self.registry
        self.requests = Counter(
            "requests_total", "RPCs received, by method and gRPC status code name.",
            [*base, "method", "code"], namespace=NS, subsystem=SUB, registry=reg)
        self.duration = Histogram(
            "request_duration_seconds",
            "Server-side RPC latency, queueing and service time included.",
            [*base, "method"], namespace=NS, subsystem=SUB, registry=reg,
            buckets=DURATION_BUCKETS)
        self.dep_calls = Counter(
            "dependency_calls_total",
            "Logical calls to a dependency (one per intended call, whatever the retries); "
            "outcome ok|dns_error|rpc_error|timeout|breaker_open|budget_exhausted, cause the "
            "DNS cause or gRPC code name of the last failure.",
            [*base, "dependency", "outcome", "cause"], namespace=NS, subsystem=SUB, registry=reg)
        self.dep_attempts = Counter(
            "dependency_attempts_total", "Attempts to call a dependency, retries included.",
            [*base, "dependency"], namespace=NS, subsystem=SUB, registry=reg)
        self.retries = Counter(
            "retries_total", "Retries of dependency calls.",
            [*base, "dependency"], namespace=NS, subsystem=SUB, registry=reg)
        self.breaker_state = Gauge(
            "breaker_state", "Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open.",
            [*base, "dependency"], namespace=NS, subsystem=SUB, registry=reg)
        self.queue_depth = Gauge(
            "queue_depth", "Requests admitted and waiting for a concurrency slot.",
            base, namespace=NS, subsystem=SUB, registry=reg)
        self.inflight = Gauge(
            "inflight", "Requests holding a concurrency slot (in service).",
            base, namespace=NS, subsystem=SUB, registry=reg)
        self.shed = Counter(
            "shed_total", "Requests rejected with RESOURCE_EXHAUSTED because the queue was full.",
            base, namespace=NS, subsystem=SUB, registry=reg)
        self.dns_cache = Counter(
            "dns_cache_total", "Client DNS cache lookups by result: hit|miss|stale|negative_hit.",
            [*base, "result"], namespace=NS, subsystem=SUB, registry=reg)
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)

        self._shed = self.shed.labels(service, region)
        self._children: dict[tuple, object] = {}

    def _child(self, family, *labels: str):
        key = (id(family), *labels)
        child = self._children.get(key)
        if child is None:
            child = family.labels(self.service, self.region, *labels)
            self._children[key] = child
        return child

    def request(self, method: str, code: str, seconds: float) -> None:
        self._child(self.requests, method, code).inc()
        self._child(self.duration, method).observe(seconds)

    def dependency_call(self, dependency: str, outcome: str, cause: str) -> None:
        self._child(self.dep_calls, dependency, outcome, cause).inc()

    def attempt(self, dependency: str) -> None:
        self._child(self.dep_attempts, dependency).inc()

    def retry(self, dependency: str) -> None:
        self._child(self.retries, dependency).inc()

    def breaker(self, dependency: str, state: int) -> None:
        self._child(self.breaker_state, dependency).set(state)

    def dns(self, result: str) -> None:
        self._child(self.dns_cache, result).inc()

    def watch_capacity(self, queued: Callable[[], float], inflight: Callable[[], float]) -> None:
        """Queue depth and in-flight are read at scrape time: nothing on the hot path."""
        self.queue_depth.labels(self.service, self.region).set_function(queued)
        self.inflight.labels(self.service, self.region).set_function(inflight)

    def shed_one(self) -> None:
        self._shed.inc()
