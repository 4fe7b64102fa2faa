"""The RPC rate one Locust process sustains, per core (target: >= 1,000 calls/s per core).

One headless Locust process (the lab's locustfile, gevent gRPC, the interceptor reporting
every call, the Prometheus exporter on) runs the `items` workflow (DynamoDB PutItem then
GetItem) with no pause between workflows, against one of:
- `dynamodb`: the services' real DynamoDB process (python -m chaoslab_services serve);
- `trivial`: a minimal gRPC server implementing PutItem/GetItem in 2 processes, so the
  target cannot be what limits the figure.
Calls/s comes from Locust's own statistics, CPU from the Locust process's CPU time, so
"per core" = calls per CPU-second of the load generator. Prints figures; not a test.

    .venv/bin/python benchmarks/loadtest_rate.py [--target both|dynamodb|trivial] [--seconds 15]
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path

import grpc
import psutil
import requests
import yaml

from chaoslab.procs import free_port, spawn, wait_until
from chaoslab_loadtest.runner import locust_command
from chaoslab_services.protos import dynamodb_pb2, dynamodb_pb2_grpc


class _Trivial(dynamodb_pb2_grpc.DynamoDBServicer):
    def PutItem(self, request, context):
        return dynamodb_pb2.PutItemResponse()

    def GetItem(self, request, context):
        return dynamodb_pb2.GetItemResponse(found=True, item=dynamodb_pb2.Item(pk=request.pk))


def _serve_trivial(port: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.so_reuseport", 1)])
    dynamodb_pb2_grpc.add_DynamoDBServicer_to_server(_Trivial(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


def start_target(kind: str, work: Path) -> tuple[list, str]:
    port = free_port()
    if kind == "trivial":
        procs = [multiprocessing.Process(target=_serve_trivial, args=(port,), daemon=True)
                 for _ in range(2)]
        for p in procs:
            p.start()
        time.sleep(1.0)
        return procs, f"127.0.0.1:{port}"
    http = free_port()
    endpoints = work / "endpoints.yaml"
    subprocess.run([sys.executable, "-m", "chaoslab_services", "endpoints", "--out",
                    str(endpoints), "--port", str(port)], check=True, timeout=60,
                   capture_output=True)
    proc = spawn("dynamodb", [sys.executable, "-m", "chaoslab_services", "serve", "--service",
                              "dynamodb", "--region", "us-east-1", "--listen",
                              f"127.0.0.1:{port}", "--http", f"127.0.0.1:{http}", "--dns",
                              "127.0.0.1:53", "--endpoints", str(endpoints)],
                 work / "dynamodb.log")
    wait_until("dynamodb", lambda: requests.get(f"http://127.0.0.1:{http}/readyz",
                                                timeout=1).ok, 30, [proc])
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        dynamodb_pb2_grpc.DynamoDBStub(ch).CreateTable(
            dynamodb_pb2.CreateTableRequest(table="customers"), timeout=5)
    return [proc], f"127.0.0.1:{port}"


def stop_target(procs: list) -> None:
    for p in procs:
        if isinstance(p, multiprocessing.Process):
            p.terminate()
            p.join(5)
        else:
            p.stop()


def run(kind: str, seconds: int, users: int) -> None:
    with tempfile.TemporaryDirectory(prefix="loadtest-rate-") as tmp:
        work = Path(tmp)
        procs, address = start_target(kind, work)
        try:
            cfg = work / "load.yaml"
            cfg.write_text(yaml.safe_dump({"targets": {"dynamodb.us-east-1": address},
                                           "customer_dns": "direct",
                                           "wait_time": [0, 0], "timeout": 5.0,
                                           "workflow_weights": {"items": 1, "signin": 0,
                                                                "invoke": 0, "metrics": 0}}))
            argv, env = locust_command(config=cfg, users=users, spawn_rate=users,
                                       run_time=f"{seconds}s", metrics_port=free_port(),
                                       csv_prefix=work / "run",
                                       extra=["--exit-code-on-error", "0", "--only-summary"])
            locust = spawn("locust", argv, work / "locust.log", env=env, cwd=work)
            ps = psutil.Process(locust.pid)
            cpu = 0.0
            while locust.alive():
                try:
                    t = ps.cpu_times()
                    cpu = t.user + t.system
                except psutil.Error:
                    break
                time.sleep(0.2)
            locust.popen.wait(timeout=60)
            with open(work / "run_stats.csv") as f:
                total = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
            calls, failures = int(total["Request Count"]), int(total["Failure Count"])
            rate = float(total["Requests/s"])
            target_cpu = _cpu(procs)
        finally:
            stop_target(procs)
    print(f"{kind:>8}: {rate:7.0f} calls/s from one Locust process ({users} users, no wait), "
          f"{calls:,} calls, {failures} failed; Locust CPU {cpu:.1f} s over ~{seconds} s "
          f"-> {calls / cpu if cpu else 0:,.0f} calls per CPU-second; target CPU {target_cpu}")


def _cpu(procs: list) -> str:
    total = 0.0
    for p in procs:
        try:
            t = psutil.Process(p.pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            return "?"
    return f"{total:.1f} s"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", choices=("both", "dynamodb", "trivial"), default="both")
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--users", type=int, default=50)
    args = p.parse_args()
    for kind in (("trivial", "dynamodb") if args.target == "both" else (args.target,)):
        run(kind, args.seconds, args.users)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
          "(other processes share these cores: figures are per CPU-second used)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
