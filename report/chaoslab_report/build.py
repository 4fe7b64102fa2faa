"""`build_report`: Prometheus + a timeline in, `report.html`, `report.json` and PNGs out.

`collect` does the queries (the only I/O besides writing files), `analyse` is pure and turns
the series into a `Report`, and `write` renders it. Tests call each on its own; the lab, the
CLI and the end-to-end test call `build_report`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chaoslab_report import analysis as an
from chaoslab_report.model import (
    Collected,
    Edge,
    Mitigation,
    PhaseReport,
    Report,
    ScenarioReport,
    Tier,
)
from chaoslab_report.paths import customer_paths
from chaoslab_report.prom import Prometheus
from chaoslab_report.queries import QUERIES
from chaoslab_report.summary import summarize
from chaoslab_report.timeline import ScenarioWindow, from_active_metric
from chaoslab_services import catalog

if TYPE_CHECKING:
    from chaoslab_report.hypotheses import Declared


def collect(prom: Prometheus, start: float, end: float, step: float = 1.0,
            window: str = "5s") -> Collected:
    """Runs every report query over [start, end]."""
    series = {name: prom.query_range(q.render(window), start, end, step)
              for name, q in QUERIES.items()}
    return Collected(start, end, step, series)


def analyse(data: Collected, timeline: Sequence[ScenarioWindow] | None, *, slo: float = 0.99,
            hold: float = 10.0, prometheus: str = "") -> Report:
    """Pure: the Report for `data`. Without a timeline, the operator's metric gives one."""
    if not 0 < slo < 1:
        raise ValueError(f"slo must be between 0 and 1, got {slo!r}")
    step = data.step
    grid = _grid(data)
    n = len(grid)
    times = [t - step for t in grid]  # a bin covers the scrape interval ending at its grid point
    stamps = an.scrape_stamps(data.series.get("scrape_times", []))
    if timeline is None:
        timeline = from_active_metric(data.series.get("scenario_active", []), end=data.end,
                                      stamps=stamps, step=step)
    windows = sorted(timeline, key=lambda w: w.injected_at)

    counts: dict[Tier, an.Counts] = {}
    counts.update(an.service_counts(data.series.get("service_requests", []), n, stamps, step))
    counts.update(an.workflow_counts(data.series.get("workflow_runs", []), n, stamps, step))
    tiers = sorted(t for t, c in counts.items() if sum(c.good) + sum(c.bad) > 0)
    availability = {t: an.availability(counts[t]) for t in tiers}
    requests = {t: [g + b for g, b in zip(counts[t].good, counts[t].bad, strict=True)]
                for t in tiers}
    p50, p99 = _latency(data, "p50"), _latency(data, "p99")

    intended: dict[Tier, list[float]] = {}
    attempts: dict[Tier, list[float]] = {}
    edges: dict[tuple[Tier, Tier], Edge] = {}
    for s in data.series.get("dependency_calls", []):
        client = Tier("service", s.labels.get("service", "?"), s.labels.get("region", "?"))
        dep = an.endpoint_tier(s.labels.get("dependency", "?"))
        inc = an.increments(s.values)
        _accumulate(intended, dep, inc)
        outcome = s.labels.get("outcome", "ok")
        edges.setdefault((client, dep), Edge(client, dep)).add(inc, outcome != "ok", outcome)
    edge_intended: dict[tuple[Tier, Tier], list[float]] = {}
    edge_attempts: dict[tuple[Tier, Tier], list[float]] = {}
    for (client, dep), edge in edges.items():
        edge_intended[(client, dep)] = edge.calls_bins
    for s in data.series.get("dependency_attempts", []):
        client = Tier("service", s.labels.get("service", "?"), s.labels.get("region", "?"))
        dep = an.endpoint_tier(s.labels.get("dependency", "?"))
        inc = an.increments(s.values)
        _accumulate(attempts, dep, inc)
        _accumulate(edge_attempts, (client, dep), inc)
    for t in tiers:  # customers -> front doors
        if t.kind == "workflow" and t.name in an.WORKFLOW_FRONT_DOORS:
            door = an.endpoint_tier(_door_key(t))
            edge = edges.setdefault((t, door), Edge(t, door))
            edge.add(counts[t].good, False)
            edge.add(counts[t].bad, True, "error")

    amp_series = {}
    for dep, inc in intended.items():
        att = attempts.get(dep, [0.0] * n)
        rec = requests.get(dep, [0.0] * n)
        amp_series[dep] = (an.rolling_ratio(att, inc, 5), an.rolling_ratio(rec, inc, 5))

    scenarios = []
    end_of_data = times[-1] + step if times else data.end
    bins = {t: an.traffic_bins(counts[t], availability[t]) for t in tiers}
    # Each scenario's impact window (injection until its tiers are back, + hold), then the
    # clean stretches between them: no scenario's window depends on the next injection.
    spans = [an.impact_window(w, bins, slo=slo, hold=hold, end_of_data=end_of_data)
             for w in windows]
    traffic = [times[i] for i in range(n) if any(requests[t][i] > 0 for t in tiers)]
    data_start = traffic[0] if traffic else (times[0] if times else data.start)
    doors = {an.endpoint_tier(_door_key(t)) for t in tiers
             if t.kind == "workflow" and t.name in an.WORKFLOW_FRONT_DOORS}
    for i, w in enumerate(windows):
        back, eval_end = spans[i]
        others = [(o, spans[j]) for j, o in enumerate(windows) if j != i]
        baseline = an.clean_stretch(w.injected_at, [(o.injected_at, sp[0]) for o, sp in others],
                                    data_start)
        impacts = {t.key: an.tier_impact(t, times, counts[t], w, eval_end, slo=slo, hold=hold,
                                         step=step, p99=p99.get(t), baseline=baseline)
                   for t in tiers}
        for t in tiers:
            imp = impacts[t.key]
            if imp.degraded:
                imp.shared_with = [
                    o.key for o, (_, o_end) in others
                    if an.below_slo_during(bins[t], max(w.injected_at, o.injected_at),
                                           min(eval_end, o_end), slo)]
        amps = [an.amplification(dep, times, inc, attempts.get(dep, [0.0] * n),
                                 requests.get(dep, [0.0] * n), w, eval_end, baseline=baseline,
                                 front_door=dep in doors, step=step)
                for dep, inc in sorted(intended.items())]
        amps = [a for a in amps if a.intended > 0]
        edge_amps = [an.edge_amplification(c, d, times, inc, edge_attempts.get((c, d), [0.0] * n),
                                           w, eval_end, baseline=baseline)
                     for (c, d), inc in sorted(edge_intended.items()) if c.kind == "service"]
        edge_amps = [a for a in edge_amps if a.intended > 0]
        degraded = [x for x in impacts.values() if x.degraded]
        ttr = None
        if degraded and all(x.recovery_after_revert_s is not None for x in degraded):
            ttr = max(x.recovery_after_revert_s or 0.0 for x in degraded)
        scenarios.append(ScenarioReport(
            w, eval_end, impacts, amps, _dns_faults(data, times, w, eval_end), ttr,
            baseline=baseline, tiers_back_at=back if w.reverted_at is not None else None,
            edge_amplification=edge_amps,
            dns_effective_at=_dns_effective_at(data, times, w, eval_end),
            phases=_phases(data, times, w, counts, tiers),
            mitigations=_mitigations(data, times, w, eval_end)))

    report = Report(
        prometheus=prometheus, start=data.start, end=data.end, step=step, slo=slo, hold=hold,
        times=times, tiers=tiers, availability=availability, requests=requests, p50=p50,
        p99=p99, edges=sorted(edges.values(), key=lambda e: (e.client, e.dependency)),
        scenarios=scenarios, amplification_series=amp_series,
        customer_calls={d: [max(0.0, r - a) / step for r, a in zip(
            requests.get(d, [0.0] * n), attempts.get(d, [0.0] * n), strict=True)]
            for d in sorted(doors) if d in requests})
    for sc in report.scenarios:  # the paths read the whole report's edges and grid
        sc.failure_paths = customer_paths(report, sc)
    report.summary = summarize(report)
    return report


def write(report: Report, out_dir: Path) -> Report:
    """report.json, report.html and the PNG plots into `out_dir`."""
    from chaoslab_report import plots, render

    out_dir.mkdir(parents=True, exist_ok=True)
    report.out_dir = str(out_dir)
    report.files = plots.write_all(report, out_dir)
    report.files["json"] = "report.json"
    report.files["html"] = "report.html"
    (out_dir / "report.json").write_text(json.dumps(report.to_json(), indent=1) + "\n")
    (out_dir / "report.html").write_text(render.page(report, out_dir))
    return report


def build_report(prometheus_url: str, timeline: Sequence[ScenarioWindow] | None,
                 out_dir: str | Path, *, start: float | None = None, end: float | None = None,
                 step: float = 1.0, slo: float = 0.99, hold: float = 10.0,
                 latency_window: str = "5s", lead: float = 60.0,
                 hypotheses: Mapping[str, Declared] | None = None) -> Report:
    """The whole report. Window: `start`/`end` if given, else from `lead` seconds before the
    first injection (15 min ago without a timeline) until now. `hypotheses`: each scenario's
    declared ones by `namespace/name` (or why they cannot be read, or that it never ran),
    judged per scenario."""
    prom = Prometheus(prometheus_url)
    end = time.time() if end is None else end
    if start is None:
        first = min((w.injected_at for w in timeline or ()), default=None)
        start = (first - lead) if first is not None else end - 900.0
    data = collect(prom, start, end, step, latency_window)
    report = analyse(data, timeline, slo=slo, hold=hold, prometheus=prometheus_url)
    if hypotheses:
        from chaoslab_report.hypotheses import judge_declared

        report.hypotheses = judge_declared(prom, [s.window for s in report.scenarios],
                                           hypotheses, start, end, step)
    return write(report, Path(out_dir))


# --- helpers ----------------------------------------------------------------------------------

def _grid(data: Collected) -> list[float]:
    for series in data.series.values():
        if series:
            return list(series[0].times)
    step = data.step
    first = math.floor(data.start / step) * step
    return [first + i * step for i in range(int((data.end - first) / step) + 1)]


def _accumulate(target: dict[Tier, list[float]], key: Tier, inc: Sequence[float]) -> None:
    row = target.setdefault(key, [0.0] * len(inc))
    for i, x in enumerate(inc):
        row[i] += x


def _latency(data: Collected, which: str) -> dict[Tier, list[float]]:
    """Latency quantile series per tier; a value at grid point t describes the bin before t."""
    out: dict[Tier, list[float]] = {}
    for kind, label in (("service", "service"), ("workflow", "workflow")):
        for s in data.series.get(f"{kind}_{which}", []):
            out[Tier(kind, s.labels.get(label, "?"), s.labels.get("region", "?"))] = list(s.values)
    return out


def _door_key(t: Tier) -> str:
    return catalog.endpoint_key(an.WORKFLOW_FRONT_DOORS[t.name], t.region)


def _dns_effective_at(data: Collected, times: Sequence[float], w: ScenarioWindow,
                      eval_end: float) -> float | None:
    """The earliest instant CoreDNS can have answered one of `w`'s faults: the start of the
    first bin in which its `coredns_chaoslab_faults_injected_total` rose (never before the
    injection). None when CoreDNS never answered one (or its counter was not scraped)."""
    lo, hi = an.index_range(times, w.injected_at, eval_end)
    first = None
    for s in data.series.get("dns_faults", []):
        if s.labels.get("scenario", "") != w.key:
            continue
        inc = an.increments(s.values)
        hit = next((i for i in range(lo, min(hi, len(inc))) if inc[i] > 0), None)
        if hit is not None and (first is None or hit < first):
            first = hit
    if first is None:
        return None
    return max(w.injected_at, times[first])


def _phases(data: Collected, times: Sequence[float], w: ScenarioWindow,
            counts: dict[Tier, an.Counts], tiers: Sequence[Tier]) -> list[PhaseReport]:
    """Each phase of a phased scenario as a window of its own: the faulted answers and
    every customer workflow's success share between its start and its end."""
    out = []
    for ph in w.phases:
        lo, hi = an.index_range(times, ph.start, ph.end)
        customers: dict[str, float | None] = {}
        for t in tiers:
            if t.kind == "workflow":
                good, bad = sum(counts[t].good[lo:hi]), sum(counts[t].bad[lo:hi])
                customers[t.key] = good / (good + bad) if good + bad > 0 else None
        dns = _dns_faults(data, times, dataclasses.replace(w, injected_at=ph.start), ph.end)
        out.append(PhaseReport(ph.name, ph.start, ph.end, ph.faults, dns, customers))
    return out


def _mitigations(data: Collected, times: Sequence[float], w: ScenarioWindow,
                 eval_end: float) -> list[Mitigation]:
    """Each time DWFM's throttle gauge went from off (or unscraped) to on inside the
    scenario's impact window; one already on at the injection was not this game day's."""
    lo, hi = an.index_range(times, w.injected_at, eval_end)
    out = []
    for s in data.series.get("dwfm_throttle", []):
        tier = Tier("service", s.labels.get("service", "ec2"), s.labels.get("region", "?"))
        values = list(s.values)
        for i in range(max(lo, 1), min(hi, len(values))):
            before = values[i - 1]
            if values[i] >= 1 and not before >= 1:  # NaN (no scrape) counts as off
                out.append(Mitigation(tier, "DWFM's incoming-work throttle", times[i]))
    return sorted(out, key=lambda m: (m.at, m.tier))


def _dns_faults(data: Collected, times: Sequence[float], w: ScenarioWindow,
                eval_end: float) -> dict[str, float]:
    lo, hi = an.index_range(times, w.injected_at, eval_end)
    out = {}
    for s in data.series.get("dns_faults", []):
        if s.labels.get("scenario", "") not in ("", w.key):
            continue  # another scenario's faults
        total = sum(an.increments(s.values)[lo:hi])
        if total > 0:
            mode = s.labels.get("mode", "?")
            out[mode] = out.get(mode, 0.0) + total
    return out
