"""Shared by the dns_* benchmarks: run the real CoreDNS on 127.0.0.1 and time its answers."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "dns"))  # run from a checkout without installing

import dns.exception  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402

from chaoslab.procs import free_port  # noqa: E402

COREDNS = ROOT / ".tools" / "bin" / "coredns"
ENDPOINTS = {
    "dynamodb.us-east-1.aws.internal": "127.0.0.21",
    "sqs.us-east-1.aws.internal": "127.0.0.22",
    "iam.aws.internal": "127.0.0.28",
}


class CoreDNS:
    """A CoreDNS process on fresh 127.0.0.1 ports; use as a context manager."""

    def __init__(self, render, binary: str | Path = COREDNS) -> None:
        if not Path(binary).exists():
            raise SystemExit(f"{binary} is missing: run `make tools`")
        self.port, self.metrics_port = free_port(), free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dns-bench-"))
        self.corefile = self.dir / "Corefile"
        self.corefile.write_text(render(self.port, self.metrics_port))
        self.log = (self.dir / "coredns.log").open("wb")
        self.proc = subprocess.Popen(
            [str(binary), "-conf", str(self.corefile)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                self.query("ready.invalid", timeout=0.2)
                break
            except dns.exception.DNSException:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise SystemExit(f"coredns did not start; see {self.dir}/coredns.log") from None

    def query(self, name: str, rdtype: str = "A", timeout: float = 1.0) -> dns.message.Message:
        q = dns.message.make_query(name, rdtype)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()

    def __enter__(self) -> CoreDNS:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": statistics.median(ordered), "p95": q[94], "max": ordered[-1]}
