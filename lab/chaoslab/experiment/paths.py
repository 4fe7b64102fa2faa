"""Why a customer tier failed: the chain of failing dependency edges down to the DNS fault.

The report measures every edge (who called whom, how many of those calls failed and with
what outcome). Starting at a failing customer workflow, follow the edge that failed most
in the scenario window until an edge failed in DNS itself (`dns_error`) or nothing below
fails: that chain is the dependency path the fault travelled, e.g. us-west-2 sign-in →
IAM (global, us-east-1) → DynamoDB us-east-1, NODATA. Pure: report data in, path out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaoslab_report.analysis import Edge, Tier, index_range

if TYPE_CHECKING:
    from chaoslab_report.build import Report, ScenarioReport

MIN_FAILED = 0.05  # an edge "fails" when at least this share of its calls failed


@dataclass(frozen=True)
class Hop:
    edge: Edge
    failed_share: float  # in the scenario window
    outcome: str  # the edge's most frequent failure outcome (dns_error, timeout, ...)


@dataclass(frozen=True)
class FailurePath:
    start: Tier
    hops: tuple[Hop, ...]

    @property
    def tiers(self) -> list[Tier]:
        return [self.start, *(h.edge.dependency for h in self.hops)]

    @property
    def reaches_dns(self) -> bool:
        return bool(self.hops) and self.hops[-1].outcome == "dns_error"

    def describe(self) -> str:
        text = " → ".join(t.label for t in self.tiers)
        if self.hops:
            last = self.hops[-1]
            text += (f" (calls to it failed with {last.outcome}, "
                     f"{last.failed_share:.0%} of calls in the scenario)")
        return text

    def to_json(self) -> dict[str, object]:
        return {"tiers": [t.key for t in self.tiers], "text": self.describe(),
                "reaches_dns": self.reaches_dns,
                "hops": [{"client": h.edge.client.key, "dependency": h.edge.dependency.key,
                          "failed_share": round(h.failed_share, 4), "outcome": h.outcome}
                         for h in self.hops]}


def failure_path(report: Report, sc: ScenarioReport, start: Tier) -> FailurePath:
    """The worst-failing chain of edges from `start`, within the scenario's window."""
    lo, hi = index_range(report.times, sc.window.injected_at, sc.eval_end)
    by_client: dict[Tier, list[Edge]] = {}
    for e in report.edges:
        by_client.setdefault(e.client, []).append(e)
    hops: list[Hop] = []
    seen = {start}
    tier = start
    while True:
        failing = []
        for e in by_client.get(tier, []):
            share = e.failure_ratio_between(lo, hi)
            if share is not None and share >= MIN_FAILED and e.dependency not in seen:
                failing.append((share, e))
        if not failing:
            break
        # Prefer an edge that failed in DNS: that is where the fault is.
        share, edge = max(failing, key=lambda x: (_outcome(x[1]) == "dns_error", x[0]))
        hops.append(Hop(edge, share, _outcome(edge)))
        if hops[-1].outcome == "dns_error":
            break
        seen.add(edge.dependency)
        tier = edge.dependency
    return FailurePath(start, tuple(hops))


def customer_paths(report: Report, sc: ScenarioReport) -> list[FailurePath]:
    """One path for each degraded customer workflow."""
    return [failure_path(report, sc, i.tier) for i in sc.degraded() if i.tier.kind == "workflow"]


def _outcome(edge: Edge) -> str:
    causes = {k: v for k, v in edge.causes.items() if v > 0}
    return max(causes, key=lambda k: causes[k]) if causes else "?"
