"""CoreDNS queries per second and latency for faulted, unfaulted and client-scoped names.

Load comes from a separate process: dnsperf (Debian's ``dnsperf``, installed by ``make
tools``), the field's loader, or ``--loader python`` (worker processes keeping a window of
raw UDP queries in flight; no latency figures). Each run is bounded in time (default 5 s, at
most 10 s) and targets 127.0.0.1 only. On a 2-core machine the loader and CoreDNS share the
CPUs, so the CPU each used is printed beside its q/s, with which one saturated first.

``--rules N`` compiles N rules (N-1 for other names, sorted before the faulted one, so its
query is matched against every rule), each with its end (``until``). The same rules are then
run client-scoped (each with ``spec.faults[].clients.cidrs`` listing 8 loopback sources, the
loader's last, compiled by the real compiler into ``clients``): the
faulted name asked from inside the scope is faulted, asked from 127.0.0.9 (outside) it is
answered truly. ``--baseline BINARY`` also runs a CoreDNS built without rule ends on the
rules without their ``until`` (the before/after of that plugin change).

    .venv/bin/python benchmarks/dns_qps.py [--seconds 5] [--loader dnsperf|python]
        [--rules 16] [--baseline /tmp/before/coredns] [--rounds 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import resource
import shutil
import socket
import statistics
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dns.message
from dns_common import COREDNS, ENDPOINTS, CoreDNS, start_coredns

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import compile_corefile
from chaoslab_dns.validate import parse_spec

FAULTED = "dynamodb.us-east-1.aws.internal"
UNFAULTED = "sqs.us-east-1.aws.internal"
WINDOW = 32  # queries in flight per worker
UNTIL = re.compile(r" until \S+")
LATENCY_RATE = 5000  # q/s offered while latencies are recorded, well below saturation
INSIDE, OUTSIDE = "127.0.0.1", "127.0.0.9"  # the loader's source address, in and out of scope
SCOPE = ",".join([*(f"127.0.1.{i}" for i in range(1, 8)), INSIDE])


@dataclass
class Load:
    qps: float
    rcodes: dict[int, int]
    latencies: list[float]  # seconds, one per answered query (dnsperf only)


def scenario(rules: int, clients: list[str] | None = None):
    """`rules` faults: rules-1 for names sorting before FAULTED, then FAULTED; ending in 1 h;
    with `clients`, every fault scoped to those addresses (spec.faults[].clients.cidrs)."""
    scope = {"clients": {"cidrs": clients}} if clients else {}
    others = [{"target": f"a{i:02d}.us-east-1.aws.internal", "mode": "servfail", **scope}
              for i in range(rules - 1)]
    spec = {"faults": [*others, {"target": FAULTED, "mode": "nxdomain", **scope}],
            "duration": "1h"}
    return parse_spec(spec, "bench", "qps").injected(time.time())


def worker(port: int, name: str, seconds: float, source: str, out: mp.Queue) -> None:
    """Send WINDOW queries, read the answers, repeat until time is up; count answers by rcode."""
    wire = bytearray(dns.message.make_query(name, "A").to_wire())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
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


def python_load(port: int, name: str, seconds: float, source: str, workers: int) -> Load:
    out: mp.Queue = mp.Queue()
    procs = [mp.Process(target=worker, args=(port, name, seconds, source, out))
             for _ in range(workers)]
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
    return Load(sum(a for a, _ in results) / elapsed, rcodes, [])


def dnsperf_load(port: int, name: str, seconds: float, source: str,
                 rate: int | None = None) -> Load:
    """dnsperf from `source`: flat out for q/s, or at a fixed `rate` with every query's
    latency from its verbose lines (latency at saturation is only the queue's length)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(f"{name} A\n")
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-a", source, "-d", f.name,
           "-l", str(seconds), "-c", "4", "-q", "200"]
    if rate:
        cmd += ["-Q", str(rate), "-v"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    os.unlink(f.name)
    qps = re.search(r"Queries per second:\s+([0-9.]+)", out.stdout)
    if not qps:
        raise SystemExit(out.stdout[-2000:] + out.stderr)
    codes = {"NOERROR": 0, "SERVFAIL": 2, "NXDOMAIN": 3, "REFUSED": 5}
    summary = re.search(r"Response codes:\s+(.*)", out.stdout)
    rcodes = {codes.get(m[0], -1): int(m[1])
              for m in re.findall(r"([A-Z]+) (\d+) \(", summary[1] if summary else "")}
    latencies = [float(m) for m in re.findall(r"^> \w+ \S+ A ([0-9.]+)$", out.stdout,
                                               re.MULTILINE)]
    return Load(float(qps.group(1)), rcodes, latencies)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(server: CoreDNS, loader: str, name: str, seconds: float, source: str,
            workers: int) -> tuple[Load, float, float]:
    """One load run: the load, and the CPU cores CoreDNS and the loader each kept busy."""
    dns_before, load_before, start = cpu_seconds(server.proc.pid), children_cpu(), time.monotonic()
    if loader == "dnsperf":
        load = dnsperf_load(server.port, name, seconds, source)
    else:
        load = python_load(server.port, name, seconds, source, workers)
    elapsed = time.monotonic() - start
    dns_cpu = (cpu_seconds(server.proc.pid) - dns_before) / elapsed
    load_cpu = (children_cpu() - load_before) / elapsed
    if loader == "dnsperf":
        load.latencies = dnsperf_load(server.port, name, min(seconds, 3.0), source,
                                      rate=LATENCY_RATE).latencies
    return load, dns_cpu, load_cpu


def ms(latencies: list[float], q: float) -> str:
    if not latencies:
        return "     -"
    ordered = sorted(latencies)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:6.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--loader", choices=["dnsperf", "python"], default="dnsperf")
    parser.add_argument("--workers", type=int, default=2, help="python loader processes")
    parser.add_argument("--rules", type=int, default=16, choices=range(1, 17), metavar="1..16")
    parser.add_argument("--baseline", metavar="BINARY", help="CoreDNS without rule ends")
    parser.add_argument("--rounds", type=int, default=1, choices=range(1, 6), metavar="1..5")
    args = parser.parse_args()
    seconds = min(args.seconds, 10.0)
    if args.loader == "dnsperf" and not shutil.which("dnsperf"):
        raise SystemExit("dnsperf is not installed: run `make tools` (or --loader python)")
    faults = scenario(args.rules)
    scoped_faults = scenario(args.rules, SCOPE.split(","))
    render = lambda p, m: compile_corefile(local_corefile(p, m, ENDPOINTS), [faults])  # noqa: E731
    render_scoped = lambda p, m: compile_corefile(  # noqa: E731
        local_corefile(p, m, ENDPOINTS), [scoped_faults])
    faulted = ("faulted (nxdomain)", FAULTED, 3, INSIDE)
    unfaulted = ("unfaulted", UNFAULTED, 0, INSIDE)
    variants = [
        ("unscoped", str(COREDNS), render, [faulted, unfaulted]),
        ("scoped", str(COREDNS), render_scoped,
         [faulted, ("faulted, out of scope", FAULTED, 0, OUTSIDE), unfaulted]),
    ]
    if args.baseline:
        strip = lambda p, m: UNTIL.sub("", render(p, m))  # noqa: E731
        variants.insert(0, ("baseline", args.baseline, strip, [faulted, unfaulted]))
    results: dict[tuple[str, str], list[float]] = {}
    print(f"CoreDNS UDP, {seconds:g} s per row, {args.rules} rule(s), loader: {args.loader}, "
          f"{args.rounds} round(s), {os.cpu_count()} CPUs; q/s flat out, latency at "
          f"{LATENCY_RATE} q/s")
    print(f"  {'rules':9s} {'query':24s} {'q/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} "
          f"{'rcode ok':>8s} {'CoreDNS':>8s} {'loader':>7s}  (CPU cores busy)")
    busiest: dict[str, float] = {"CoreDNS": 0.0, "loader": 0.0}
    for _ in range(args.rounds):
        for variant, binary, text, rows in variants:
            with start_coredns(text, binary=binary) as server:
                for label, name, want, source in rows:
                    load, dns_cpu, load_cpu = measure(server, args.loader, name, seconds,
                                                      source, args.workers)
                    share = load.rcodes.get(want, 0) / max(1, sum(load.rcodes.values()))
                    results.setdefault((variant, label), []).append(load.qps)
                    busiest["CoreDNS"] = max(busiest["CoreDNS"], dns_cpu)
                    busiest["loader"] = max(busiest["loader"], load_cpu)
                    print(f"  {variant:9s} {label:24s} {load.qps:8.0f} {ms(load.latencies, .5)} "
                          f" {ms(load.latencies, .99)} {share:8.1%} {dns_cpu:8.2f} {load_cpu:7.2f}")
    print("median q/s, scoped / unscoped (the issue's bound: within 15 %):")
    for label in ("faulted (nxdomain)", "unfaulted"):
        before = statistics.median(results[("unscoped", label)])
        after = statistics.median(results[("scoped", label)])
        print(f"  {label:24s} {before:10.0f} -> {after:10.0f}   {after / before - 1:+6.1%}")
    if args.baseline:
        print("median q/s, with rule ends / baseline:")
        for label in ("faulted (nxdomain)", "unfaulted"):
            before = statistics.median(results[("baseline", label)])
            after = statistics.median(results[("unscoped", label)])
            print(f"  {label:24s} {before:10.0f} -> {after:10.0f}   {after / before - 1:+6.1%}")
    cap = {"CoreDNS": float(os.cpu_count() or 1),
           "loader": 1.0 if args.loader == "dnsperf" else float(args.workers)}
    first = max(busiest, key=lambda k: busiest[k] / cap[k])
    print(f"saturates first: {first} ({busiest[first]:.2f} of {cap[first]:g} core(s) it can use; "
          f"CoreDNS peaked at {busiest['CoreDNS']:.2f}, the loader at {busiest['loader']:.2f})")


if __name__ == "__main__":
    main()
