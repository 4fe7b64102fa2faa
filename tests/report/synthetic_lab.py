"""A scripted stand-in for a whole lab's /metrics, with a ground truth the tests own.

Run as a process (`python synthetic_lab.py PORT T0`), it serves every metric name in
ARCHITECTURE.md plus CoreDNS's, with values computed from wall-clock time since T0: every
counter is the exact integral of a piecewise-constant rate, so what Prometheus scrapes does
not depend on when it scrapes. The cascade below is the flagship outage in miniature:
DynamoDB us-east-1's name fails at INJECT; IAM, then Lambda and CloudWatch degrade; us-west-2
Lambda fails too (IAM is global); DynamoDB itself, KMS, S3 and us-west-2 DynamoDB stay
healthy; after REVERT, IAM's retry backlog hits DynamoDB (amplification) and each tier
recovers at its own known time.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INJECT, REVERT = 8.0, 18.0  # seconds after T0
SCENARIO = ("default", "flagship")
STORM = (18.0, 24.0)  # IAM's retries reach DynamoDB after the revert
HOLD = 5.0  # the recovery hold window the tests use
END = 35.0  # data the tests wait for (last recovery 26 + HOLD + margin)


@dataclass(frozen=True)
class Truth:
    """Ground truth of one tier: rate, and (start, end, bad share) of its degradation."""

    kind: str  # service | workflow
    name: str
    region: str
    rate: float
    impact: float | None = None
    recover: float | None = None
    bad: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}.{self.region}"


TRUTH = (
    Truth("service", "dynamodb", "us-east-1", 40.0),  # + IAM's calls, see dynamodb_from_iam
    Truth("service", "iam", "us-east-1", 50.0, 10.0, 21.0, 0.8),
    Truth("service", "lambda", "us-east-1", 20.0, 11.0, 26.0, 0.9),
    Truth("service", "cloudwatch", "us-east-1", 15.0, 12.0, 23.0, 0.5),
    Truth("service", "lambda", "us-west-2", 10.0, 11.0, 22.0, 1.0),
    Truth("service", "dynamodb", "us-west-2", 20.0),
    Truth("service", "kms", "us-east-1", 30.0),
    Truth("service", "s3", "us-east-1", 10.0),
    Truth("workflow", "signin", "us-east-1", 10.0, 10.0, 21.0, 0.7),
    Truth("workflow", "signin", "us-west-2", 4.0, 10.0, 21.0, 0.7),
    Truth("workflow", "invoke", "us-east-1", 8.0, 11.0, 26.0, 0.9),
    Truth("workflow", "metrics", "us-east-1", 5.0, 12.0, 23.0, 0.5),
    Truth("workflow", "items", "us-east-1", 12.0),
)
IAM_TO_DYNAMODB = 30.0  # intended calls/s
IAM_ATTEMPTS_IN_FAULT = 3.0  # attempts per intended call while the name fails
STORM_RECEIVED = 90.0  # requests/s from IAM reaching DynamoDB during STORM


class Rate:
    """A piecewise-constant rate: value v from each breakpoint t until the next."""

    def __init__(self, *points: tuple[float, float]) -> None:
        self.points = sorted(points)

    def total(self, t: float) -> float:
        """Integral from 0 to t."""
        out = 0.0
        for i, (start, v) in enumerate(self.points):
            end = self.points[i + 1][0] if i + 1 < len(self.points) else float("inf")
            if t > start:
                out += v * (min(t, end) - start)
        return out


def window(rate: float, start: float | None, end: float | None) -> Rate:
    if start is None or end is None:
        return Rate((0.0, 0.0))
    return Rate((0.0, 0.0), (start, rate), (end, 0.0))


class Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._typed: set[str] = set()

    def add(self, name: str, kind: str, labels: dict[str, str], value: float,
            help_: str = "synthetic") -> None:
        family = name.removesuffix("_total") if kind == "counter" else name
        for suffix in ("_bucket", "_sum", "_count"):
            if kind == "histogram" and family.endswith(suffix):
                family = family.removesuffix(suffix)
        if family not in self._typed:
            self._typed.add(family)
            self.lines.append(f"# HELP {family} {help_}")
            self.lines.append(f"# TYPE {family} {kind}")
        lb = ",".join(f'{k}="{v}"' for k, v in labels.items())
        self.lines.append(f"{name}{{{lb}}} {value:.6f}")

    def histogram(self, name: str, labels: dict[str, str], total: float, slow: float,
                  buckets: Iterable[float]) -> None:
        """`total` observations, `slow` of them ~2 s, the rest 5 ms."""
        for le in buckets:
            n = 0.0 if le < 0.005 else (total - slow if le < 2.5 else total)
            self.add(f"{name}_bucket", "histogram", {**labels, "le": repr(le)}, n)
        self.add(f"{name}_bucket", "histogram", {**labels, "le": "+Inf"}, total)
        self.add(f"{name}_sum", "histogram", labels, 0.005 * (total - slow) + 2.0 * slow)
        self.add(f"{name}_count", "histogram", labels, total)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


SERVICE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LOAD_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def render(t: float) -> str:
    """The whole lab's metrics `t` seconds after T0 (nothing before T0)."""
    t = max(0.0, t)
    x = Exposition()
    storm = Rate((0.0, 0.0), (STORM[0], STORM_RECEIVED), (STORM[1], 0.0)).total(t)
    iam_ok_to_ddb = Rate((0.0, IAM_TO_DYNAMODB), (10.0, 0.0), (STORM[1], IAM_TO_DYNAMODB)).total(t)
    for tr in TRUTH:
        total = tr.rate * t
        bad = window(tr.rate * tr.bad, tr.impact, tr.recover).total(t)
        if tr.kind == "service":
            base = {"service": tr.name, "region": tr.region}
            if (tr.name, tr.region) == ("dynamodb", "us-east-1"):
                total += iam_ok_to_ddb + storm
            x.add("chaoslab_service_requests_total", "counter",
                  {**base, "method": "Call", "code": "OK"}, total - bad)
            if bad > 0:  # a client library creates the child on the first error
                x.add("chaoslab_service_requests_total", "counter",
                      {**base, "method": "Call", "code": "UNAVAILABLE"}, bad)
            x.histogram("chaoslab_service_request_duration_seconds", {**base, "method": "Call"},
                        total, bad, SERVICE_BUCKETS)
            for g in ("chaoslab_service_queue_depth", "chaoslab_service_inflight"):
                x.add(g, "gauge", base, 1.0 if bad else 0.0)
            x.add("chaoslab_service_shed_total", "counter", base, bad * 0.1)
            x.add("chaoslab_service_dns_cache_total", "counter", {**base, "result": "hit"},
                  total * 0.9)
            x.add("chaoslab_service_dns_cache_total", "counter", {**base, "result": "miss"},
                  total * 0.1)
        else:
            base = {"workflow": tr.name, "region": tr.region}
            x.add("chaoslab_loadtest_requests_total", "counter", {**base, "result": "ok"},
                  total - bad)
            x.add("chaoslab_loadtest_requests_total", "counter", {**base, "result": "error"}, bad)
            x.histogram("chaoslab_loadtest_request_duration_seconds", base, total, bad,
                        LOAD_BUCKETS)
    _dependencies(x, t)
    x.add("chaoslab_loadtest_users", "gauge", {}, 20.0)
    _operator(x, t)
    _coredns(x, t)
    _dwfm(x, t)
    _failover(x, t)
    return x.text()


def _dependencies(x: Exposition, t: float) -> None:
    iam = {"service": "iam", "region": "us-east-1"}
    failed = Rate((0.0, 0.0), (10.0, IAM_TO_DYNAMODB), (REVERT, 0.0)).total(t)
    intended = IAM_TO_DYNAMODB * t
    dep = {"dependency": "dynamodb.us-east-1"}
    x.add("chaoslab_service_dependency_calls_total", "counter",
          {**iam, **dep, "outcome": "ok", "cause": ""}, intended - failed)
    if failed:
        x.add("chaoslab_service_dependency_calls_total", "counter",
              {**iam, **dep, "outcome": "dns_error", "cause": "nodata"}, failed)
    attempts = intended + (IAM_ATTEMPTS_IN_FAULT - 1) * failed
    x.add("chaoslab_service_dependency_attempts_total", "counter", {**iam, **dep}, attempts)
    x.add("chaoslab_service_retries_total", "counter", {**iam, **dep}, attempts - intended)
    x.add("chaoslab_service_breaker_state", "gauge", {**iam, **dep},
          2.0 if 10.0 <= t < REVERT else 0.0)
    x.add("chaoslab_service_dependency_calls_total", "counter",
          {**iam, "dependency": "kms.us-east-1", "outcome": "ok", "cause": ""}, 30.0 * t)
    x.add("chaoslab_service_dependency_attempts_total", "counter",
          {**iam, "dependency": "kms.us-east-1"}, 30.0 * t)
    for client, rate, start, end in (("lambda", 20.0, 11.0, 26.0),
                                     ("cloudwatch", 15.0, 12.0, 23.0)):
        labels = {"service": client, "region": "us-east-1", "dependency": "iam"}
        bad = window(rate, start, end).total(t)
        x.add("chaoslab_service_dependency_calls_total", "counter",
              {**labels, "outcome": "ok", "cause": ""}, rate * t - bad)
        if bad:
            x.add("chaoslab_service_dependency_calls_total", "counter",
                  {**labels, "outcome": "rpc_error", "cause": "UNAVAILABLE"}, bad)
        x.add("chaoslab_service_dependency_attempts_total", "counter", labels, rate * t)
    w2 = {"service": "lambda", "region": "us-west-2", "dependency": "iam"}
    bad = window(10.0, 11.0, 22.0).total(t)
    x.add("chaoslab_service_dependency_calls_total", "counter",
          {**w2, "outcome": "ok", "cause": ""}, 10.0 * t - bad)
    if bad:
        x.add("chaoslab_service_dependency_calls_total", "counter",
              {**w2, "outcome": "rpc_error", "cause": "UNAVAILABLE"}, bad)
    x.add("chaoslab_service_dependency_attempts_total", "counter", w2, 10.0 * t)
    s3 = {"service": "lambda", "region": "us-east-1", "dependency": "s3.us-east-1"}
    x.add("chaoslab_service_dependency_calls_total", "counter",
          {**s3, "outcome": "ok", "cause": ""}, 10.0 * t)
    x.add("chaoslab_service_dependency_attempts_total", "counter", s3, 10.0 * t)


def _operator(x: Exposition, t: float) -> None:
    active = 1.0 if INJECT <= t < REVERT else 0.0
    ns, name = SCENARIO
    x.add("chaoslab_operator_active_scenarios", "gauge", {}, active)
    x.add("chaoslab_operator_scenario_active", "gauge", {"namespace": ns, "name": name}, active)
    x.add("chaoslab_operator_injections_total", "counter", {}, 1.0 if t >= INJECT else 0.0)
    x.add("chaoslab_operator_reverts_total", "counter", {}, 1.0 if t >= REVERT else 0.0)
    reconciles = 2.0 * t
    x.histogram("chaoslab_operator_reconcile_duration_seconds", {}, reconciles, 0.0,
                LOAD_BUCKETS)
    writes = 1.0 if t >= INJECT else 0.0
    x.histogram("chaoslab_operator_apply_to_configmap_seconds", {}, writes + (t >= REVERT), 0.0,
                LOAD_BUCKETS)


DWFM_HOSTS = 100
DWFM_LAPSED = INJECT + 8.0  # lease_ttl after DynamoDB's name went
DWFM_THROTTLED = 24.0  # the mitigation: every lease back by DWFM_THROTTLED + 4


def _dwfm(x: Exposition, t: float) -> None:
    """EC2 us-east-1's lease manager: leases lapse in the fault and stay gone after the
    revert (collapsed: every establishment times out) until the throttle goes on."""
    base = {"service": "ec2", "region": "us-east-1"}
    if t < DWFM_LAPSED:
        held = DWFM_HOSTS
    elif t < DWFM_THROTTLED:
        held = 0
    else:
        held = min(DWFM_HOSTS, round(DWFM_HOSTS * (t - DWFM_THROTTLED) / 4.0))
    x.add("chaoslab_service_dwfm_leases", "gauge", {**base, "state": "held"}, held)
    x.add("chaoslab_service_dwfm_leases", "gauge", {**base, "state": "expired"},
          DWFM_HOSTS - held)
    x.add("chaoslab_service_dwfm_queue_depth", "gauge", base, float(DWFM_HOSTS - held))
    x.add("chaoslab_service_dwfm_throttle", "gauge", base, float(t >= DWFM_THROTTLED))
    renew_ok = Rate((0.0, 33.0), (INJECT, 0.0), (DWFM_THROTTLED + 4.0, 33.0)).total(t)
    timed_out = window(20.0, REVERT, DWFM_THROTTLED).total(t)
    for kind, result, value in (("renew", "ok", renew_ok),
                                ("renew", "failed", window(4.0, INJECT, REVERT).total(t)),
                                ("establish", "ok", DWFM_HOSTS - held if t < DWFM_LAPSED
                                 else float(held)),
                                ("establish", "timed_out", timed_out)):
        x.add("chaoslab_service_dwfm_work_total", "counter",
              {**base, "kind": kind, "result": result}, value)
    x.add("chaoslab_service_dwfm_requeued_total", "counter", base, timed_out)
    x.add("chaoslab_service_dwfm_leases_expired_total", "counter", base,
          float(DWFM_HOSTS if t >= DWFM_LAPSED else 0))
    x.add("chaoslab_service_dwfm_shed_total", "counter", base,
          float(DWFM_HOSTS / 2 if t >= DWFM_THROTTLED else 0))


FAILOVER_TARGETS = 8  # behind nlb.us-east-1, all serving, none propagated in the fault


def _failover(x: Exposition, t: float) -> None:
    """The health checker of a front door: its targets fail their checks during the fault;
    the velocity limit removes a quarter, every target is back 4 s after the revert."""
    base = {"service": "nlb", "region": "us-east-1", "endpoint": "nlb.us-east-1.aws.internal"}
    failing = INJECT <= t < REVERT
    removed = 2.0 if INJECT + 2 <= t < REVERT + 4 else 0.0
    x.add("chaoslab_service_failover_targets", "gauge", {**base, "state": "in_dns"},
          FAILOVER_TARGETS - removed)
    x.add("chaoslab_service_failover_targets", "gauge", {**base, "state": "removed"}, removed)
    x.add("chaoslab_service_failover_healthy_targets", "gauge", base,
          0.0 if failing else float(FAILOVER_TARGETS))
    x.add("chaoslab_service_failover_velocity_limit", "gauge", base, 1.0)
    x.add("chaoslab_service_failover_enabled", "gauge", base, 1.0)
    x.add("chaoslab_service_failover_removals_total", "counter", base,
          2.0 if t >= INJECT + 2 else 0.0)
    x.add("chaoslab_service_failover_restores_total", "counter", base,
          2.0 if t >= REVERT + 4 else 0.0)
    x.add("chaoslab_service_failover_refused_total", "counter", base,
          window(6.0, INJECT + 2, REVERT).total(t))
    x.add("chaoslab_service_failover_probes_total", "counter", {**base, "result": "ok"},
          Rate((0.0, 8.0), (INJECT, 0.0), (REVERT, 8.0)).total(t))
    x.add("chaoslab_service_failover_probes_total", "counter", {**base, "result": "failed"},
          window(8.0, INJECT, REVERT).total(t))


def _coredns(x: Exposition, t: float) -> None:
    server = {"server": "dns://127.0.0.1:53"}
    queries = 200.0 * t
    faulted = window(100.0, INJECT, REVERT).total(t)
    x.add("coredns_chaoslab_faults_injected_total", "counter",
          {**server, "mode": "nodata", "scenario": "/".join(SCENARIO)}, faulted)
    for qtype, share in (("A", 0.8), ("AAAA", 0.2)):
        x.add("coredns_dns_requests_total", "counter",
              {**server, "zone": "aws.internal.", "view": "", "proto": "udp", "family": "1",
               "type": qtype}, queries * share)
    x.add("coredns_dns_responses_total", "counter",
          {**server, "zone": "aws.internal.", "view": "", "rcode": "NOERROR", "plugin": ""},
          queries)
    x.histogram("coredns_dns_request_duration_seconds",
                {**server, "zone": "aws.internal.", "view": "", "type": "A"}, queries, 0.0,
                LOAD_BUCKETS)
    x.add("coredns_reload_failed_total", "counter", {}, 0.0)
    x.add("coredns_panics_total", "counter", {}, 0.0)
    x.add("coredns_build_info", "gauge",
          {"version": "1.12.0", "revision": "synthetic", "goversion": "go"}, 1.0)


class _Handler(BaseHTTPRequestHandler):
    t0 = 0.0

    def do_GET(self) -> None:
        if self.path.startswith("/metrics"):
            body = render(time.time() - self.t0).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
        else:
            body = b"ok\n"
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    port, t0 = int(sys.argv[1]), float(sys.argv[2])
    _Handler.t0 = t0
    ThreadingHTTPServer(("127.0.0.1", port), _Handler).serve_forever()


if __name__ == "__main__":
    main()
