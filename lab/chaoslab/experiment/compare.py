"""The comparison table: one row per profile, every figure taken from the game-day report.

Pure: `chaoslab_report` Reports in, rows and text out. Per profile —
- *time to recovery*: the report's, the slowest degraded tier back at or above the SLO
  for the report's hold time after DNS was restored; none if one never came back.
- *below SLO after restore*: that time, or how long the tiers stayed down until the load
  was cut or the window ended. *Metastable*: down for at least 3x the fault's duration
  without recovering on its own (Bronson et al., HotOS 2021: the trigger is gone, the
  sustaining effect is not).
- *customer errors*: failed ÷ all customer workflow runs, the peak over any 5 s and the
  total from injection to the end of the observation window (before any load cut, so
  every profile is judged on the same span).
- *retry amplification*: attempts per intended dependency call, all dependencies over
  the scenario (below 1 when breakers refuse calls outright); and at the dependency that
  took the most retries, the report's peak over 5 s (attempts are counted when made,
  intended calls when they end, so a peak can exceed the attempt limit).
- *error-budget burn*: the customers' error ratio over the same span ÷ (1 - SLO), and the
  share of a 30-day budget it used at the pre-fault traffic rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from chaoslab_report.analysis import MONTH, index_range, recovery, rolling_ratio
from chaoslab_report.fmt import X
from chaoslab_report.model import Tier

if TYPE_CHECKING:
    from chaoslab_report.model import Report, ScenarioReport

METASTABLE_FACTOR = 3.0  # below SLO for at least this many fault durations after restore
PEAK_WINDOW = 5  # bins (seconds at the lab's 1 s step) for the peak error share


@dataclass(frozen=True)
class Row:
    profile: str
    fault_s: float  # injected → reverted, as the operator recorded it
    observed_s: float  # data after the restore
    recovery_s: float | None  # the report's time to recovery
    recovered_by: str  # "itself" | "unaffected" | "load cut" | "" (not recovered)
    below_slo_s: float  # after restore, until recovery / the load cut / the window's end
    metastable: bool
    peak_customer_errors: float | None
    customer_errors: float | None
    attempts_per_call: float | None  # all dependencies, over the scenario
    retry_amplification: float | None  # peak attempts per intended call, most-retried tier
    amplified_tier: str
    received_per_intended: float | None  # at that tier, peak
    budget_burn: float | None  # error ratio ÷ (1 - SLO)
    budget_month_used: float | None  # share of a 30-day budget
    degraded: tuple[str, ...]  # the blast radius (tier keys)
    relief_users: int | None = None
    relief_recovery_s: float | None = None  # after the load cut
    paths: tuple[tuple[str, str], ...] = ()  # why customers failed: (chain, last outcomes)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["degraded"] = list(self.degraded)
        d["paths"] = [{"path": p, "outcomes": o} for p, o in self.paths]
        return {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v)
                for k, v in d.items()}


@dataclass(frozen=True)
class Comparison:
    scenario: str
    hypothesis: str
    faults: str
    slo: float
    hold: float
    rows: tuple[Row, ...]
    command: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def row(self, profile: str) -> Row:
        return next(r for r in self.rows if r.profile == profile)

    def to_json(self) -> dict[str, Any]:
        return {"schema": "chaoslab.experiment/v1", "scenario": self.scenario,
                "hypothesis": self.hypothesis, "faults": self.faults, "slo": self.slo,
                "hold_s": self.hold, "command": self.command, "notes": list(self.notes),
                "profiles": [r.to_json() for r in self.rows]}


def row(profile: str, report: Report, *, relief_at: float | None = None,
        relief_users: int | None = None) -> Row:
    """The comparison row of one profile's report (its first scenario)."""
    if not report.scenarios:
        raise ValueError(f"{profile}: the report holds no scenario")
    sc = report.scenarios[0]
    w = sc.window
    # The end of the data, not the scenario's impact window (which ends once its tiers are
    # back): every profile is observed, and its errors counted, over the same span.
    end = report.times[-1] + report.step if report.times else sc.eval_end
    reverted = w.reverted_at if w.reverted_at is not None else end
    fault_s = reverted - w.injected_at
    observed_s = max(0.0, end - reverted)
    ttr = sc.time_to_recovery_s
    if not sc.degraded():  # nothing fell below the SLO: nothing to recover from
        ttr, recovered_by, below = 0.0, "unaffected", 0.0
    elif ttr is not None and (relief_at is None or reverted + ttr <= relief_at + report.step):
        recovered_by, below = "itself", ttr
    elif relief_at is not None:
        recovered_by = "load cut" if ttr is not None else ""
        below = relief_at - reverted
    else:
        recovered_by, below = "", observed_s
    # One scrape interval of slack: the window is measured in whole bins.
    metastable = recovered_by in ("", "load cut") and \
        below + report.step >= METASTABLE_FACTOR * fault_s
    until = relief_at if relief_at is not None else end  # same span for every profile
    peak, total = customer_error_shares(report, sc, until)
    # The dependency that took the most retries (a tier called once a second can show a
    # high ratio on a handful of calls).
    amp = max(sc.amplification, key=lambda a: a.attempts - a.intended, default=None)
    intended = sum(a.intended for a in sc.amplification)
    attempts = sum(a.attempts for a in sc.amplification) / intended if intended else None
    burn, month = budget(report, sc, until)
    relief_rec = relief_recovery(report, sc, relief_at) if relief_at is not None else None
    return Row(
        profile=profile, fault_s=fault_s, observed_s=observed_s, recovery_s=ttr,
        recovered_by=recovered_by, below_slo_s=below, metastable=metastable,
        peak_customer_errors=peak, customer_errors=total, attempts_per_call=attempts,
        retry_amplification=amp.peak_attempts_per_intended if amp else None,
        amplified_tier=amp.tier.key if amp else "",
        received_per_intended=amp.peak_received_per_intended if amp else None,
        budget_burn=burn, budget_month_used=month,
        degraded=tuple(i.tier.key for i in sc.degraded()),
        relief_users=relief_users if relief_at is not None else None,
        relief_recovery_s=relief_rec,
        paths=tuple((p.chain(), ", ".join(p.hops[-1].outcomes) if p.hops else "")
                    for p in sc.failure_paths))


def compare(scenario: str, hypothesis: str, faults: str, rows: Sequence[Row], *, slo: float,
            hold: float, command: str = "", notes: Sequence[str] = ()) -> Comparison:
    return Comparison(scenario, hypothesis, faults, slo, hold, tuple(rows), command,
                      tuple(notes))


# --- figures from the report's timelines ----------------------------------------------------

def customer_timeline(report: Report) -> tuple[list[float], list[float]]:
    """(all customer workflow runs, failed runs) per bin, summed over workflows and regions."""
    n = len(report.times)
    total, bad = [0.0] * n, [0.0] * n
    for tier in _customers(report):
        for i, (req, a) in enumerate(zip(report.requests[tier], report.availability[tier],
                                         strict=True)):
            total[i] += req
            if not math.isnan(a):
                bad[i] += req * (1.0 - a)
    return total, bad


def customer_error_shares(report: Report, sc: ScenarioReport, until: float
                          ) -> tuple[float | None, float | None]:
    """(peak share over any 5 s, total share) of failed customer runs, injection → until."""
    total, bad = customer_timeline(report)
    lo, hi = index_range(report.times, sc.window.injected_at, until)
    runs = sum(total[lo:hi])
    share = sum(bad[lo:hi]) / runs if runs else None
    rolling = [x for x in rolling_ratio(bad, total, PEAK_WINDOW)[lo:hi] if not math.isnan(x)]
    return (max(rolling) if rolling else None), share


def budget(report: Report, sc: ScenarioReport, until: float
           ) -> tuple[float | None, float | None]:
    """(burn rate, share of a 30-day budget) of the customers' error budget, injection →
    until."""
    total, bad = customer_timeline(report)
    lo, hi = index_range(report.times, sc.window.injected_at, until)
    runs = sum(total[lo:hi])
    if not runs:
        return None, None
    allowed = 1.0 - report.slo
    burn = (sum(bad[lo:hi]) / runs) / allowed
    before = [x for x in total[:lo] if x > 0]  # pre-fault bins with traffic
    if not before:
        return burn, None
    rate = sum(before) / (len(before) * report.step)
    return burn, sum(bad[lo:hi]) / (allowed * rate * MONTH)


def relief_recovery(report: Report, sc: ScenarioReport, relief_at: float) -> float | None:
    """Seconds from the load cut until every degraded tier held the SLO again."""
    worst = 0.0
    for impact in sc.degraded():
        avail = report.availability.get(impact.tier, [])
        bins = [(t, t + report.step, a) for t, a in zip(report.times, avail, strict=False)
                if not math.isnan(a)]
        at = recovery(bins, relief_at, report.slo, report.hold)
        if at is None:
            return None
        worst = max(worst, at - relief_at)
    return worst


def _customers(report: Report) -> list[Tier]:
    return [t for t in report.tiers if t.kind == "workflow"]


# --- text -----------------------------------------------------------------------------------

def _pct(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.1%}" if x >= 0.01 or x == 0 else f"{100 * x:.2g}%"  # small: 2 digits


def _secs(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0f} s"


def recovery_text(r: Row) -> str:
    if r.recovered_by == "unaffected":
        return "0 s (no tier fell below the SLO)"
    if r.recovered_by == "itself":
        return f"{r.recovery_s:.0f} s"
    if r.recovered_by == "load cut" and r.relief_users is not None:
        cut = f"{r.relief_recovery_s:.0f} s" if r.relief_recovery_s is not None else "?"
        return (f"none for {r.below_slo_s:.0f} s; {cut} after cutting to "
                f"{r.relief_users} customers")
    text = f"none in {r.observed_s:.0f} s"
    if r.relief_users is not None:
        text += f" (not even with {r.relief_users} customers)"
    return text


def verdict_text(r: Row) -> str:
    """One line saying whether the fault became a metastable failure under this profile,
    and the measurement that decides it: the table's yes/no alone hides whether a profile
    healed, never fell, or simply was not watched for long enough to tell."""
    need = METASTABLE_FACTOR * r.fault_s
    rule = f"≥ {METASTABLE_FACTOR:g}{X} the {r.fault_s:.0f} s fault: {need:.0f} s"
    if r.metastable:
        if r.recovered_by == "load cut":
            how = (f"back only {_secs(r.relief_recovery_s)} after cutting the load to "
                   f"{r.relief_users} customers")
        elif r.relief_users is not None:
            how = f"not back even after cutting the load to {r.relief_users} customers"
        else:
            how = "not back by the end of the observation"
        return (f"**{r.profile}**: **metastable**: below the SLO for {r.below_slo_s:.0f} s "
                f"after the DNS restore ({rule}) without recovering by itself; {how}")
    if r.recovered_by == "unaffected":
        return f"**{r.profile}**: not metastable: no tier fell below the SLO"
    if r.recovered_by == "itself":
        return (f"**{r.profile}**: not metastable: recovered by itself "
                f"{r.recovery_s:.0f} s after the DNS restore")
    return (f"**{r.profile}**: not judged metastable: still below the SLO "
            f"{r.below_slo_s:.0f} s after the DNS restore, when watching stopped, short of "
            f"{rule}; observe longer to tell")


def metastable_summary(c: Comparison) -> str:
    """The comparison's answer in one line: under which profiles the fault outlived itself."""
    stuck = [r.profile for r in c.rows if r.metastable]
    if not stuck:
        return (f"The fault became a metastable failure under none of the {len(c.rows)} "
                "profiles.")
    return (f"The fault became a metastable failure under {len(stuck)} of {len(c.rows)} "
            f"profiles: {', '.join(stuck)}.")


def markdown(c: Comparison) -> str:
    lines = [f"### `{c.scenario}`: {c.faults}", ""]
    if c.hypothesis:
        lines += [f"Hypothesis: {c.hypothesis}", ""]
    lines += [
        f"| profile | fault | time to recovery after DNS restore | metastable (≥3{X} fault "
        f"below SLO) | peak customer errors (5 s) | customer errors, total | retry "
        "amplification: attempts per call (5 s peak, most-retried dependency) | "
        "error-budget burn | 30-day budget used |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in c.rows:
        amp = "n/a" if r.attempts_per_call is None else f"{r.attempts_per_call:.2f}{X}"
        if r.retry_amplification is not None:
            amp += (f" ({r.retry_amplification:.1f}{X} at "
                    f"{r.amplified_tier.removeprefix('service:')})")
        burn = "n/a" if r.budget_burn is None else f"{r.budget_burn:.0f}{X}"
        lines.append(
            f"| {r.profile} | {r.fault_s:.0f} s | {recovery_text(r)} | "
            f"{'**yes**' if r.metastable else 'no'} | {_pct(r.peak_customer_errors)} | "
            f"{_pct(r.customer_errors)} | {amp} | {burn} | {_pct(r.budget_month_used)} |")
    lines += ["", metastable_summary(c), ""]
    lines += [f"- {verdict_text(r)}" for r in c.rows]
    lines += ["", f"SLO {c.slo:.2%} per tier; recovered = at or above it for {c.hold:.0f} s "
              "(the game-day report's definitions). Customer errors and budget run from the "
              "injection to the end of the observation window, before any load cut."]
    paths: dict[str, list[str]] = {}
    for r in c.rows:
        for chain, outcomes in r.paths:
            paths.setdefault(chain, []).append(f"{r.profile}: {outcomes or '?'}")
    if paths:
        lines += ["", "Why customers failed: the failing dependency path from each degraded "
                  "customer workflow, as the report measured it, and how the calls on its "
                  "last hop failed, per profile:"]
        lines += [f"- {chain} ({'; '.join(who)})" for chain, who in sorted(paths.items())]
    if c.notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in c.notes]
    if c.command:
        lines += ["", "Reproduce:", "```sh", c.command, "```"]
    return "\n".join(lines) + "\n"
