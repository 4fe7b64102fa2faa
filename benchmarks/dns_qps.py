"""CoreDNS queries per second for a faulted (nxdomain) and an unfaulted name.

Load comes from separate processes: dnsperf when it is installed (Debian's ``dnsperf``),
otherwise worker processes that keep a window of raw UDP queries in flight. Each run is
bounded in time (default 5 s, at most 10 s) and targets 127.0.0.1 only. On a 2-core machine
the load generator and CoreDNS share the CPUs, so read the figures as relative.

``--rules N`` compiles N rules (N-1 for other names, sorted before the faulted one, so its
query is matched against every rule), each with its end (``until``). ``--baseline BINARY``
runs a CoreDNS built without rule ends in the same run, alternating with ``.tools/bin``'s,
on the same rules without their ``until`` (a before/after of the plugin change).

    .venv/bin/python benchmarks/dns_qps.py [--seconds 5] [--loader auto|python|dnsperf]
        [--rules 16] [--baseline /tmp/before/coredns] [--rounds 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import tempfile
import time

import dns.message
from dns_common import COREDNS, ENDPOINTS, CoreDNS

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import compile_corefile
from chaoslab_dns.validate import parse_spec

FAULTED = "dynamodb.us-east-1.aws.internal"
UNFAULTED = "sqs.us-east-1.aws.internal"
WINDOW = 32  # queries in flight per worker
UNTIL = re.compile(r" until \S+")


def scenario(rules: int):
    """`rules` faults: rules-1 for names sorting before FAULTED, then FAULTED; ending in 1 h."""
    others = [{"target": f"a{i:02d}.us-east-1.aws.internal", "mode": "servfail"}
              for i in range(rules - 1)]
    spec = {"faults": [*others, {"target": FAULTED, "mode": "nxdomain"}], "duration": "1h"}
    return parse_spec(spec, "bench", "qps").injected(time.time())


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


def measure(server: CoreDNS, loader: str, name: str, seconds: float, workers: int
            ) -> tuple[float, dict[int, int]]:
    if loader == "dnsperf":
        return dnsperf_load(server.port, name, seconds)
    return python_load(server.port, name, seconds, workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--loader", choices=["auto", "python", "dnsperf"], default="auto")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rules", type=int, default=1, choices=range(1, 17), metavar="1..16")
    parser.add_argument("--baseline", metavar="BINARY", help="CoreDNS without rule ends")
    parser.add_argument("--rounds", type=int, default=1, choices=range(1, 6), metavar="1..5")
    args = parser.parse_args()
    seconds = min(args.seconds, 10.0)
    loader = args.loader
    if loader == "auto":
        loader = "dnsperf" if shutil.which("dnsperf") else "python"
    faults = scenario(args.rules)
    render = lambda p, m: compile_corefile(local_corefile(p, m, ENDPOINTS), [faults])  # noqa: E731
    builds = [("with ends", str(COREDNS), render)]
    if args.baseline:
        strip = lambda p, m: UNTIL.sub("", render(p, m))  # noqa: E731
        builds.insert(0, ("baseline", args.baseline, strip))
    names = (("faulted (nxdomain)", FAULTED, 3), ("unfaulted", UNFAULTED, 0))
    results: dict[tuple[str, str], list[float]] = {}
    print(f"CoreDNS UDP queries/second, {seconds:g} s per name, {args.rules} rule(s), "
          f"loader: {loader}, {args.rounds} round(s)")
    for _ in range(args.rounds):
        for build, binary, text in builds:
            with CoreDNS(text, binary=binary) as server:
                for label, name, want in names:
                    qps, rcodes = measure(server, loader, name, seconds, args.workers)
                    share = rcodes.get(want, 0) / max(1, sum(rcodes.values()))
                    results.setdefault((build, label), []).append(qps)
                    print(f"  {build:10s} {label:20s} {name:34s} {qps:10.0f} q/s   "
                          f"expected rcode: {share:6.1%}")
    if len(builds) > 1:
        print("median q/s (after / before):")
        for label, _, _ in names:
            before = statistics.median(results[("baseline", label)])
            after = statistics.median(results[("with ends", label)])
            print(f"  {label:20s} {before:10.0f} -> {after:10.0f}   {after / before - 1:+6.1%}")


if __name__ == "__main__":
    main()
