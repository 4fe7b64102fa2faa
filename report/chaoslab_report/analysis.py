"""Game-day analysis on series data: no I/O, so every number is testable on data a test writes.

Vocabulary. A *tier* is one thing whose health the report follows: a service in a region
(`service:iam.us-east-1`) or the customers of one workflow in a region
(`workflow:signin.us-east-1`). Counters are turned into per-scrape *bins* of good and bad
events (`increments`); a bin's time is the start of its scrape interval, so an event is
placed within one interval of when it happened. *Availability* of a bin is good ÷ (good +
bad), NaN when the tier had no traffic then (no evidence either way: a tier nobody calls
during an outage is not counted as failed, nor as recovered).

Per scenario: its *impact window* runs from the injection to the revert plus the recovery
hold, or, when tiers it hit take longer, until they are back plus the hold (the end of the
data if one never is); another scenario's injection does not cut it short. *First impact*
is the first bin after injection whose availability is below the SLO; the *blast radius*
is the set of tiers with such a bin in the impact window; a tier below the SLO while
another scenario's impact window was open too is *shared* with it, naming it, since the
data cannot tell the two apart. *Recovery* is the first bin after the revert from which
availability stays ≥ SLO for `hold` seconds (both transitions dated at the middle of the
bin where they happened). The *baseline* is the nearest clean stretch before the
injection: no other scenario's faults live and its tiers back (`clean_stretch`), at least
`MIN_BASELINE_S` long; with none, there is no baseline rather than one polluted by an
earlier outage. *Retry amplification* is measured per service-to-service edge: attempts
(`dependency_attempts_total`) per logical call (`dependency_calls_total`); what a front door
received beyond its service callers' attempts is customers' direct calls, shown apart.
*Error-budget burn* is the error ratio over the scenario divided by (1 - SLO).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaoslab_report.model import (
    MIN_BASELINE_S,
    Amplification,
    EdgeAmplification,
    Stretch,
    Tier,
    TierImpact,
)
from chaoslab_report.prom import Series
from chaoslab_report.queries import SERVER_ERROR_CODES
from chaoslab_report.timeline import ScenarioWindow
from chaoslab_services import catalog

# The customers' front door for each workflow (chaoslab_loadtest.config: FRONT_DOORS).
WORKFLOW_FRONT_DOORS = {"signin": "signin", "invoke": "lambda", "metrics": "cloudwatch",
                        "items": "dynamodb", "launch": "ec2"}
MONTH = 30 * 86400.0


def endpoint_tier(key: str) -> Tier:
    """Endpoint key ("dynamodb.us-east-1", "iam", "sts") -> the service tier answering it:
    the catalog's process (the global ones in us-east-1); a key it does not list is read as
    `service.region`."""
    entry = catalog.BY_KEY.get(key)
    if entry is not None:
        return Tier("service", entry.service, entry.region)
    service, _, region = key.partition(".")
    return Tier("service", service, region or catalog.GLOBAL_REGION)


def fqdn_tier(target: str) -> Tier | None:
    """A fault target ("dynamodb.us-east-1.aws.internal") -> its tier; None for wildcards."""
    if target.startswith("*"):
        return None
    host = target.rstrip(".").removesuffix(".aws.internal")
    return endpoint_tier(host)


# --- counters to bins ---------------------------------------------------------------------

def increments(values: Sequence[float]) -> list[float]:
    """Per-step increases of a cumulative counter, NaN gaps skipped, resets handled.

    A series that first appears inside the window was born at zero (client libraries create
    a label child on its first event), so its first value counts as an increase.
    """
    return spans(values, None, 0.0)[0]


Stamps = Mapping[str, Sequence[float]]  # instance -> time of its last good scrape per grid point


def spans(values: Sequence[float], stamps: Sequence[float] | None, step: float
          ) -> tuple[list[float], list[float], list[float]]:
    """(increase, start, end) per grid point: what happened between two *successful* scrapes.

    `stamps` are the instance's scrape times (`timestamp(up) and up == 1` on the same grid). A grid
    point that shows no new scrape (jitter, or failed scrapes in a loaded lab) gets no
    increase and NaN times; the next real sample's increase spans the whole gap, and its
    (start, end] says so, so no event is dated more precisely than the data allows.
    Without stamps, each point is taken as covering (g - step, g].
    """
    n = len(values)
    inc, start, end = [0.0] * n, [math.nan] * n, [math.nan] * n
    last: float | None = None
    last_t = math.nan
    for i, v in enumerate(values):
        t = stamps[i] if stamps is not None else math.nan
        if math.isnan(v) or (stamps is not None and math.isnan(t)):
            continue
        if last is not None and stamps is not None and t == last_t:
            continue  # the same scrape seen again
        if last is None:
            if i == 0:
                last, last_t = v, t
                continue
            inc[i] = v  # born inside the window
            prev = stamps[i - 1] if stamps is not None else math.nan
            start[i] = prev if not math.isnan(prev) else t - step
        else:
            inc[i] = v - last if v >= last else v
            start[i] = last_t
        end[i] = t
        last, last_t = v, t
    return inc, start, end


@dataclass
class Counts:
    """Good and bad events per grid bin for one tier, and the time each bin really spans."""

    good: list[float]
    bad: list[float]
    start: list[float]  # earliest scrape the bin's increases start from (NaN: no new data)
    end: list[float]  # latest scrape they end at

    @classmethod
    def zeros(cls, n: int) -> Counts:
        return cls([0.0] * n, [0.0] * n, [math.nan] * n, [math.nan] * n)

    def add(self, inc: Sequence[float], bad: bool, start: Sequence[float] | None = None,
            end: Sequence[float] | None = None) -> None:
        target = self.bad if bad else self.good
        for i, x in enumerate(inc):
            target[i] += x
            if start is not None and end is not None and not math.isnan(end[i]):
                self.start[i] = start[i] if math.isnan(self.start[i]) else min(
                    self.start[i], start[i])
                self.end[i] = end[i] if math.isnan(self.end[i]) else max(self.end[i], end[i])

    def total(self, lo: int = 0, hi: int | None = None) -> tuple[float, float]:
        hi = len(self.good) if hi is None else hi
        return sum(self.good[lo:hi]), sum(self.bad[lo:hi])


def group_counts(series: Iterable[Series], tier_of: Callable[[Mapping[str, str]], Any],
                 is_bad: Callable[[Mapping[str, str]], bool], n: int,
                 stamps: Stamps | None = None, step: float = 1.0) -> dict[Any, Counts]:
    out: dict[Any, Counts] = {}
    for s in series:
        tier = tier_of(s.labels)
        if tier is None:
            continue
        own = (stamps or {}).get(s.labels.get("instance", ""))
        if own is None:  # no scrape times known: take each grid point as a fresh sample
            own = list(s.times)
        inc, start, end = spans(s.values, own, step)
        out.setdefault(tier, Counts.zeros(n)).add(inc, is_bad(s.labels), start, end)
    return out


def service_tier(labels: Mapping[str, str]) -> Tier:
    return Tier("service", labels.get("service", "?"), labels.get("region", "?"))


def workflow_tier(labels: Mapping[str, str]) -> Tier:
    return Tier("workflow", labels.get("workflow", "?"), labels.get("region", "?"))


def service_counts(series: Iterable[Series], n: int, stamps: Stamps | None = None,
                   step: float = 1.0) -> dict[Tier, Counts]:
    return group_counts(series, service_tier,
                        lambda lb: lb.get("code", "") in SERVER_ERROR_CODES, n, stamps, step)


def workflow_counts(series: Iterable[Series], n: int, stamps: Stamps | None = None,
                    step: float = 1.0) -> dict[Tier, Counts]:
    return group_counts(series, workflow_tier, lambda lb: lb.get("result", "") != "ok", n,
                        stamps, step)


def scrape_stamps(series: Iterable[Series]) -> dict[str, list[float]]:
    """instance -> its scrape time at each grid point, NaN where that scrape failed
    (`timestamp(up) and up == 1`)."""
    return {s.labels.get("instance", ""): list(s.values) for s in series}


def availability(c: Counts, smooth: int = 1) -> list[float]:
    """good ÷ total per bin over a trailing window of `smooth` bins; NaN with no traffic."""
    out = []
    for i in range(len(c.good)):
        lo = max(0, i - smooth + 1)
        good, bad = sum(c.good[lo:i + 1]), sum(c.bad[lo:i + 1])
        out.append(good / (good + bad) if good + bad > 0 else math.nan)
    return out


# --- per-tier findings ----------------------------------------------------------------------

def traffic_bins(c: Counts, avail: Sequence[float]) -> list[tuple[float, float, float]]:
    """(start, end, availability) of every bin that has traffic, in time order."""
    return [(c.start[i], c.end[i], a) for i, a in enumerate(avail)
            if not math.isnan(a) and not math.isnan(c.end[i])]


def first_breach(bins: Sequence[tuple[float, float, float]], after: float, before: float,
                 slo: float) -> tuple[float, float] | None:
    """(start, end) of the first bin ending after `after` (and starting before `before`)
    whose availability is below the SLO; its start is clamped to `after`."""
    for start, end, a in bins:
        if end > after and start < before and a < slo:
            return max(start, after), end
    return None


def recovery(bins: Sequence[tuple[float, float, float]], after: float, slo: float,
             hold: float) -> float | None:
    """When the tier was healthy again after `after`: the middle of the last bad bin before
    a stretch of `hold` seconds in which every bin is >= SLO (`after` itself if no bin after
    it was bad); None if no such stretch fits in the data."""
    last_end = bins[-1][1] if bins else after
    prev_bad: tuple[float, float] | None = None
    for i, (start, end, a) in enumerate(bins):
        if end <= after:
            continue
        if a < slo:
            prev_bad = (max(start, after), end)
            continue
        t = max(start, after)
        if t + hold > last_end + 1e-9:
            return None
        if all(b[2] >= slo for b in bins[i:] if b[0] < t + hold):
            return after if prev_bad is None else (prev_bad[0] + prev_bad[1]) / 2
    return None


def index_range(times: Sequence[float], start: float, end: float) -> tuple[int, int]:
    """Indices [lo, hi) of bins with start <= t < end."""
    lo = next((i for i, t in enumerate(times) if t >= start), len(times))
    hi = next((i for i, t in enumerate(times) if t >= end), len(times))
    return lo, max(lo, hi)


def quantile_summary(values: Sequence[float]) -> float | None:
    finite = sorted(v for v in values if not math.isnan(v) and not math.isinf(v))
    return finite[len(finite) // 2] if finite else None


def peak(values: Sequence[float]) -> float | None:
    finite = [v for v in values if not math.isnan(v) and not math.isinf(v)]
    return max(finite) if finite else None


# --- impact windows and baselines -------------------------------------------------------------

Bins = Sequence[tuple[float, float, float]]


def impact_window(window: ScenarioWindow, bins_by_tier: Mapping[Any, Bins], *, slo: float,
                  hold: float, end_of_data: float) -> tuple[float, float]:
    """(tiers back, impact end) of one scenario: the later of its revert and the recovery of
    every tier it hit, and that plus `hold`; the end of the data if it is still injected or
    a tier it hit never recovered. Grows while tiers hit in the extension are still down."""
    rev = window.reverted_at
    if rev is None:
        return end_of_data, end_of_data
    back = rev
    for _ in range(8):  # bounded: each round only adds tiers hit later in the window
        end = min(back + hold, end_of_data)
        later = back
        for bins in bins_by_tier.values():
            if first_breach(bins, window.injected_at, end, slo) is None:
                continue
            rec = recovery(bins, rev, slo, hold)
            if rec is None:
                return end_of_data, end_of_data
            later = max(later, rec)
        if later <= back:
            break
        back = later
    return min(back, end_of_data), min(back + hold, end_of_data)


def clean_stretch(before: float, busy: Iterable[tuple[float, float]], data_start: float,
                  min_seconds: float = MIN_BASELINE_S) -> Stretch | None:
    """The latest stretch in [data_start, before) that no `busy` interval (another
    scenario's injection until its tiers were back) touches, at least `min_seconds` long."""
    spans_ = sorted((max(a, data_start), min(b, before)) for a, b in busy
                    if a < before and b > data_start)
    gaps, cur = [], data_start
    for a, b in spans_:
        if a > cur:
            gaps.append((cur, a))
        cur = max(cur, b)
    if before > cur:
        gaps.append((cur, before))
    for a, b in reversed(gaps):
        if b - a >= min_seconds:
            return Stretch(a, b)
    return None


def below_slo_during(bins: Bins, start: float, end: float, slo: float) -> bool:
    """Any bin with traffic below the SLO overlapping [start, end) (False when empty)."""
    return start < end and any(b[1] > start and b[0] < end and b[2] < slo for b in bins)


_BEFORE = Stretch(-math.inf, math.inf)  # tier_impact's default: everything before injection


def tier_impact(tier: Tier, times: Sequence[float], counts: Counts, window: ScenarioWindow,
                eval_end: float, *, slo: float, hold: float, step: float,
                p99: Sequence[float] | None = None,
                baseline: Stretch | None = _BEFORE) -> TierImpact:
    """Impact of `window` on one tier, judged on bins in [injected_at, eval_end).

    `times` (the grid's bin starts) select bins for totals; the transitions are dated with
    the bins' real scrape spans (Counts.start/end), to the middle of the bin they fell in.
    Baseline figures come from the `baseline` stretch (None: there is none, so none are
    given); by default everything before the injection.
    """
    avail = availability(counts)
    inj = window.injected_at
    lo, hi = index_range(times, inj, eval_end)
    if baseline is None:
        base_lo = base_hi = 0
    elif baseline is _BEFORE:
        base_lo, base_hi = index_range(times, times[0] if times else inj, inj)
    else:
        base_lo, base_hi = index_range(times, baseline.start, baseline.end)
    good_b, bad_b = counts.total(base_lo, base_hi)
    baseline = good_b / (good_b + bad_b) if good_b + bad_b else None
    every_bin = traffic_bins(counts, avail)
    bins = [b for b in every_bin if b[0] < eval_end]
    first = first_breach(bins, inj, eval_end, slo)
    imp = TierImpact(tier, degraded=first is not None, baseline_availability=baseline)
    good, bad = counts.total(lo, hi)
    imp.requests_during, imp.failed_during = good + bad, bad
    during = [b for b in bins if b[1] > inj]
    imp.min_availability = min((b[2] for b in during), default=None)
    imp.availability_during = good / (good + bad) if good + bad else None
    imp.seconds_below_slo = sum(b[1] - max(b[0], inj) for b in during if b[2] < slo)
    if imp.availability_during is not None:
        imp.burn_rate = (1 - imp.availability_during) / (1 - slo)
    # Only baseline bins with traffic: the seconds before Locust started would dilute the
    # normal rate and so overstate the share of a month's budget the scenario used.
    base_seconds = step * sum(1 for i in range(base_lo, base_hi)
                              if counts.good[i] + counts.bad[i] > 0)
    if base_seconds > 0 and good_b + bad_b > 0:
        imp.budget_month_used = bad / ((1 - slo) * (good_b + bad_b) / base_seconds * MONTH)
    if p99 is not None:
        imp.p99_baseline_s = quantile_summary(p99[base_lo:base_hi])
        imp.p99_peak_s = peak(p99[lo:hi])
    before = [b for b in every_bin if b[1] <= inj + 1e-9]
    imp.degraded_at_injection = bool(before) and before[-1][2] < slo
    if first is not None:
        imp.first_impact_at = (first[0] + first[1]) / 2
        imp.first_impact_after_s = imp.first_impact_at - inj
        if window.reverted_at is not None:
            # On every bin: recovery is the tier's own, and the hold may end past the window.
            rec = recovery(every_bin, window.reverted_at, slo, hold)
            if rec is not None:
                imp.recovered_at = rec
                imp.recovery_after_revert_s = rec - window.reverted_at
    return imp


# --- amplification --------------------------------------------------------------------------

def rolling_ratio(num: Sequence[float], den: Sequence[float], width: int,
                  min_den: float = 1.0) -> list[float]:
    """Σnum ÷ Σden over a trailing window; NaN where the denominator is too small to mean much."""
    out = []
    for i in range(len(num)):
        lo = max(0, i - width + 1)
        d = sum(den[lo:i + 1])
        out.append(sum(num[lo:i + 1]) / d if d >= min_den else math.nan)
    return out


def _base_range(times: Sequence[float], window: ScenarioWindow,
                baseline: Stretch | None) -> tuple[int, int]:
    if baseline is None:
        return 0, 0
    if baseline is _BEFORE:
        return index_range(times, times[0] if times else 0.0, window.injected_at)
    return index_range(times, baseline.start, baseline.end)


def amplification(tier: Tier, times: Sequence[float], intended: Sequence[float],
                  attempts: Sequence[float], received: Sequence[float], window: ScenarioWindow,
                  eval_end: float, width: int = 5, baseline: Stretch | None = _BEFORE,
                  front_door: bool = False, step: float = 1.0) -> Amplification:
    lo, hi = index_range(times, window.injected_at, eval_end)
    base_lo, base_hi = _base_range(times, window, baseline)
    i_sum, a_sum, r_sum = sum(intended[lo:hi]), sum(attempts[lo:hi]), sum(received[lo:hi])
    direct = [max(0.0, r - a) for r, a in zip(received, attempts, strict=True)]

    def per_s(a: int, b: int) -> float | None:
        return sum(direct[a:b]) / ((b - a) * step) if front_door and b > a else None

    i_base = sum(intended[base_lo:base_hi])
    att_ratio = rolling_ratio(attempts, intended, width)
    rec_ratio = rolling_ratio(received, intended, width)
    pk_rec = peak(rec_ratio[lo:hi])
    pk_at = None
    if pk_rec is not None:
        pk_at = times[lo + rec_ratio[lo:hi].index(pk_rec)]
    return Amplification(
        tier=tier, intended=i_sum, attempts=a_sum, received=r_sum,
        baseline_received_per_intended=(sum(received[base_lo:base_hi]) / i_base
                                        if i_base else None),
        attempts_per_intended=a_sum / i_sum if i_sum else None,
        received_per_intended=r_sum / i_sum if i_sum else None,
        peak_attempts_per_intended=peak(att_ratio[lo:hi]),
        peak_received_per_intended=pk_rec, peak_received_at=pk_at,
        customer_calls_per_s=per_s(lo, hi), baseline_customer_calls_per_s=per_s(base_lo, base_hi))


def edge_amplification(client: Tier, dependency: Tier, times: Sequence[float],
                       intended: Sequence[float], attempts: Sequence[float],
                       window: ScenarioWindow, eval_end: float, width: int = 5,
                       baseline: Stretch | None = _BEFORE) -> EdgeAmplification:
    lo, hi = index_range(times, window.injected_at, eval_end)
    base_lo, base_hi = _base_range(times, window, baseline)
    i_sum, a_sum = sum(intended[lo:hi]), sum(attempts[lo:hi])
    i_base, a_base = sum(intended[base_lo:base_hi]), sum(attempts[base_lo:base_hi])
    ratio = rolling_ratio(attempts, intended, width)
    pk = peak(ratio[lo:hi])
    return EdgeAmplification(
        client=client, dependency=dependency, intended=i_sum, attempts=a_sum,
        attempts_per_intended=a_sum / i_sum if i_sum else None,
        baseline_attempts_per_intended=a_base / i_base if i_base else None,
        peak_attempts_per_intended=pk,
        peak_at=times[lo + ratio[lo:hi].index(pk)] if pk is not None else None)
