"""Declared hypotheses (`spec.hypotheses`), judged: held or failed, with the values seen.

A hypothesis is a PromQL query returning one number and a bound over a window of one
scenario: `during` judges every evaluation from the injection to the revert, `after` every
evaluation from the revert plus `within` until the end of the report's window. `judge` is
pure (range results and times in, a `Verdict` out) so it is tested on series a test writes;
`judge_declared` does the range queries. Both `chaoslab report` and `chaoslab experiment`
use them, so a game day and an experiment say the same thing about the same claim.

Judging fails closed: a step with no value (an empty vector, NaN), a query returning
several series, a query Prometheus refuses, a window with no evaluation in it, or an
`after` window of a scenario never reverted is a failure with that reason, never a pass.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

from chaoslab_dns.model import Hypothesis, Window
from chaoslab_dns.validate import ScenarioError, parse_hypotheses
from chaoslab_report.fmt import clock
from chaoslab_report.prom import Prometheus, PrometheusError, Series

# Violating evaluations kept as evidence (the count is always complete).
MAX_EVIDENCE = 20


@dataclass(frozen=True)
class NotInjected:
    """A scenario that declared hypotheses and was applied in the window but never injected
    (refused at admission, say): nothing was rehearsed, so each of its hypotheses fails."""

    hypotheses: tuple[Hypothesis, ...]
    reason: str  # e.g. "Failed: spec.hypotheses[0] ... nothing injected"


# What a report knows of one scenario's hypotheses: as declared, why they are unreadable,
# or that the scenario never ran.
Declared = Sequence[Hypothesis] | str | NotInjected


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the query: its time (unix seconds) and value (None: no data)."""

    at: float
    value: float | None

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "value": _num(self.value)}


@dataclass(frozen=True)
class Verdict:
    """One hypothesis of one scenario, judged."""

    scenario: str  # namespace/name
    hypothesis: Hypothesis
    held: bool
    reason: str  # one sentence: why it held or failed, with the numbers
    judged_from: float | None = None  # the window judged (unix seconds)
    judged_until: float | None = None
    evaluations: int = 0  # steps in the window
    min_seen: float | None = None
    max_seen: float | None = None
    violations: tuple[Evaluation, ...] = ()  # the first MAX_EVIDENCE violating evaluations
    violation_count: int = 0

    @property
    def name(self) -> str:
        return self.hypothesis.name

    def evidence(self) -> list[str]:
        """The violating evaluations in words, for the HTML and junit.xml."""
        lines = [f"{clock(e.at)} UTC: {'no data' if e.value is None else f'{e.value:.6g}'}"
                 for e in self.violations]
        if self.violation_count > len(self.violations):
            lines.append(f"... and {self.violation_count - len(self.violations)} more")
        return lines

    def to_json(self) -> dict[str, Any]:
        h = self.hypothesis
        return {
            "scenario": self.scenario, "name": h.name, "query": h.query,
            "window": h.window.value, "min": h.min, "max": h.max,
            "within_s": h.within if h.window is Window.AFTER else None,
            "verdict": "held" if self.held else "failed", "reason": self.reason,
            "judged_from": self.judged_from, "judged_until": self.judged_until,
            "evaluations": self.evaluations, "min_seen": _num(self.min_seen),
            "max_seen": _num(self.max_seen), "violation_count": self.violation_count,
            "violations": [e.to_json() for e in self.violations],
        }


def _num(x: float | None) -> float | str | None:
    """JSON has no infinities: +Inf (a histogram quantile beyond the top bucket) as text."""
    if x is None or math.isfinite(x):
        return x
    return "+Inf" if x > 0 else "-Inf"


def window_of(h: Hypothesis, injected_at: float, reverted_at: float | None,
              window_end: float) -> tuple[float, float] | str:
    """The [from, until] judged, or why there is none."""
    if h.window is Window.DURING:
        return injected_at, reverted_at if reverted_at is not None else window_end
    if reverted_at is None:
        return "the faults were never reverted within the report's window: nothing after it"
    lo = reverted_at + h.within
    if lo > window_end:
        return (f"the report's window ends {lo - window_end:.0f} s before the revert plus "
                f"within ({h.within:g} s): nothing to judge; extend it (--until, --after)")
    return lo, window_end


def _value_at(s: Series, t: float, step: float) -> float:
    """The series' value at grid point `t`; NaN when it has no point there."""
    i = bisect.bisect_left(s.times, t - step / 2)
    if i < len(s.times) and abs(s.times[i] - t) < step / 2:
        return s.values[i]
    return math.nan


def _ok(h: Hypothesis, value: float) -> bool:
    return (h.min is None or value >= h.min) and (h.max is None or value <= h.max)


def judge(scenario: str, h: Hypothesis, series: Sequence[Series] | str, injected_at: float,
          reverted_at: float | None, window_end: float, step: float = 1.0) -> Verdict:
    """Held when every evaluation of `h.query` in its window is within the bounds.

    `series`: the query's range results on the `step` grid over a span covering the window
    (one series, or none where it had no data), or the error that kept them from being read.
    The evaluations judged are the grid points in the window.
    """
    if isinstance(series, str):
        return Verdict(scenario, h, False, f"the query could not be evaluated: {series}")
    span = window_of(h, injected_at, reverted_at, window_end)
    if isinstance(span, str):
        return Verdict(scenario, h, False, span)
    lo, hi = span
    first = math.ceil(lo / step - 1e-9)
    times = [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]
    if not times:
        return Verdict(scenario, h, False, "no evaluation fell in the window "
                       f"{clock(lo)}-{clock(hi)} UTC (shorter than the report's step?)",
                       lo, hi)
    evaluations: list[Evaluation] = []
    for t in times:
        values = [v for s in series if not math.isnan(v := _value_at(s, t, step))]
        if len(values) > 1:
            labels = "; ".join(
                "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(s.labels.items())) + "}"
                for s in series[:3])
            return Verdict(scenario, h, False, (
                f"the query returned {len(values)} series at {clock(t)} UTC ({labels}), want "
                "one number: aggregate it, e.g. min(...) or sum(...)"), lo, hi, len(times))
        evaluations.append(Evaluation(t, values[0] if values else None))
    seen = [e.value for e in evaluations if e.value is not None]
    bad = [e for e in evaluations if e.value is None or not _ok(h, e.value)]
    lowest, highest = (min(seen), max(seen)) if seen else (None, None)
    where = ("while the faults were live" if h.window is Window.DURING
             else f"from {h.within:g} s after the revert to the window's end" if h.within
             else "from the revert to the window's end")
    measured = ("no values" if lowest is None
                else f"seen {lowest:.6g}..{highest:.6g}")
    if not bad:
        reason = f"all {len(evaluations)} evaluations {where} {h.bounds()} ({measured})"
    else:
        missing = sum(e.value is None for e in bad)
        what = f"{len(bad)} of {len(evaluations)} evaluations {where} not {h.bounds()}"
        if missing:
            what += f" ({missing} with no data: end the query with `or vector(0)` if empty is fine)"
        reason = f"{what}; first at {clock(bad[0].at)} UTC ({measured})"
    return Verdict(scenario, h, not bad, reason, lo, hi, len(evaluations), lowest, highest,
                   tuple(bad[:MAX_EVIDENCE]), len(bad))


def declared(obj: Mapping[str, Any]) -> tuple[Hypothesis, ...] | str:
    """The hypotheses of an OutageScenario object, or why they cannot be read."""
    spec = obj.get("spec") or {}
    try:
        return parse_hypotheses(spec.get("hypotheses") if isinstance(spec, Mapping) else None)
    except ScenarioError as exc:
        return str(exc)


def judge_declared(prom: Prometheus, windows: Sequence[Any], hypotheses: Mapping[str, Declared],
                   start: float, end: float, step: float) -> list[Verdict]:
    """Every declared hypothesis of every scenario window (`.key`, `.injected_at`,
    `.reverted_at`), each query evaluated over the report's window [start, end]; then every
    hypothesis of a scenario that never injected (`NotInjected`), failed."""
    verdicts: list[Verdict] = []
    cache: dict[str, list[Series] | str] = {}
    judged: set[str] = set()
    for w in windows:
        judged.add(w.key)
        declared_here = hypotheses.get(w.key, ())
        if isinstance(declared_here, NotInjected):  # injected after all (a re-applied name)
            declared_here = declared_here.hypotheses
        if isinstance(declared_here, str):
            bad = Hypothesis("(spec.hypotheses)", "", Window.DURING, min=0.0)
            verdicts.append(Verdict(w.key, bad, False, f"unreadable: {declared_here}"))
            continue
        for h in declared_here:
            if h.query not in cache:
                try:
                    cache[h.query] = prom.query_range(h.query, start, end, step)
                except PrometheusError as exc:
                    cache[h.query] = str(exc)
            verdicts.append(judge(w.key, h, cache[h.query], w.injected_at, w.reverted_at, end,
                                  step))
    for key, d in sorted(hypotheses.items()):
        if isinstance(d, NotInjected) and key not in judged:
            verdicts += [Verdict(key, h, False, f"never injected ({d.reason}): nothing to judge")
                         for h in d.hypotheses]
    return verdicts


def junit_xml(verdicts: Sequence[Verdict], suite: str = "chaoslab game day") -> str:
    """One testcase per hypothesis (classname: the scenario), a failure with the evidence."""
    failed = sum(not v.held for v in verdicts)
    root = ET.Element("testsuites", name=suite, tests=str(len(verdicts)), failures=str(failed))
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(verdicts)),
                       failures=str(failed), errors="0", skipped="0")
    for v in verdicts:
        case = ET.SubElement(ts, "testcase", classname=v.scenario, name=v.name)
        if v.held:
            ET.SubElement(case, "system-out").text = v.reason
        else:
            fail = ET.SubElement(case, "failure", message=v.reason, type="HypothesisFailed")
            fail.text = "\n".join([f"query: {v.hypothesis.query}",
                                   f"bound ({v.hypothesis.window.value}): "
                                   f"{v.hypothesis.bounds()}", v.reason, *v.evidence()])
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def summary_lines(verdicts: Sequence[Verdict]) -> list[str]:
    """What `chaoslab report` prints: one line a hypothesis, and a total."""
    if not verdicts:
        return ["Hypotheses: none declared (spec.hypotheses) in the scenarios of this window"]
    held = sum(v.held for v in verdicts)
    lines = [f"Hypotheses: {held} held, {len(verdicts) - held} failed"]
    lines += [f"  {'held  ' if v.held else 'FAILED'} {v.scenario}: {v.name}: {v.reason}"
              for v in verdicts]
    return lines
