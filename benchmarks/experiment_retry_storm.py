"""The full-size retry-storm comparison, with what each phase of `chaoslab experiment` cost.

Runs `chaoslab experiment` on scenarios/retry-storm.yaml (30 s NODATA for DynamoDB
us-east-1) under every profile, 100 s of observation after the DNS restore, a load cut
to 2 customers for any profile still failing then; prints the comparison table and the
wall time of each phase per profile. About 13 minutes on 2 cores.

    .venv/bin/python benchmarks/experiment_retry_storm.py [--out DIR] [--profiles a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from chaoslab.cli import main as chaoslab
from chaoslab.toolpaths import REPO_ROOT

PHASES = ("up", "warm-up", "fault", "observe", "relief", "report", "down")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="results folder (default: a temporary one)")
    parser.add_argument("--profiles", default="naive,backoff-jitter,resilient,resilient-stale")
    parser.add_argument("--observe", help="seconds after the restore (default: the "
                        "experiment's, 3x the fault + 10 s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chaoslab-storm-") as tmp:
        out = args.out or Path(tmp) / "retry-storm"
        observe = ["--observe", args.observe] if args.observe else []
        code = chaoslab(["experiment", "--scenario",
                         os.path.relpath(REPO_ROOT / "scenarios" / "retry-storm.yaml"),
                         "--profiles", args.profiles, *observe, "--relief-users", "2",
                         "--relief-observe", "60", "--out", str(out)])
        if code not in (0, 3):
            return code
        data = json.loads((out / "comparison.json").read_text())
    print("\nwall time per phase, seconds")
    print(f"{'profile':>16} " + " ".join(f"{p:>8}" for p in PHASES) + f" {'total':>8}")
    for run in data["runs"]:
        t = run["timings_s"]
        cells = [f"{t[p]:>8.1f}" if p in t else f"{'-':>8}" for p in PHASES]
        print(f"{run['label']:>16} " + " ".join(cells) + f" {sum(t.values()):>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
