"""How long from writing a new Corefile to the first query that shows the fault.

(a) reload by interval: the ``reload 2s 0s`` plugin notices the file; (b) reload by signal:
the writer sends SIGUSR1. Each uses its own CoreDNS (coredns#6263: after a SIGUSR1 the
reload plugin no longer applies changes). 20 rounds each; prints p50/p95/max against the
targets p95 < 2.5 s (interval) and < 0.5 s (signal). 127.0.0.1 only.

    .venv/bin/python benchmarks/dns_reload.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import random
import time

import dns.exception
import dns.rcode
from dns_common import ENDPOINTS, CoreDNS, percentiles, start_coredns

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import compile_corefile
from chaoslab_dns.validate import parse_spec

TARGET = "dynamodb.us-east-1.aws.internal"
SCENARIO = parse_spec(
    {"faults": [{"target": TARGET, "mode": "nxdomain"}], "duration": "1h"}, "bench", "reload"
).injected(time.time())
TARGETS = {"interval": 2.5, "signal": 0.5}


def wait_for(server: CoreDNS, rcode: int, limit: float = 10.0) -> float:
    """Seconds until a query answers with ``rcode`` (polled every ~2 ms)."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            if server.query(TARGET, timeout=0.2).rcode() == rcode:
                return time.monotonic() - start
        except dns.exception.DNSException:
            pass
        time.sleep(0.002)
    raise SystemExit(f"no {dns.rcode.to_text(rcode)} within {limit}s; see {server.proc.log}")


def measure(how: str, rounds: int) -> list[float]:
    samples = []
    with start_coredns(lambda p, m: local_corefile(p, m, ENDPOINTS, reload_plugin=True)) as server:
        base = server.corefile.read_text()
        faulted = compile_corefile(base, [SCENARIO])
        for _ in range(rounds):
            # Random phase, so interval reloads are not measured in lock-step with the tick.
            time.sleep(random.uniform(0, 2.0) if how == "interval" else 0.05)
            start = time.monotonic()
            server.corefile.write_text(faulted)
            if how == "signal":
                server.reload()
            wait_for(server, dns.rcode.NXDOMAIN)
            samples.append(time.monotonic() - start)
            server.corefile.write_text(base)  # revert, unmeasured
            if how == "signal":
                server.reload()
            wait_for(server, dns.rcode.NOERROR)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(f"Corefile write -> first faulted answer, {args.rounds} rounds each (CoreDNS, 127.0.0.1)")
    for how in ("interval", "signal"):
        stats = percentiles(measure(how, args.rounds))
        verdict = "OK" if stats["p95"] < TARGETS[how] else "MISSED"
        ms = {k: f"{v * 1000:8.1f} ms" for k, v in stats.items()}
        print(
            f"  reload by {how:8s}  p50 {ms['p50']}  p95 {ms['p95']}  max {ms['max']}"
            f"   target p95 < {TARGETS[how] * 1000:.0f} ms: {verdict}"
        )


if __name__ == "__main__":
    main()
