"""Shared by the report_* benchmarks: a long synthetic history backfilled into a real
Prometheus (promtool, in seconds, instead of scraping it for minutes), then `build_report`
over it, timed. Each benchmark writes its own series and timeline."""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "report"))

import synthetic_lab as lab

from chaoslab.testkit import prometheus
from chaoslab_report.build import build_report
from chaoslab_report.model import Report
from chaoslab_report.timeline import ScenarioWindow

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$")


def synthetic_openmetrics(start: float, seconds: int, script_time: Callable[[int], float],
                          skip: Collection[str] = ()) -> str:
    """The synthetic lab's metrics at each second `i` of [start, start + seconds), as its
    script stands at `script_time(i)`, grouped by family as OpenMetrics requires, plus `up`
    for the scrape times the report reads; metrics named in `skip` left out."""
    families: dict[str, list[str]] = {}
    headers: dict[str, list[str]] = {}
    current = ""
    for i in range(seconds):
        ts = start + i
        for line in lab.render(script_time(i)).splitlines():
            if line.startswith("#"):
                current = line.split()[2]
                if line.startswith("# TYPE"):
                    headers.setdefault(current, [line])
                continue
            m = SAMPLE.match(line)
            if m is None or m[1] in skip:
                continue
            labels = ",".join(filter(None, (m[2], 'instance="bench"', 'job="lab"')))
            families.setdefault(current, []).append(f"{m[1]}{{{labels}}} {m[3]} {ts:.3f}")
        families.setdefault("up", []).append(f'up{{instance="bench",job="lab"}} 1 {ts:.3f}')
    headers["up"] = ["# TYPE up gauge"]
    out = []
    for family, lines in families.items():
        out.extend(headers.get(family, []))
        out.extend(lines)
    out.append("# EOF")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Timed:
    report: Report
    samples: int  # lines of OpenMetrics backfilled
    generated_s: float  # writing the series
    backfill_s: float  # promtool
    report_s: float  # the timeline and build_report: what a user waits for


def timed_report(prefix: str, seconds: int, openmetrics: Callable[[float], str],
                 timeline: Callable[[float], Sequence[ScenarioWindow]]) -> Timed:
    """`openmetrics(start)` over `seconds` that ended ten minutes ago, backfilled, and the
    report of `timeline(start)` over them, each step timed."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(tmp)
        start = float(int(time.time() - seconds - 600))  # ended ten minutes ago
        t = time.perf_counter()
        text = openmetrics(start)
        generated = time.perf_counter() - t
        t = time.perf_counter()
        data = prometheus.backfill(text, work)
        backfill = time.perf_counter() - t
        prom = prometheus.start(work / "prom", {}, data_dir=data)
        try:
            t = time.perf_counter()
            report = build_report(prom.url, timeline(start), work / "out", start=start,
                                  end=start + seconds, hold=10.0)
            elapsed = time.perf_counter() - t
        finally:
            prom.stop()
    return Timed(report, text.count("\n") - 1, generated, backfill, elapsed)
