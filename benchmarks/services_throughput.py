"""Throughput and latency of the service tiers, no fault (prints figures).

Starts a lab (CoreDNS + the us-east-1 tiers and IAM as real processes), seeds it, then:
  1. DynamoDB GetItem alone, closed loop          target >= 1,000 req/s
  2. Lambda Invoke through the whole chain at a fixed 250 req/s (open loop, latency
     measured from the scheduled send time, so queueing is not hidden)
                                                  target p99 < 50 ms, no errors
  3. Lambda Invoke closed loop: the chain's maximum throughput
                                                  target >= 250 req/s
The load runs in separate client processes so the client is not the bottleneck.
Bounded: about 3 x --duration seconds plus ~10 s of start-up.

    .venv/bin/python benchmarks/services_throughput.py [--duration 8] [--check]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc

from chaoslab.testkit import services as testlab
from chaoslab_services.bootstrap import customer_credentials
from chaoslab_services.protos import (
    dynamodb_pb2,
    dynamodb_pb2_grpc,
    lambda_pb2,
    lambda_pb2_grpc,
)

# Enough customers that two in-flight invocations rarely increment the same counter (an
# optimistic-concurrency conflict costs a re-read and a re-write, as it would on DynamoDB).
CUSTOMERS = 256


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """utime + stime of each process (Linux /proc), to show where the CPU goes."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            out[name] = 0.0
    return out


def _calls(kind: str, address: str, tokens: list[str], worker: int):
    channel = grpc.aio.insecure_channel(address)
    if kind == "getitem":
        stub = dynamodb_pb2_grpc.DynamoDBStub(channel)
        reqs = [dynamodb_pb2.GetItemRequest(table="customers", pk=customer_credentials(i)[0])
                for i in range(CUSTOMERS)]
        return channel, stub.GetItem, reqs
    stub = lambda_pb2_grpc.LambdaStub(channel)
    reqs = [lambda_pb2.InvokeRequest(token=tokens[i], function="order-counter",
                                     payload={"customer": customer_credentials(i)[0]})
            for i in range(worker, CUSTOMERS, 2)]
    return channel, stub.Invoke, reqs


async def _closed(kind, address, tokens, worker, concurrency, duration):
    channel, fn, reqs = _calls(kind, address, tokens, worker)
    lat: list[float] = []
    errors: dict[str, int] = {}
    end = time.perf_counter() + duration

    async def loop(i: int) -> None:
        n = i
        while time.perf_counter() < end:
            t = time.perf_counter()
            try:
                await fn(reqs[n % len(reqs)], timeout=5)
                lat.append(time.perf_counter() - t)
            except grpc.aio.AioRpcError as err:
                errors[err.code().name] = errors.get(err.code().name, 0) + 1
            n += concurrency

    await asyncio.gather(*(loop(i) for i in range(concurrency)))
    await channel.close()
    return lat, errors


async def _open(kind, address, tokens, worker, rate, duration):
    channel, fn, reqs = _calls(kind, address, tokens, worker)
    lat: list[float] = []
    errors: dict[str, int] = {}
    start = time.perf_counter() + 0.2
    tasks = []

    async def one(req, scheduled: float) -> None:
        try:
            await fn(req, timeout=5)
            lat.append(time.perf_counter() - scheduled)
        except grpc.aio.AioRpcError as err:
            errors[err.code().name] = errors.get(err.code().name, 0) + 1

    for n in range(int(rate * duration)):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(reqs[n % len(reqs)], scheduled)))
    await asyncio.gather(*tasks)
    await channel.close()
    return lat, errors


def _worker(args):
    mode, kind, address, tokens, worker, param, duration = args
    os.environ["GRPC_VERBOSITY"] = "ERROR"
    runner = _closed if mode == "closed" else _open
    return asyncio.run(runner(kind, address, tokens, worker, param, duration))


def run(pool, mode, kind, address, tokens, processes, param, duration, pids=None) -> dict:
    per = param if mode == "closed" else param / processes
    before, started = cpu_seconds(pids or {}), time.perf_counter()
    results = pool.map(_worker, [(mode, kind, address, tokens, w, per, duration)
                                 for w in range(processes)])
    elapsed = time.perf_counter() - started
    after = cpu_seconds(pids or {})
    cpu = {k: round(100 * (after[k] - before[k]) / elapsed) for k in after}
    lat = sorted(x for r in results for x in r[0])
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r[1].items():
            errors[k] = errors.get(k, 0) + v
    if not lat:
        return {"rps": 0.0, "p50_ms": None, "p99_ms": None, "errors": errors, "cpu_pct": cpu}
    return {
        "rps": round(len(lat) / duration, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 1),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
        "errors": errors,
        "cpu_pct": cpu,  # of one core, per lab process, during the phase
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per phase")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="svc-bench-") as tmp:
        lab = testlab.Lab(Path(tmp), without=("ec2",))
        try:
            lab.start()
            lab.bootstrap(customers=CUSTOMERS)
            tokens = lab.customer_tokens(CUSTOMERS)
            pids = {k: p.proc.pid for k, p in lab.procs.items()}
            pids["coredns"] = lab.dns.proc.pid
            load_before = os.getloadavg()[0]
            ctx = mp.get_context("spawn")
            with ctx.Pool(args.processes) as pool:
                ddb = lab.address("dynamodb.us-east-1")
                lam = lab.address("lambda.us-east-1")
                run(pool, "closed", "invoke", lam, tokens, 1, 4, 1.0)  # warm-up: cold starts
                # GetItem's client costs as much CPU as the server: several client processes.
                # An Invoke costs the lab ~10 RPC ends per client RPC: one client suffices.
                figures = {
                    "getitem_closed": run(pool, "closed", "getitem", ddb, tokens,
                                          args.processes, 16, args.duration, pids),
                    "invoke_open_250": run(pool, "open", "invoke", lam, tokens,
                                           1, 250, args.duration, pids),
                    "invoke_closed": run(pool, "closed", "invoke", lam, tokens,
                                         1, 16, args.duration, pids),
                }
        finally:
            lab.stop()

    g, o, c = figures["getitem_closed"], figures["invoke_open_250"], figures["invoke_closed"]
    checks = {
        "GetItem >= 1000/s": g["rps"] >= 1000,
        "Invoke >= 250/s": c["rps"] >= 250,
        "Invoke p99 < 50 ms at 250/s": o["p99_ms"] is not None and o["p99_ms"] < 50
        and not o["errors"],
    }
    print(f"{'phase':34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  errors")
    rows = [(f"DynamoDB GetItem (closed, {args.processes}x16)", g),
            ("Lambda Invoke (open loop 250/s)", o), ("Lambda Invoke (closed, 1x16)", c)]
    for name, f in rows:
        print(f"{name:34} {f['rps']:>8} {f['p50_ms']!s:>8} {f['p99_ms']!s:>8}  "
              f"{f['errors'] or '-'}")
    for name, f in rows:
        busy = {k: v for k, v in f["cpu_pct"].items() if v}
        print(f"  CPU % of a core during '{name}': {busy} (sum {sum(busy.values())})")
    print(f"load average before the run: {load_before:.1f} on {os.cpu_count()} cores "
          "(other work on the machine shows up as latency)")
    for name, ok in checks.items():
        print(f"target {name:32} {'met' if ok else 'MISSED'}")
    if args.json:
        print(json.dumps({"figures": figures, "targets": checks}, indent=2))
    return 1 if args.check and not all(checks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
