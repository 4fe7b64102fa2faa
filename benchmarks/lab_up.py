"""How long `chaoslab up --local` takes to all-healthy, and what the lab costs in memory.

Usage: .venv/bin/python benchmarks/lab_up.py [--rounds 2]
The first round is "cold" (fresh lab directory, nothing in the page cache from a previous
lab in this run), later rounds "warm". Targets: warm up under 30 s, resident memory of all
components together under 2 GiB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from chaoslab.controlplane import resident_memory_bytes
from chaoslab.local.runtime import LabOptions, LocalLab


def _tree_pids(roots: list[int]) -> list[int]:
    """The roots and every descendant (Locust and kopf may fork helpers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds under load before measuring memory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chaoslab-bench-") as tmp:
        for i in range(args.rounds):
            lab = LocalLab(LabOptions(lab_dir=Path(tmp) / "lab"), progress=lambda m: None)
            t0 = time.monotonic()
            state = lab.up()
            took = time.monotonic() - t0
            time.sleep(args.settle)
            rss = resident_memory_bytes(_tree_pids(list(state.pids.values())))
            lab.stop()
            kind = "cold" if i == 0 else "warm"
            print(f"round {i + 1} ({kind}): up to all-healthy {took:.1f} s; "
                  f"resident memory {rss / 2**20:.0f} MiB over {len(state.pids)} components "
                  f"after {args.settle:.0f} s of load")


if __name__ == "__main__":
    main()
