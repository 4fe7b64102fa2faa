"""Cold start and memory of the local control plane (etcd + kube-apiserver).

Usage: .venv/bin/python benchmarks/controlplane_start.py [--rounds 5]
Start = process start to the first `/readyz` ok; memory = resident set of both processes
right after ready and after 10 s. Targets: under 15 s and under 1 GiB together on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from chaoslab import controlplane


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    starts, rss = [], []
    with tempfile.TemporaryDirectory(prefix="chaoslab-bench-") as tmp:
        for i in range(args.rounds):
            cp = controlplane.start(Path(tmp) / f"cp{i}")
            try:
                time.sleep(10)  # let the apiserver finish its post-start hooks
                mem = controlplane.resident_memory_bytes(cp.pids())
            finally:
                cp.stop()
            starts.append(cp.started_seconds)
            rss.append(mem)
            print(f"round {i + 1}: ready in {cp.started_seconds:.2f} s, "
                  f"resident {mem / 2**20:.0f} MiB (etcd + kube-apiserver)")
    print(f"cold start: median {statistics.median(starts):.2f} s, max {max(starts):.2f} s "
          f"(target < 15 s); resident memory: max {max(rss) / 2**20:.0f} MiB (target < 1024 MiB)")


if __name__ == "__main__":
    main()
