"""The human summary at the top of the report: what broke, in what order, and how it ended.

Sentences are built only from numbers in the Report, so the summary and report.json never
disagree. Times are UTC wall-clock (HH:MM:SS); durations after the injection or revert.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from chaoslab_report.analysis import fqdn_tier

if TYPE_CHECKING:
    from chaoslab_report.build import Report, ScenarioReport

DASH, X = "\u2013", "\u00d7"  # en dash for ranges, multiplication sign for ratios


def clock(t: float | None) -> str:
    if t is None:
        return "?"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def pct(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.1%}" if x < 0.995 else f"{x:.2%}"


def summarize(report: Report) -> list[str]:
    if not report.scenarios:
        return ["No scenario was injected in this window "
                f"({clock(report.start)}{DASH}{clock(report.end)} UTC): nothing to attribute."]
    from chaoslab_report.paths import customer_paths

    lines: list[str] = []
    for sc in report.scenarios:
        lines.extend(scenario_lines(sc, report.slo))
        # Why: the dependency path each failing customer workflow's calls travelled, e.g.
        # a us-west-2 sign-in failing through the global IAM into DynamoDB us-east-1.
        lines.extend(f"Why {p.start.label} failed: {p.describe()}."
                     for p in customer_paths(report, sc))
    return lines


def scenario_lines(sc: ScenarioReport, slo: float) -> list[str]:
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

    degraded = sc.degraded()
    targets = {fqdn_tier(f.target) for f in w.faults}
    if degraded:
        first, rest = degraded[0], degraded[1:]
        text = (f"{first.tier.label} degraded {first.first_impact_after_s or 0.0:.1f} s later "
                f"(availability down to {pct(first.min_availability)})")
        if rest:
            text += "; then " + ", ".join(
                f"{i.tier.label} +{i.first_impact_after_s or 0.0:.1f} s "
                f"({pct(i.min_availability)})" for i in rest)
        lines.append(text + ".")
    else:
        lines.append(f"No tier fell below the {slo:.2%} SLO: the fault stayed contained.")

    if w.reverted_at is not None:
        lines.append(f"DNS was restored at {clock(w.reverted_at)} UTC, "
                     f"{duration(w.reverted_at - w.injected_at)} after the injection.")
        if degraded:
            lines.append(_recovery_sentence(sc))
    else:
        lines.append("The scenario was still injected at the end of the window.")

    untouched = [i.tier.label + (" (its own name was failing, yet it kept serving whoever "
                                 "could reach it)" if i.tier in targets else "")
                 for i in sc.not_degraded()]
    if untouched:
        lines.append(f"Stayed at or above the SLO: {', '.join(untouched)}.")

    amps = [a for a in sc.amplification if a.peak_received_per_intended is not None]
    if amps:
        # The headline is the biggest surge over the tier's own pre-fault ratio: a front
        # door's direct customer calls inflate received / intended at all times.
        top = max(amps, key=lambda a: (a.peak_received_per_intended or 0.0)
                  / (a.baseline_received_per_intended or 1.0))
        att = max(sc.amplification, key=lambda a: a.peak_attempts_per_intended or 0.0)
        base = top.baseline_received_per_intended
        lines.append(
            f"Retry amplification: {top.tier.label} received up to "
            f"{top.peak_received_per_intended:.1f}{X} the calls its callers intended "
            f"(at {clock(top.peak_received_at)} UTC"
            + (f"; {base:.1f}{X} before the fault, customers' direct calls included"
               if base else "")
            + f"); callers of {att.tier.label} made up to "
            f"{att.peak_attempts_per_intended or 0:.1f} attempts per intended call.")

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
