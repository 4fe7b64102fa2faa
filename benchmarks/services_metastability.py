"""Does a naive retry storm outlive the DNS fault, while jitter + budget recovers? (prints figures)

For each profile (every service of the lab on that profile): open-loop Lambda Invokes at
--rate per second from customer tokens issued before the fault; an empty answer (nodata)
for dynamodb.us-east-1.aws.internal from --fault-at to --fault-at + --fault-for seconds;
then the same load on healthy DNS. Prints the success rate per window: a metastable
failure is a success rate that stays low after the DNS fault is gone. Bounded: about
--total seconds per profile plus start-up.

    .venv/bin/python benchmarks/services_metastability.py [--profiles naive,resilient]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import grpc

from chaoslab.testkit import services as testlab
from chaoslab_services.bootstrap import customer_credentials
from chaoslab_services.protos import lambda_pb2, lambda_pb2_grpc

DDB = "dynamodb.us-east-1.aws.internal"
CUSTOMERS = 32


async def load(address: str, tokens: list[str], rate: float, total: float,
               on_tick) -> list[tuple[float, bool]]:
    """(scheduled second, ok) for each request; ``on_tick(t)`` runs once per second."""
    channel = grpc.aio.insecure_channel(address)
    stub = lambda_pb2_grpc.LambdaStub(channel)
    results: list[tuple[float, bool]] = []
    start = time.perf_counter() + 0.2
    tasks = []

    async def one(n: int, offset: float) -> None:
        req = lambda_pb2.InvokeRequest(token=tokens[n % len(tokens)], function="profile-read",
                                       payload={"customer": customer_credentials(
                                           n % len(tokens))[0]})
        try:
            await stub.Invoke(req, timeout=2.0)
            results.append((offset, True))
        except grpc.aio.AioRpcError:
            results.append((offset, False))

    second = -1
    for n in range(int(rate * total)):
        offset = n / rate
        delay = start + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if int(offset) != second:
            second = int(offset)
            await asyncio.get_running_loop().run_in_executor(None, on_tick, second)
        tasks.append(asyncio.ensure_future(one(n, offset)))
    await asyncio.gather(*tasks)
    await channel.close()
    return results


def run_profile(profile: str, args: argparse.Namespace
                ) -> tuple[list[tuple[float, bool]], dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix=f"svc-meta-{profile}-") as tmp:
        lab = testlab.Lab(Path(tmp), profile=profile, ttl=5, without=("ec2",))
        try:
            lab.start()
            lab.bootstrap(customers=CUSTOMERS)
            tokens = lab.customer_tokens(CUSTOMERS)

            def tick(second: int) -> None:
                if second == args.fault_at:
                    lab.dns.set_faults(testlab.nodata(DDB), probe=DDB,
                                       expect=lambda rc, ips: not ips)
                if second == args.fault_at + args.fault_for:
                    lab.dns.set_faults("", probe=DDB, expect=lambda rc, ips: bool(ips))

            results = asyncio.run(load(lab.address("lambda.us-east-1"), tokens, args.rate,
                                       args.total, tick))
            iam, lam = lab.procs["iam"], lab.procs["lambda.us-east-1"]
            state = {
                "iam queue depth at end": iam.metric("chaoslab_service_queue_depth"),
                "iam shed": iam.metric("chaoslab_service_shed_total"),
                "iam Authorize served": iam.metric("chaoslab_service_requests_total",
                                                   method="Authorize"),
                "lambda->iam attempts": lam.metric("chaoslab_service_dependency_attempts_total",
                                                   dependency="iam"),
                "lambda->iam budget_exhausted": lam.metric(
                    "chaoslab_service_dependency_calls_total", dependency="iam",
                    outcome="budget_exhausted"),
                "lambda->iam breaker_open": lam.metric(
                    "chaoslab_service_dependency_calls_total", dependency="iam",
                    outcome="breaker_open"),
            }
            return results, state
        finally:
            lab.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", default="naive,resilient")
    parser.add_argument("--rate", type=float, default=200.0, help="Invokes per second")
    parser.add_argument("--total", type=float, default=50.0, help="seconds of load")
    parser.add_argument("--fault-at", type=int, default=10)
    parser.add_argument("--fault-for", type=int, default=10)
    parser.add_argument("--window", type=int, default=5, help="seconds per printed window")
    args = parser.parse_args()

    table, states = {}, {}
    for profile in args.profiles.split(","):
        results, states[profile] = run_profile(profile, args)
        windows = {}
        for offset, ok in results:
            w = int(offset) // args.window
            good, n = windows.get(w, (0, 0))
            windows[w] = (good + ok, n + 1)
        table[profile] = windows
    end_fault = args.fault_at + args.fault_for
    print(f"success rate per {args.window}s window (fault {args.fault_at}-{end_fault}s)")
    print(f"{'window':>10} " + " ".join(f"{p:>16}" for p in table))
    for w in range(int(args.total) // args.window):
        label = f"{w * args.window}-{(w + 1) * args.window}s"
        cells = []
        for windows in table.values():
            good, n = windows.get(w, (0, 0))
            cells.append(f"{(100.0 * good / n if n else 0):>15.1f}%")
        print(f"{label:>10} " + " ".join(cells))
    for profile, state in states.items():
        print(f"{profile}: " + ", ".join(f"{k} {v:.0f}" for k, v in state.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
