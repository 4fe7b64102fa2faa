"""CoreDNS queries per second for a faulted (nxdomain) and an unfaulted name.

Load comes from separate processes: dnsperf when it is installed (Debian's ``dnsperf``),
otherwise worker processes that keep a window of raw UDP queries in flight. Each run is
bounded in time (default 5 s, at most 10 s) and targets 127.0.0.1 only. On a 2-core machine
the load generator and CoreDNS share the CPUs, so read the figures as relative.

    .venv/bin/python benchmarks/dns_qps.py [--seconds 5] [--loader auto|python|dnsperf]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import dns.message
from dns_common import ENDPOINTS, CoreDNS

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import compile_corefile
from chaoslab_dns.validate import parse_spec

FAULTED = "dynamodb.us-east-1.aws.internal"
UNFAULTED = "sqs.us-east-1.aws.internal"
SCENARIO = parse_spec(
    {"faults": [{"target": FAULTED, "mode": "nxdomain"}], "duration": "1h"}, "bench", "qps"
)
WINDOW = 32  # queries in flight per worker


def worker(port: int, name: str, seconds: float, out: mp.Queue) -> None:
    """Send WINDOW queries, read the answers, repeat until time is up; count answers by rcode."""
    wire = bytearray(dns.message.make_query(name, "A").to_wire())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(1.0)
    answered, rcodes, qid = 0, {}, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(WINDOW):
            qid = (qid + 1) & 0xFFFF
            struct.pack_into("!H", wire, 0, qid)
            sock.send(wire)
        try:
            for _ in range(WINDOW):
                reply = sock.recv(512)
                rcodes[reply[3] & 0x0F] = rcodes.get(reply[3] & 0x0F, 0) + 1
                answered += 1
        except TimeoutError:
            pass
    out.put((answered, rcodes))


def python_load(port: int, name: str, seconds: float, workers: int) -> tuple[float, dict[int, int]]:
    out: mp.Queue = mp.Queue()
    procs = [mp.Process(target=worker, args=(port, name, seconds, out)) for _ in range(workers)]
    start = time.monotonic()
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 30) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    elapsed = time.monotonic() - start
    rcodes: dict[int, int] = {}
    for _, rc in results:
        for k, v in rc.items():
            rcodes[k] = rcodes.get(k, 0) + v
    return sum(a for a, _ in results) / elapsed, rcodes


def dnsperf_load(port: int, name: str, seconds: float) -> tuple[float, dict[int, int]]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(f"{name} A\n")
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", f.name, "-l", str(seconds)]
    cmd += ["-c", "4", "-q", "200"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    os.unlink(f.name)
    qps = re.search(r"Queries per second:\s+([0-9.]+)", out.stdout)
    if not qps:
        raise SystemExit(out.stdout + out.stderr)
    rcodes = {
        {"NOERROR": 0, "NXDOMAIN": 3}[m[0]]: int(m[1])
        for m in re.findall(r"(NOERROR|NXDOMAIN) (\d+)", out.stdout)
    }
    return float(qps.group(1)), rcodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--loader", choices=["auto", "python", "dnsperf"], default="auto")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    seconds = min(args.seconds, 10.0)
    loader = args.loader
    if loader == "auto":
        loader = "dnsperf" if shutil.which("dnsperf") else "python"
    render = lambda p, m: compile_corefile(local_corefile(p, m, ENDPOINTS), [SCENARIO])  # noqa: E731
    with CoreDNS(render) as server:
        print(f"CoreDNS UDP queries/second, {seconds:g} s per name, loader: {loader}")
        for label, name, want in (("faulted (nxdomain)", FAULTED, 3), ("unfaulted", UNFAULTED, 0)):
            if loader == "dnsperf":
                qps, rcodes = dnsperf_load(server.port, name, seconds)
            else:
                qps, rcodes = python_load(server.port, name, seconds, args.workers)
            share = rcodes.get(want, 0) / max(1, sum(rcodes.values()))
            print(f"  {label:20s} {name:34s} {qps:10.0f} q/s   expected rcode: {share:6.1%}")


if __name__ == "__main__":
    main()
