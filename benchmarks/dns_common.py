"""Shared by the dns_* benchmarks: run the real CoreDNS on 127.0.0.1 and time its answers."""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "dns"))  # run from a checkout without installing

from chaoslab.procs import ComponentFailed  # noqa: E402
from chaoslab.testkit import coredns  # noqa: E402
from chaoslab.testkit.coredns import CoreDNS  # noqa: E402

COREDNS = ROOT / ".tools" / "bin" / "coredns"
ENDPOINTS = {
    "dynamodb.us-east-1.aws.internal": "127.0.0.21",
    "sqs.us-east-1.aws.internal": "127.0.0.22",
    "iam.aws.internal": "127.0.0.28",
}


def start_coredns(render: Callable[[int, int], str], binary: str | Path = COREDNS) -> CoreDNS:
    """A CoreDNS on fresh 127.0.0.1 ports in a folder of its own (use `with`); a benchmark
    exits naming what to do when it cannot start."""
    if not Path(binary).exists():
        raise SystemExit(f"{binary} is missing: run `make tools`")
    try:
        return coredns.launch(Path(tempfile.mkdtemp(prefix="dns-bench-")), render,
                              binary=binary)
    except ComponentFailed as exc:
        raise SystemExit(f"coredns did not start: {exc}") from None


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": statistics.median(ordered), "p95": q[94], "max": ordered[-1]}
