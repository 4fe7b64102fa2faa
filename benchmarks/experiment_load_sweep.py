"""At what load does a naive retry storm become metastable? (prints one row per load)

Runs `chaoslab experiment` for one profile (default naive) at several customer counts
with the same fault (NODATA for DynamoDB us-east-1, default 20 s) and prints, per count,
how long after the DNS restore the tiers came back by themselves (if they did), whether
that makes the failure metastable, and the customers' error share. A metastable failure
has a threshold: below it the same fault heals on its own, above it the retried work
alone keeps the tier overloaded. Each row is one fresh lab, about 2 minutes on 2 cores.

    .venv/bin/python benchmarks/experiment_load_sweep.py [--users 5,10,15,20] [--profile naive]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="5,10,15,20")
    parser.add_argument("--profile", default="naive")
    parser.add_argument("--fault-duration", default="20s")
    parser.add_argument("--observe", default="60")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="chaoslab-sweep-") as tmp:
        for users in (int(u) for u in args.users.split(",")):
            out = Path(tmp) / f"users-{users}"
            code = chaoslab(["experiment", "--scenario",
                             os.path.relpath(REPO_ROOT / "scenarios" / "retry-storm.yaml"),
                             "--profiles", args.profile, "--users", str(users),
                             "--fault-duration", args.fault_duration,
                             "--observe", args.observe, "--warmup", "15", "--out", str(out)])
            if code not in (0, 3):
                return code
            row = json.loads((out / "comparison.json").read_text())["profiles"][0]
            rows.append((users, row))
    print(f"\n{args.profile}: NODATA on dynamodb.us-east-1 for {args.fault_duration}, "
          f"{args.observe} s observed after the restore")
    print(f"{'customers':>10} {'recovery':>14} {'metastable':>11} {'customer errors':>16}")
    for users, row in rows:
        rec = (f"{row['recovery_s']:.0f} s" if row["recovered_by"] == "itself"
               else f"none in {row['observed_s']:.0f} s")
        errors = row["customer_errors"]
        print(f"{users:>10} {rec:>14} {'yes' if row['metastable'] else 'no':>11} "
              f"{'n/a' if errors is None else f'{errors:.1%}':>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
