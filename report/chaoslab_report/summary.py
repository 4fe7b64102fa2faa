"""The human summary at the top of the report: what broke, in what order, and how it ended.

Sentences are built only from numbers in the Report, so the summary and report.json never
disagree. Times are UTC wall-clock (HH:MM:SS); every relative time names what it counts from
("+1.6 s after injection", "4.2 s after DNS was restored").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaoslab_report.analysis import fqdn_tier
from chaoslab_report.fmt import DASH, X, after_injection, clock, duration, pct
from chaoslab_report.model import WORKFLOW_NAMES, baseline_note

if TYPE_CHECKING:
    from chaoslab_report.model import FailurePath, Mitigation, Report, ScenarioReport, TierImpact


def summarize(report: Report) -> list[str]:
    if not report.scenarios:
        return ["No scenario was injected in this window "
                f"({clock(report.start)}{DASH}{clock(report.end)} UTC): nothing to attribute."]
    lines: list[str] = []
    for sc in report.scenarios:
        lines.extend(scenario_lines(sc, report.slo, report.step))
        # Why: the dependency path each failing customer workflow's calls travelled, e.g.
        # a us-west-2 sign-in failing through the global sign-in and IAM into DynamoDB
        # us-east-1.
        lines.extend(f"Why {p.start.label} failed: {p.describe()}."
                     for p in sc.failure_paths)
        lines.extend(cross_region_lines(sc))
    return lines


def cross_region_lines(sc: ScenarioReport) -> list[str]:
    """A region's customers failing through another region's tiers while their own region's
    services stayed healthy: the failover that the global control plane blocks."""
    out = []
    by_region: dict[str, list[FailurePath]] = {}
    for p in sc.failure_paths:
        if any(t.region != p.start.region for t in p.tiers[1:]):
            by_region.setdefault(p.start.region, []).append(p)
    for region, paths in sorted(by_region.items()):
        own = [i for i in sc.not_degraded()
               if i.tier.kind == "service" and i.tier.region == region]
        if not own:
            continue  # the region's own services fell too: not a blocked failover
        crossed = list(dict.fromkeys(t.label for p in paths for t in p.tiers[1:]
                                     if t.region != region))  # in path order, once each
        failed = ", ".join(
            f"{WORKFLOW_NAMES.get(p.start.name, p.start.name)} down to "
            f"{pct(_min_availability(sc, p))}" for p in paths)
        out.append(f"Failover to {region} blocked by the global control plane: its customers' "
                   f"{failed}, through {', '.join(crossed)}, while {region}'s own "
                   + ", ".join(i.tier.label for i in own) + " stayed at or above the SLO.")
    return out


def _min_availability(sc: ScenarioReport, p: FailurePath) -> float | None:
    impact = sc.impacts.get(p.start.key)
    return impact.min_availability if impact else None


# A lag from injection to CoreDNS's first faulted answer worth a line of its own: more than
# a scrape or two (the local lab's is ~0.2 s; a kubelet-synced ConfigMap's 10-90 s).
DNS_LAG_NOTE_S = 2.0


def scenario_lines(sc: ScenarioReport, slo: float, step: float = 1.0) -> list[str]:
    w = sc.window
    lines = []
    if w.faults:
        what = "; ".join(f.describe() for f in w.faults)
    else:
        what = f"scenario {w.key} injected its DNS faults"
    proof = ""
    if sc.dns_faults_injected:
        proof = " (CoreDNS applied the fault to " + ", ".join(
            f"{n:,.0f} {mode}" for mode, n in sorted(sc.dns_faults_injected.items())) + " queries)"
    lines.append(f"{w.key}: {what} at {clock(w.injected_at)} UTC{proof}.")
    if sc.phases:
        lines.append(f"In {len(sc.phases)} phases: " + "; ".join(
            f"{p.name} {clock(p.start)}{DASH}{clock(p.end)} UTC ("
            + (", ".join(f"{f.mode} on {f.target}" + (f" {f.probability:.0%}"
                                                     if f.probability < 1 else "")
                         for f in p.faults) or "no faults recorded") + ")"
            for p in sc.phases) + ".")
    lag = sc.dns_lag_s
    late = lag is not None and lag > DNS_LAG_NOTE_S
    if late:
        lines.append(f"CoreDNS answered its first fault {lag:.1f} s after the injection: the "
                     "Corefile took that long to reach CoreDNS.")

    degraded = sc.degraded()
    targets = {fqdn_tier(f.target) for f in w.faults}

    def shared(i: TierImpact) -> str:
        return f", shared with {' and '.join(i.shared_with)}" if i.shared_with else ""

    already = [i for i in degraded if i.degraded_at_injection]
    fresh = [i for i in degraded if not i.degraded_at_injection]
    if fresh:
        first, rest = fresh[0], fresh[1:]
        since_dns = (f", {sc.after_dns(first) or 0.0:.1f} s after CoreDNS's first faulted "
                     "answer" if late else "")
        text = (f"{first.tier.label} degraded {first.first_impact_after_s or 0.0:.1f} s after "
                f"the injection{since_dns} (availability down to "
                f"{pct(first.min_availability)}{shared(first)})")
        if rest:
            text += "; then " + ", ".join(
                f"{i.tier.label} {after_injection(i.first_impact_after_s)} "
                f"({pct(i.min_availability)}{shared(i)})" for i in rest)
        lines.append(text + ".")
    if already:
        lines.append("Already below the SLO when it was injected: " + ", ".join(
            f"{i.tier.label} (down to {pct(i.min_availability)}{shared(i)})" for i in already)
            + ".")
    if not degraded:
        lines.append(f"No tier fell below the {slo:.2%} SLO: the fault stayed contained.")
    partners = sorted({k for i in degraded for k in i.shared_with})
    if partners:
        lines.append(f"Shared damage: {', '.join(partners)} overlapped {w.key}; tiers hit "
                     "while both were live or recovering are credited to both.")

    if w.reverted_at is not None:
        how = "; the scenario was deleted (kubectl delete)" if w.deleted else ""
        lines.append(f"DNS was restored at {clock(w.reverted_at)} UTC, "
                     f"{duration(w.reverted_at - w.injected_at)} after the injection{how}.")
        if degraded:
            lines.append(_recovery_sentence(sc))
        lines.extend(_mitigation_sentence(sc, m, w.reverted_at, step)
                     for m in sc.mitigations)
    else:
        lines.append("The scenario was still injected at the end of the window.")
    if w.phase in ("Aborted", "Failed") and w.message:
        lines.append(f"{w.phase}: {w.message}.")
    lines.append(f"Baseline: {baseline_note(sc)}.")

    untouched = [i.tier.label + (" (its own name was failing, yet it kept serving whoever "
                                 "could reach it)" if i.tier in targets else "")
                 for i in sc.not_degraded()]
    if untouched:
        lines.append(f"Stayed at or above the SLO: {', '.join(untouched)}.")

    edges = [a for a in sc.edge_amplification if a.peak_attempts_per_intended is not None]
    if edges:
        # The headline is the service-to-service edge whose retries surged most over its
        # own baseline; customers' direct calls are not retries of a service and are apart.
        top = max(edges, key=lambda a: (a.surge, a.attempts - a.intended))
        base = top.baseline_attempts_per_intended
        lines.append(
            f"Retry amplification (service to service): {top.client.label} made up to "
            f"{top.peak_attempts_per_intended:.1f} attempts per intended call to "
            f"{top.dependency.label} (at {clock(top.peak_at)} UTC"
            + (f"; {base:.2f} before the fault" if base else "; no baseline")
            + f"), {top.attempts:,.0f} attempts for {top.intended:,.0f} calls.")
    doors = [a for a in sc.amplification if a.customer_calls_per_s is not None]
    if doors:
        d = max(doors, key=lambda a: abs((a.customer_calls_per_s or 0.0)
                                         - (a.baseline_customer_calls_per_s or 0.0)))
        before = d.baseline_customer_calls_per_s
        lines.append(
            f"Customers' direct calls, shown apart: {d.tier.label} received "
            f"{d.customer_calls_per_s:,.1f}/s from customers during the scenario"
            + (f" ({before:,.1f}/s before)" if before is not None else "") + ".")

    burners = sorted((i for i in degraded if i.burn_rate), key=lambda i: -(i.burn_rate or 0))
    if burners:
        b = burners[0]
        month = (f", {b.budget_month_used:.1%} of a 30-day budget at its normal traffic"
                 if b.budget_month_used is not None else "")
        lines.append(f"Error budget (SLO {slo:.2%}): {b.tier.label} burned it "
                     f"{b.burn_rate:.0f}{X} "
                     f"faster than allowed during the scenario ({b.failed_during:,.0f} failed "
                     f"of {b.requests_during:,.0f}{month}).")
    return lines


def _recovery_sentence(sc: ScenarioReport) -> str:
    rec = [i for i in sc.degraded() if i.recovery_after_revert_s is not None]
    stuck = [i for i in sc.degraded() if i.recovery_after_revert_s is None]
    parts = []
    if rec:
        rec.sort(key=lambda i: i.recovery_after_revert_s or 0.0)
        parts.append("Recovery: " + ", ".join(
            f"{i.tier.label} {duration(i.recovery_after_revert_s)}" for i in rec)
            + " after DNS was restored")
        slowest = rec[-1]
        parts.append(f"the slowest, {slowest.tier.label}, was healthy again at "
                     f"{clock(slowest.recovered_at)} UTC")
    if stuck:
        parts.append("not recovered by the end of the window: "
                     + ", ".join(i.tier.label for i in stuck))
    return "; ".join(parts) + "."


def _mitigation_sentence(sc: ScenarioReport, m: Mitigation, restored: float,
                         step: float) -> str:
    """What was switched on, when against the DNS fix, what was still down then and when it
    came back: the part of the story DNS alone does not end. The gauge dates the switch to
    within a scrape, so a tier back within one `step` of it counts as back after it."""
    when = m.at - restored
    rel = (f"{duration(when)} after DNS was restored" if when >= 0
           else f"{duration(-when)} before DNS was restored")
    text = f"Mitigation: {m.what} switched on for {m.tier.label} at {clock(m.at)} UTC, {rel}"
    after = sorted((i for i in sc.degraded()
                    if i.recovered_at is not None and i.recovered_at >= m.at - step),
                   key=lambda i: i.recovered_at or 0.0)
    stuck = [i.tier.label for i in sc.degraded() if i.recovery_after_revert_s is None]
    if after:
        text += (", with " + ", ".join(i.tier.label for i in after) + " still below the SLO;"
                 " back after it: " + ", ".join(
                     f"{i.tier.label} {_after(i.recovered_at or m.at, m.at, step)}"
                     for i in after))
    if stuck:
        text += "; still down at the end: " + ", ".join(stuck)
    return text + "."


def _after(t: float, since: float, step: float) -> str:
    delta = t - since
    return f"within {duration(step)}" if delta < step else f"{duration(delta)} later"
