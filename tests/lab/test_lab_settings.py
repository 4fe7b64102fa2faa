"""The local lab as configured: EC2 is one of its tiers in both regions.

One lab for the module (`chaoslab up --local`, 4 customers), the real thing: kube-apiserver,
CoreDNS, every service, the operator, Prometheus and Locust.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests

from chaoslab_loadtest import config as load_config
from chaoslab_loadtest import workflows
from chaoslab_loadtest.workflows import Session
from chaoslab_services.protos import ec2_pb2, ec2_pb2_grpc

pytestmark = pytest.mark.slow

CHAOSLAB = str(Path(sys.executable).parent / "chaoslab")
HOSTS = 200  # defaults.yaml settings.ec2.dwfm.hosts


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout}s"
        time.sleep(0.5)
    return time.monotonic() - start


def promql(state: dict[str, Any], query: str) -> dict[str, float]:
    """Instant query -> {region label (or ""): value}."""
    r = requests.get(f"{state['prometheus']}/api/v1/query", params={"query": query},
                     timeout=5).json()
    return {s["metric"].get("region", ""): float(s["value"][1]) for s in r["data"]["result"]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    lab_dir = tmp_path_factory.mktemp("lab-settings") / "lab"
    t0 = time.monotonic()
    up = subprocess.run([CHAOSLAB, "up", "--local", "--lab-dir", str(lab_dir), "--users", "4"],
                        capture_output=True, text=True, timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        print(f"lab up in {time.monotonic() - t0:.1f}s")
        state = json.loads((lab_dir / "state.json").read_text())
        state["up_stdout"] = up.stdout
        yield state
    finally:
        down = subprocess.run([CHAOSLAB, "down", "--lab-dir", str(lab_dir)],
                              capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stdout + down.stderr


def test_ec2_is_a_tier_of_both_regions(lab: dict[str, Any]) -> None:
    """EC2 answers launches in both regions, and Prometheus scrapes its DWFM: every host
    of each fleet leased (the start-up order did not cost a lease)."""
    for region in ("us-east-1", "us-west-2"):
        stub = ec2_pb2_grpc.EC2Stub(grpc.insecure_channel(lab["services"][f"ec2.{region}"]))
        (inst,) = stub.RunInstances(ec2_pb2.RunInstancesRequest(
            image_id="ami-0123456789abcdef0"), timeout=5).instances
        assert inst.availability_zone == f"{region}a" and inst.state == "running"
        (gone,) = stub.TerminateInstances(ec2_pb2.TerminateInstancesRequest(
            instance_ids=[inst.instance_id]), timeout=5).instances
        assert gone.state == "terminated"
    # The customers' launch workflow (off by default): one launch, one termination.
    cfg = load_config.from_mapping({"targets": lab["services"]}, workflow_weights="launch=1")
    session = Session(cfg, "us-west-2", "customer-0", "customer-0-secret",
                      channel=lambda key: grpc.insecure_channel(cfg.target(key)))
    before = len(session.ec2.DescribeInstances(ec2_pb2.DescribeInstancesRequest(),
                                               timeout=5).instances)
    workflows.launch(session)
    assert len(session.ec2.DescribeInstances(ec2_pb2.DescribeInstancesRequest(),
                                             timeout=5).instances) == before
    held = 'sum by (region) (chaoslab_service_dwfm_leases{service="ec2", state="held"})'
    wait_for("both fleets scraped", lambda: len(promql(lab, held)) == 2, 30)
    assert promql(lab, held) == {"us-east-1": HOSTS, "us-west-2": HOSTS}
    assert promql(lab, 'sum(chaoslab_service_dwfm_leases_expired_total{service="ec2"})') \
        == {"": 0.0}
    # DWFM's renewals are DynamoDB calls of each region's own table.
    ok = ('sum by (region) (chaoslab_service_dependency_calls_total{service="ec2", '
          'outcome="ok"})')
    wait_for("renewals through DynamoDB", lambda: all(
        v > 0 for v in promql(lab, ok).values()) and len(promql(lab, ok)) == 2, 30)
