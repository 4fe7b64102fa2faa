"""How long `build_report` takes for a 10-minute game day (target: under 10 s).

Ten minutes of data are made in seconds, not minutes: the scripted cascade of
tests/report/synthetic_lab.py, stretched to 10 minutes (injection at 2:00, revert at 6:00),
is written as OpenMetrics with a timestamp per second and backfilled into a fresh TSDB with
`promtool tsdb create-blocks-from openmetrics` (Debian's prometheus package ships promtool);
the real Prometheus then serves those blocks and the report queries them at 1 s resolution,
exactly as after a real game day. Prints the figures; not a pass/fail test.

    .venv/bin/python benchmarks/report_speed.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "report"))

import synthetic_lab as lab  # noqa: E402
from report_common import synthetic_openmetrics, timed_report  # noqa: E402

from chaoslab_report.timeline import Fault, ScenarioWindow  # noqa: E402


def openmetrics(start: float, seconds: int, stretch: float) -> str:
    """The synthetic lab's metrics every second over [start, start + seconds)."""
    return synthetic_openmetrics(start, seconds, lambda i: i / stretch)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    args = p.parse_args()
    seconds = int(args.minutes * 60)
    stretch = seconds / lab.END

    def timeline(start: float) -> list[ScenarioWindow]:
        return [ScenarioWindow(*lab.SCENARIO, injected_at=start + lab.INJECT * stretch,
                               reverted_at=start + lab.REVERT * stretch, phase="Completed",
                               faults=(Fault("dynamodb.us-east-1.aws.internal", "nodata"),))]

    run = timed_report("report-speed-", seconds,
                       lambda start: openmetrics(start, seconds, stretch), timeline)
    report = run.report
    sc = report.scenarios[0]
    print(f"game day: {args.minutes:g} min at 1 s resolution, {len(report.tiers)} tiers, "
          f"{run.samples:,} samples backfilled (generated in {run.generated_s:.1f} s, promtool "
          f"{run.backfill_s:.1f} s)")
    print(f"build_report: {run.report_s:.2f} s  (target < 10 s)  "
          f"[blast radius {len(sc.degraded())} tiers, time to recovery "
          f"{sc.time_to_recovery_s or 0:.1f} s]")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
