"""The exporter: ARCHITECTURE.md's names, worker increments merged on the master."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from chaoslab_loadtest.metrics import LoadtestCollector, WorkflowStats, registry_for

ARCHITECTURE = Path(__file__).resolve().parents[2] / "ARCHITECTURE.md"


def exposition(stats: WorkflowStats, users: int = 0) -> dict[str, float]:
    text = generate_latest(registry_for(LoadtestCollector(stats, lambda: users))).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = s.name + "".join(f",{k}={v}" for k, v in sorted(s.labels.items()))
            out[key] = s.value
    return out


def test_names_are_the_architecture_contract() -> None:
    wanted = set(re.findall(r"`(chaoslab_loadtest_[a-z_]+)", ARCHITECTURE.read_text()))
    assert wanted, "ARCHITECTURE.md lists no loadtest metric"
    stats = WorkflowStats()
    stats.observe("signin", "us-east-1", True, 0.02)
    served = {k.split(",")[0] for k in exposition(stats)}
    for name in wanted:
        assert name in served or f"{name}_count" in served, name


def test_worker_increments_merge_on_the_master() -> None:
    master, worker = WorkflowStats(), WorkflowStats()
    master.declare(["invoke"], ["us-east-1"])
    worker.observe("invoke", "us-east-1", True, 0.004)
    worker.observe("invoke", "us-east-1", False, 3.0)
    master.merge_wire(worker.to_wire())
    worker.clear()
    worker.observe("invoke", "us-east-1", True, 0.2)
    master.merge_wire(worker.to_wire())
    got = exposition(master, users=4)
    key = "chaoslab_loadtest_requests_total,region=us-east-1,result={},workflow=invoke"
    assert got[key.format("ok")] == 2 and got[key.format("error")] == 1
    bucket = ("chaoslab_loadtest_request_duration_seconds_bucket,le={},region=us-east-1,"
              "workflow=invoke")
    assert got[bucket.format("0.005")] == 1
    assert got[bucket.format("0.25")] == 2
    assert got[bucket.format("+Inf")] == 3
    assert got["chaoslab_loadtest_users"] == 4
    assert master.totals() == (2, 1)


def test_declared_series_start_at_zero() -> None:
    stats = WorkflowStats()
    stats.declare(["items"], ["us-west-2"])
    got = exposition(stats)
    assert got["chaoslab_loadtest_requests_total,region=us-west-2,result=error,workflow=items"] == 0
