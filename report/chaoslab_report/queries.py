"""Every PromQL expression the report runs, in one table a test can enumerate and execute.

Counts (requests, dependency calls, attempts, workflow runs) are fetched as *raw cumulative
counters* per scrape target and differenced in Python (`analysis.increments`), reset-aware,
instead of `rate()`: a trailing rate window would delay both the first impact and the
recovery by up to its length, while per-scrape differences place every failure within one
scrape interval of when it happened. Latency quantiles, which need bucket rates, use
`rate()` over `{window}` (default 5s: five scrapes at the lab's 1 s interval).
"""

from __future__ import annotations

from dataclasses import dataclass

# gRPC codes that count against availability: the service (or what is behind it) failed.
# Caller mistakes (NOT_FOUND, INVALID_ARGUMENT, UNAUTHENTICATED, ...) do not, as AWS does not
# count 4xx against its SLAs.
SERVER_ERROR_CODES = (
    "UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "UNKNOWN", "RESOURCE_EXHAUSTED",
    "DATA_LOSS", "ABORTED",
)


@dataclass(frozen=True)
class Query:
    name: str
    expr: str  # may hold {window} (a PromQL duration)
    why: str

    def render(self, window: str = "5s") -> str:
        return self.expr.replace("{window}", window)


QUERIES: dict[str, Query] = {q.name: q for q in (
    Query("service_requests",
          "sum by (service, region, code, instance) (chaoslab_service_requests_total)",
          "RPCs received per tier and gRPC code: availability, load, amplification"),
    Query("workflow_runs",
          "sum by (workflow, region, result, instance) (chaoslab_loadtest_requests_total)",
          "customer workflow runs by outcome: customer-facing availability"),
    Query("dependency_calls",
          "sum by (service, region, dependency, outcome, instance) "
          "(chaoslab_service_dependency_calls_total)",
          "logical calls each tier intended to make to each dependency: the graph's edges"),
    Query("dependency_attempts",
          "sum by (service, region, dependency, instance) "
          "(chaoslab_service_dependency_attempts_total)",
          "attempts, retries included: retry amplification"),
    Query("service_p50",
          "histogram_quantile(0.5, sum by (service, region, le) "
          "(rate(chaoslab_service_request_duration_seconds_bucket[{window}])))",
          "median server latency per tier"),
    Query("service_p99",
          "histogram_quantile(0.99, sum by (service, region, le) "
          "(rate(chaoslab_service_request_duration_seconds_bucket[{window}])))",
          "tail server latency per tier"),
    Query("workflow_p50",
          "histogram_quantile(0.5, sum by (workflow, region, le) "
          "(rate(chaoslab_loadtest_request_duration_seconds_bucket[{window}])))",
          "median customer workflow latency"),
    Query("workflow_p99",
          "histogram_quantile(0.99, sum by (workflow, region, le) "
          "(rate(chaoslab_loadtest_request_duration_seconds_bucket[{window}])))",
          "tail customer workflow latency"),
    Query("scenario_active",
          "max by (namespace, name, instance) (chaoslab_operator_scenario_active)",
          "fault windows when no OutageScenario object can be read"),
    Query("dns_faults",
          "sum by (mode, scenario) (coredns_chaoslab_faults_injected_total)",
          "queries CoreDNS answered with a fault: proof the fault was live"),
    Query("breakers",
          "max by (service, region, dependency) (chaoslab_service_breaker_state)",
          "circuit breakers that opened during the game day"),
    Query("shed",
          "sum by (service, region) (chaoslab_service_shed_total)",
          "requests shed by full queues: overload after the fault"),
    Query("scrape_times",
          # timestamp() of a plain selector is the sample's scrape time; of `up == 1` it
          # would be the evaluation time (the grid), which dated changes up to 1.5 s late.
          "timestamp(up) and up == 1",
          "when each target was scraped, per grid point, absent where that scrape failed: "
          "dates every counter increase by the real scrapes around it"),
    Query("dwfm_throttle",
          "max by (service, region) (chaoslab_service_dwfm_throttle)",
          "when DWFM's incoming-work throttle, the mitigation of EC2's collapse, went on"),
    Query("users",
          "sum(chaoslab_loadtest_users)",
          "customers driving load"),
)}


def all_expressions(window: str = "5s") -> dict[str, str]:
    """name -> executable PromQL, as the report runs it."""
    return {name: q.render(window) for name, q in QUERIES.items()}
