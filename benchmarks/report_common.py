"""Shared by the report_* benchmarks: a long synthetic history backfilled into a real
Prometheus (promtool, in seconds, instead of scraping it for minutes), then `build_report`
over it, timed. Each benchmark writes its own series and timeline."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chaoslab.testkit import prometheus
from chaoslab_report.build import build_report
from chaoslab_report.model import Report
from chaoslab_report.timeline import ScenarioWindow


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
