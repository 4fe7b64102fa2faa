"""Why a customer tier failed: the chain of failing dependency edges down to the DNS fault.

The report measures every edge (who called whom, how many of those calls failed and with
what outcome). Starting at a failing customer workflow, follow the edge with the most
failed calls in the scenario window until an edge failed in DNS itself (`dns_error`) or
nothing below fails: that chain is the dependency path the fault travelled, e.g. us-west-2
sign-in → the global sign-in endpoint (us-east-1) → IAM → DynamoDB us-east-1, NODATA. Pure:
report in, path out.
"""

from __future__ import annotations

from chaoslab_report.analysis import index_range
from chaoslab_report.model import Edge, FailurePath, Hop, Report, ScenarioReport, Tier

MIN_FAILED = 0.05  # an edge "fails" when at least this share of its calls failed


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
