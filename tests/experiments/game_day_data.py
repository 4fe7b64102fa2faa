"""Game-day data written by the test: a `chaoslab_report` Report with a known truth.

Counters are integrals of per-second rates on a 1 s grid, handed to the report's own
`analyse`, so the comparison is tested on exactly the objects a real run produces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chaoslab_report.build import Collected, Report, analyse
from chaoslab_report.prom import Series
from chaoslab_report.timeline import Fault, ScenarioWindow

T0 = 1_800_000_000.0  # grid start (unix seconds)
INJECT, REVERT = 30.0, 40.0  # seconds after T0
END = 120.0

Rate = Callable[[float], float]  # seconds after T0 -> events per second


def between(lo: float, hi: float, inside: float, outside: float = 0.0) -> Rate:
    return lambda t: inside if lo <= t < hi else outside


def _cumulative(rate: Rate, n: int) -> tuple[float, ...]:
    out, total = [], 0.0
    for i in range(n):
        total += rate(i - 1.0) if i else 0.0  # the increase over (i-1, i]
        out.append(total)
    return tuple(out)


class Lab:
    """Builder for the series of one synthetic game day."""

    def __init__(self, end: float = END) -> None:
        self.n = int(end) + 1
        self.times = tuple(T0 + i for i in range(self.n))
        self.series: dict[str, list[Series]] = {}

    def _add(self, query: str, labels: Mapping[str, str], rate: Rate) -> None:
        self.series.setdefault(query, []).append(
            Series({**labels, "instance": labels.get("instance", "x")}, self.times,
                   _cumulative(rate, self.n)))

    def workflow(self, name: str, region: str, total: float, failing: Rate) -> Lab:
        """`total` runs/s, of which `failing(t)` share fail."""
        self._add("workflow_runs", {"workflow": name, "region": region, "result": "ok",
                                    "instance": "locust"},
                  lambda t: total * (1 - failing(t)))
        self._add("workflow_runs", {"workflow": name, "region": region, "result": "error",
                                    "instance": "locust"},
                  lambda t: total * failing(t))
        return self

    def service(self, name: str, region: str, total: float, failing: Rate) -> Lab:
        inst = f"{name}.{region}"
        self._add("service_requests", {"service": name, "region": region, "code": "OK",
                                       "instance": inst}, lambda t: total * (1 - failing(t)))
        self._add("service_requests", {"service": name, "region": region,
                                       "code": "UNAVAILABLE", "instance": inst},
                  lambda t: total * failing(t))
        return self

    def edge(self, service: str, region: str, dependency: str, total: float, failing: Rate,
             outcome: str, attempts: Rate | None = None) -> Lab:
        """`total` intended calls/s; `attempts(t)` attempts per intended call."""
        inst = f"{service}.{region}"
        base = {"service": service, "region": region, "dependency": dependency,
                "instance": inst}
        self._add("dependency_calls", {**base, "outcome": "ok"},
                  lambda t: total * (1 - failing(t)))
        self._add("dependency_calls", {**base, "outcome": outcome},
                  lambda t: total * failing(t))
        per = attempts or (lambda t: 1.0)
        self._add("dependency_attempts", base, lambda t: total * per(t))
        return self

    def report(self, *, faults: tuple[Fault, ...] = (), slo: float = 0.99,
               hold: float = 10.0, name: str = "retry-storm") -> Report:
        window = ScenarioWindow("default", name, T0 + INJECT, T0 + REVERT, "Completed",
                                faults)
        data = Collected(T0, T0 + self.n - 1, 1.0, self.series)
        return analyse(data, [window], slo=slo, hold=hold)


def cascade(recover_at: float | None, *, customer_region: str = "us-east-1",
            iam_attempts: float = 5.0) -> Lab:
    """The flagship cascade: dynamodb.us-east-1 NODATA from INJECT; IAM (global) fails, and
    with it the global console sign-in (which checks passwords with IAM), Lambda and
    invoke, until `recover_at` (None: never)."""
    end = recover_at if recover_at is not None else END + 1
    down = between(INJECT, end, 1.0)
    dns = between(INJECT, REVERT, 1.0)
    r = customer_region
    return (Lab()
            .workflow("signin", r, 4.0, down)
            .workflow("invoke", r, 6.0, down)
            .workflow("items", r, 5.0, between(0, 0, 0.0))
            .service("signin", "us-east-1", 4.0, down)
            .service("iam", "us-east-1", 12.0, down)
            .service("lambda", r, 6.0, down)
            .service("dynamodb", "us-east-1", 20.0, between(0, 0, 0.0))
            .service("dynamodb", "us-west-2", 5.0, between(0, 0, 0.0))
            .service("kms", "us-east-1", 2.0, between(0, 0, 0.0))
            .edge("signin", "us-east-1", "iam", 4.0, down, "rpc_error",
                  attempts=between(INJECT, end, iam_attempts, 1.0))
            .edge("lambda", r, "iam", 6.0, down, "rpc_error",
                  attempts=between(INJECT, end, iam_attempts, 1.0))
            .edge("iam", "us-east-1", "dynamodb.us-east-1", 12.0, dns, "dns_error",
                  attempts=between(INJECT, REVERT, iam_attempts, 1.0))
            .edge("iam", "us-east-1", "kms.us-east-1", 2.0, between(0, 0, 0.0), "rpc_error"))
