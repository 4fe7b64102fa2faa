"""How long the report takes for a 10-minute session of five scenarios (target: ≤ 10 s).

A session, not the demo's single scenario: the scripted cascade of
tests/report/synthetic_lab.py is played five times back to back (each stretched to a fifth
of the session; every replay restarts the counters, as a restarted process would), written
as OpenMetrics with a timestamp per second and backfilled into a fresh TSDB with
`promtool tsdb create-blocks-from openmetrics`; the real Prometheus then serves those
blocks. The five scenarios come as session-ledger entries (the JSON the operator writes),
so the timing covers reading the ledger, every query at 1 s resolution, the attribution
(impact windows, clean baselines, shared damage, per-edge amplification), the plots and
the HTML. Prints the figures; not a pass/fail test.

    .venv/bin/python benchmarks/report_session.py [--minutes 10] [--scenarios 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "report"))

import synthetic_lab as lab  # noqa: E402
from report_common import synthetic_openmetrics, timed_report  # noqa: E402

from chaoslab_report.timeline import from_ledger  # noqa: E402


def openmetrics(start: float, seconds: int, period: float) -> str:
    """The synthetic lab's metrics every second, its script replayed every `period` s; the
    operator's scenario metric left out (the ledger is the timeline here)."""
    stretch = period / lab.END
    return synthetic_openmetrics(start, seconds, lambda i: (i % period) / stretch,
                                 skip={"chaoslab_operator_scenario_active"})


def ledger(start: float, count: int, period: float) -> dict:
    """The ledger ConfigMap as `kubectl get configmaps -o json` returns it."""
    stretch = period / lab.END

    def t(x: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(x)) + f".{int(x % 1 * 1000):03d}Z"

    data = {}
    for k in range(count):
        base = start + k * period
        inj, rev = base + lab.INJECT * stretch, base + lab.REVERT * stretch
        data[f"uid-{k}"] = json.dumps({
            "namespace": "default", "name": f"scenario-{k}", "injectedAt": t(inj),
            "revertedAt": t(rev), "phase": "Completed", "deleting": k % 2 == 1,
            "faults": [{"target": "dynamodb.us-east-1.aws.internal", "mode": "nodata",
                        "probability": 1.0}]})
    return {"kind": "ConfigMap", "data": data}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--scenarios", type=int, default=5)
    args = p.parse_args()
    seconds = int(args.minutes * 60)
    period = seconds / args.scenarios
    run = timed_report("report-session-", seconds,
                       lambda start: openmetrics(start, seconds, period),
                       lambda start: from_ledger([ledger(start, args.scenarios, period)]))
    report = run.report
    print(f"session: {args.minutes:g} min at 1 s resolution, {len(report.scenarios)} scenarios, "
          f"{len(report.tiers)} tiers, {run.samples:,} samples backfilled (generated in "
          f"{run.generated_s:.1f} s, promtool {run.backfill_s:.1f} s)")
    print(f"report (ledger + queries + analysis + plots + HTML): {run.report_s:.2f} s  "
          f"(target <= 10 s)")
    for sc in report.scenarios:
        base = f"{sc.baseline.seconds:.0f} s" if sc.baseline else "none"
        print(f"  {sc.window.key}: blast radius {len(sc.degraded())} tiers, shared "
              f"{len(sc.shared())}, baseline {base}, impact window "
              f"{sc.eval_end - sc.window.injected_at:.0f} s, time to recovery "
              f"{sc.time_to_recovery_s or 0:.1f} s")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    return 0 if len(report.scenarios) == args.scenarios else 1


if __name__ == "__main__":
    raise SystemExit(main())
