"""Why a customer tier failed: the chain of failing dependency edges down to the DNS fault.

The report measures every edge (who called whom, how many of those calls failed and with
what outcome). Starting at a failing customer workflow, follow the edge with the most
failed calls in the scenario window until an edge failed in DNS itself (`dns_error`) or
nothing below fails: that chain is the dependency path the fault travelled, e.g. us-west-2
sign-in → IAM (global, us-east-1) → DynamoDB us-east-1, NODATA. Pure: report in, path out.
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
    failed: float  # failed calls in the scenario window
    failed_share: float  # of the edge's calls in that window
    outcomes: tuple[str, ...]  # failure outcomes seen on the edge, most frequent first

    @property
    def in_dns(self) -> bool:
        return "dns_error" in self.outcomes


@dataclass(frozen=True)
class FailurePath:
    start: Tier
    hops: tuple[Hop, ...]

    @property
    def tiers(self) -> list[Tier]:
        return [self.start, *(h.edge.dependency for h in self.hops)]

    @property
    def reaches_dns(self) -> bool:
        return bool(self.hops) and self.hops[-1].in_dns

    def chain(self) -> str:
        return " → ".join(t.label for t in self.tiers)

    def describe(self) -> str:
        """`customers: sign-in (us-west-2) → IAM (us-east-1) → DynamoDB (us-east-1):
        dns_error, breaker_open`."""
        text = self.chain()
        if self.hops:
            text += ": " + ", ".join(self.hops[-1].outcomes)
        return text

    def to_json(self) -> dict[str, object]:
        return {"tiers": [t.key for t in self.tiers], "text": self.describe(),
                "reaches_dns": self.reaches_dns,
                "hops": [{"client": h.edge.client.key, "dependency": h.edge.dependency.key,
                          "failed": round(h.failed, 1), "failed_share": round(h.failed_share, 4),
                          "outcomes": list(h.outcomes)} for h in self.hops]}


def failure_path(report: Report, sc: ScenarioReport, start: Tier) -> FailurePath:
    """From `start`, the edge with the most failed calls in the scenario window, then the
    same from its dependency, until the calls failed in DNS or nothing below fails."""
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
            failed = sum(e.failed_bins[lo:hi])
            if share is not None and share >= MIN_FAILED and e.dependency not in seen:
                failing.append(Hop(e, failed, share, _outcomes(e, lo, hi)))
        if not failing:
            break
        hop = max(failing, key=lambda h: (h.failed, h.in_dns))
        hops.append(hop)
        if hop.in_dns:
            break
        seen.add(hop.edge.dependency)
        tier = hop.edge.dependency
    return FailurePath(start, tuple(hops))


def customer_paths(report: Report, sc: ScenarioReport) -> list[FailurePath]:
    """One path for each degraded customer workflow whose calls failed below its front
    door (a workflow that only lost a few runs of its own explains nothing)."""
    paths = [failure_path(report, sc, i.tier) for i in sc.degraded() if i.tier.kind == "workflow"]
    return [p for p in paths if len(p.hops) > 1]


def _outcomes(edge: Edge, lo: int, hi: int) -> tuple[str, ...]:
    causes = edge.causes_between(lo, hi)
    return tuple(sorted(causes, key=lambda k: -causes[k]))
