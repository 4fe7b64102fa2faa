"""Real Locust, headless, against real gRPC servers: calls reach Locust's statistics and the
Prometheus exporter, standalone and as a master with two local workers."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import fake_front_doors
import grpc
import pytest
import requests
import yaml

from chaoslab.procs import Proc, free_port, spawn, wait_until
from chaoslab_loadtest.runner import locust_command
from chaoslab_services.protos import dynamodb_pb2, dynamodb_pb2_grpc

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")


def parse_metrics(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(samples: dict, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, lb), v in samples.items() if n == name and want <= lb)


def read_stats(prefix: Path) -> dict[str, dict[str, str]]:
    with open(f"{prefix}_stats.csv") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


def run_until_exit(main: Proc, metrics_port: int, timeout: float,
                   keep: Callable[[dict], bool]) -> dict:
    """Scrapes the exporter while Locust runs; returns the last scrape `keep` accepted."""
    last: dict = {}
    deadline = time.monotonic() + timeout
    while main.alive() and time.monotonic() < deadline:
        try:
            body = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1).text
            samples = parse_metrics(body)
            if keep(samples):
                last = samples
        except requests.RequestException:
            pass
        time.sleep(0.25)
    assert main.popen.wait(timeout=30) == 0, main.log.read_text()[-3000:]
    return last


def test_headless_standalone_reports_every_workflow(tmp_path: Path) -> None:
    doors = fake_front_doors.start()
    try:
        cfg = tmp_path / "load.yaml"
        cfg.write_text(yaml.safe_dump({
            "targets": fake_front_doors.targets(doors.address), "customer_dns": "direct",
            "regions": ["us-east-1", "us-west-2"],
            "wait_time": [0.05, 0.15],
            "workflow_weights": {"signin": 1, "invoke": 2, "metrics": 1, "items": 1},
        }))
        metrics_port = free_port()
        argv, env = locust_command(config=cfg, users=10, spawn_rate=20, run_time="5s",
                                   metrics_port=metrics_port, csv_prefix=tmp_path / "run",
                                   extra=["--exit-code-on-error", "0"])
        main = spawn("locust", argv, tmp_path / "locust.log", env=env, cwd=tmp_path)
        try:
            samples = run_until_exit(main, metrics_port, 60,
                                     lambda s: metric(s, "chaoslab_loadtest_users") == 10)
        finally:
            main.stop()
    finally:
        doors.stop()

    stats = read_stats(tmp_path / "run")
    for name in ("signin/ConsoleLogin", "invoke/Invoke", "metrics/PutMetricData",
                 "metrics/DescribeAlarms", "items/PutItem", "items/GetItem"):
        assert name in stats, f"{name} missing from Locust stats: {sorted(stats)}"
        assert stats[name]["Type"] == "grpc"
        assert int(stats[name]["Request Count"]) > 0
    assert int(stats["invoke/Invoke"]["Failure Count"]) > 0  # the injected UNAVAILABLEs
    assert int(stats["items/PutItem"]["Failure Count"]) == 0
    # Locust counted what the server answered (calls cut off at the stop are not counted).
    served, counted = doors.calls.counts["PutItem"], int(stats["items/PutItem"]["Request Count"])
    assert 0.8 * served <= counted <= served

    assert samples, "the exporter never showed all 10 users"
    name = "chaoslab_loadtest_requests_total"
    for workflow in ("signin", "invoke", "metrics", "items"):
        for region in ("us-east-1", "us-west-2"):
            assert metric(samples, name, workflow=workflow, region=region, result="ok") > 0
    assert metric(samples, name, workflow="invoke", result="error") > 0
    assert metric(samples, name, workflow="items", result="error") == 0
    runs = metric(samples, name, workflow="items")
    count = metric(samples, "chaoslab_loadtest_request_duration_seconds_count", workflow="items")
    assert runs == count > 0


def _dynamodb(tmp_path: Path) -> tuple[Proc, str]:
    """The services' real DynamoDB process (no dependencies, so no DNS is needed)."""
    endpoints = tmp_path / "endpoints.yaml"
    port, http = free_port(), free_port()
    subprocess.run([sys.executable, "-m", "chaoslab_services", "endpoints", "--out",
                    str(endpoints), "--port", str(port)], check=True, timeout=60)
    proc = spawn("dynamodb", [
        sys.executable, "-m", "chaoslab_services", "serve", "--service", "dynamodb",
        "--region", "us-east-1", "--listen", f"127.0.0.1:{port}", "--http",
        f"127.0.0.1:{http}", "--dns", "127.0.0.1:53", "--endpoints", str(endpoints)],
        tmp_path / "dynamodb.log")
    wait_until("dynamodb /readyz", lambda: requests.get(
        f"http://127.0.0.1:{http}/readyz", timeout=1).status_code == 200, 30, [proc])
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        dynamodb_pb2_grpc.DynamoDBStub(channel).CreateTable(
            dynamodb_pb2.CreateTableRequest(table="customers"), timeout=5)
    return proc, f"127.0.0.1:{port}"


def test_master_with_two_workers_aggregates(tmp_path: Path) -> None:
    dynamodb, address = _dynamodb(tmp_path)
    procs: list[Proc] = [dynamodb]
    try:
        state = tmp_path / "state.json"  # the lab's contract: services -> front doors
        state.write_text(json.dumps({"services": {"dynamodb.us-east-1": address}}))
        metrics_port, master_port = free_port(), free_port()
        argv, env = locust_command(
            state_file=state, users=6, spawn_rate=20, run_time="6s", metrics_port=metrics_port,
            workflow_weights="items=1,signin=0,invoke=0,metrics=0", customer_dns="direct",
            role="master",
            master_port=master_port, expect_workers=2, csv_prefix=tmp_path / "run")
        master = spawn("master", argv, tmp_path / "master.log", env=env, cwd=tmp_path)
        procs.append(master)
        for i in range(2):
            wargv, wenv = locust_command(role="worker", master_port=master_port)
            procs.append(spawn(f"worker{i}", wargv, tmp_path / f"worker{i}.log", env=wenv,
                               cwd=tmp_path))
        samples = run_until_exit(master, metrics_port, 90,
                                 lambda s: metric(s, "chaoslab_loadtest_users") == 6)
        for worker in procs[2:]:
            assert worker.popen.wait(timeout=30) == 0, worker.log.read_text()[-2000:]
    finally:
        for p in reversed(procs):
            p.stop()

    log = (tmp_path / "master.log").read_text()
    assert "Sending spawn jobs of 6 users" in log and "to 2 ready workers" in log, log[-2000:]
    stats = read_stats(tmp_path / "run")
    put = int(stats["items/PutItem"]["Request Count"])
    assert put > 0 and int(stats["items/PutItem"]["Failure Count"]) == 0
    assert samples, "the master's exporter never showed the 6 users of both workers"
    exported = metric(samples, "chaoslab_loadtest_requests_total", workflow="items", result="ok")
    # The last scrape happens up to a report interval before the end: most runs, not all.
    assert 0.5 * put <= exported <= put


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/nope"])
def test_exporter_routes(path: str) -> None:
    from chaoslab_loadtest.metrics import LoadtestCollector, WorkflowStats, registry_for, wsgi_app

    app = wsgi_app(registry_for(LoadtestCollector(WorkflowStats(), lambda: 0)), lambda: True)
    seen: list[str] = []
    body = b"".join(app({"PATH_INFO": path}, lambda status, headers: seen.append(status)))
    assert seen[0].startswith("404" if path == "/nope" else "200") and body


def test_customers_stopped_mid_workflow_are_not_counted_as_errors(tmp_path: Path) -> None:
    """Fewer users in the web UI (or the experiment's load cut) stops customers mid-call;
    that is the load generator's doing, not a failure of the lab."""
    doors = fake_front_doors.start(invoke_fails_every=0, invoke_delay=1.0)
    cfg = tmp_path / "load.yaml"
    cfg.write_text(yaml.safe_dump({
        "targets": fake_front_doors.targets(doors.address), "regions": ["us-east-1"],
        "customer_dns": "direct",
        "wait_time": [0.0, 0.05], "workflow_weights": {"invoke": 1}}))
    web, metrics_port = free_port(), free_port()
    argv, env = locust_command(config=cfg, users=8, spawn_rate=50, headless=False,
                               web_port=web, metrics_port=metrics_port)
    main = spawn("locust", argv, tmp_path / "locust.log", env=env, cwd=tmp_path)

    def scrape() -> dict:
        return parse_metrics(requests.get(f"http://127.0.0.1:{metrics_port}/metrics",
                                          timeout=1).text)

    name = "chaoslab_loadtest_requests_total"
    try:
        # All 8 customers running and several Invokes answered: most are now mid-call.
        wait_until("8 customers with answered invokes", lambda: (
            metric(s := scrape(), "chaoslab_loadtest_users") == 8
            and metric(s, name, workflow="invoke", result="ok") >= 8), 60, [main])
        time.sleep(0.5)
        resp = requests.post(f"http://127.0.0.1:{web}/swarm",
                             data={"user_count": 1, "spawn_rate": 100}, timeout=10)
        assert resp.json().get("success"), resp.text
        wait_until("one customer left", lambda: metric(scrape(), "chaoslab_loadtest_users") == 1,
                   30, [main])
        time.sleep(2.5)  # the remaining customer completes more invokes
        after = scrape()
    finally:
        main.stop()
        doors.stop()
    assert metric(after, name, workflow="invoke", result="error") == 0, \
        (tmp_path / "locust.log").read_text()[-3000:]
    assert metric(after, name, workflow="invoke", result="ok") >= 10
