"""The local lab as configured: EC2 among its tiers, its tuning, the settings a scenario
asks of it.

One lab for the module, the real thing (`chaoslab up --local --tuning storm`, 6 customers
in us-east-1): kube-apiserver, CoreDNS, every service, the operator, Prometheus and Locust.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
import yaml

from chaoslab.toolpaths import tool
from chaoslab_loadtest import config as load_config
from chaoslab_loadtest import workflows
from chaoslab_loadtest.workflows import Session
from chaoslab_services.protos import ec2_pb2, ec2_pb2_grpc, iam_pb2, iam_pb2_grpc

pytestmark = pytest.mark.slow

CHAOSLAB = str(Path(sys.executable).parent / "chaoslab")
HOSTS = 200  # defaults.yaml settings.ec2.dwfm.hosts
DDB = "dynamodb.us-east-1.aws.internal"


def wait_for(what: str, check: Callable[[], bool], timeout: float, every: float = 0.5) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout}s"
        time.sleep(every)
    return time.monotonic() - start


def promql(state: dict[str, Any], query: str) -> dict[str, float]:
    """Instant query -> {region label (or ""): value}."""
    r = requests.get(f"{state['prometheus']}/api/v1/query", params={"query": query},
                     timeout=5).json()
    return {s["metric"].get("region", ""): float(s["value"][1]) for s in r["data"]["result"]}


def kubectl(state: dict[str, Any], *args: str, manifest: str = ""
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool("kubectl")), *args], input=manifest or None,
                          env={**os.environ, "KUBECONFIG": state["kubeconfig"]},
                          capture_output=True, text=True, timeout=30)


def scenario(name: str, annotations: dict[str, str] | None = None, duration: str = "30s"
             ) -> str:
    return yaml.safe_dump({
        "apiVersion": "chaoslab.io/v1alpha1", "kind": "OutageScenario",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
        "spec": {"faults": [{"target": DDB, "mode": "nodata"}], "duration": duration}})


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    lab_dir = tmp_path_factory.mktemp("lab-settings") / "lab"
    t0 = time.monotonic()
    up = subprocess.run([CHAOSLAB, "up", "--local", "--lab-dir", str(lab_dir), "--users", "6",
                         "--tuning", "storm"], capture_output=True, text=True, timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        print(f"lab up in {time.monotonic() - t0:.1f}s")
        state = json.loads((lab_dir / "state.json").read_text())
        state["up_stdout"], state["lab_dir"] = up.stdout, str(lab_dir)
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


def test_the_storm_tuning_is_the_labs(lab: dict[str, Any]) -> None:
    """`--tuning storm` is what runs: IAM serves 2 Authenticates at a time at 60 ms each
    (the stock IAM: 6 at 10 ms), and the customers get SDK deadlines."""
    assert lab["tuning"] == "storm" and lab["customer_regions"] == "us-east-1"
    assert "tuning storm" in lab["up_stdout"]
    channel = grpc.insecure_channel(lab["services"]["iam"])
    stub = iam_pb2_grpc.IAMStub(channel)
    call = lambda i: stub.Authenticate(iam_pb2.AuthenticateRequest(  # noqa: E731
        user=f"customer-{i}", secret=f"customer-{i}-secret"), timeout=10)
    call(0)
    start = time.monotonic()
    with ThreadPoolExecutor(12) as pool:
        assert all(r.token for r in pool.map(call, range(12)))
    took = time.monotonic() - start
    assert took >= 6 * 0.060 * 0.9, f"12 Authenticates in {took:.2f}s: IAM is not storm-sized"
    load = yaml.safe_load((Path(lab["lab_dir"]) / "tuning" / "load.yaml").read_text())
    assert load == {"timeout": 1.0, "attempts": 3}
    print(f"12 concurrent Authenticates took {took:.2f}s on the storm-tuned IAM")


def test_a_scenario_asking_for_another_lab_is_refused_saying_why(lab: dict[str, Any]) -> None:
    cases = [
        ({"chaoslab.io/customer-region": "us-west-2"},
         ["customers in us-west-2", "live in us-east-1", "--customer-region us-west-2"]),
        ({"chaoslab.io/tuning": "stock"},
         ["stock tuning", "this lab runs storm", "--tuning stock"]),
        ({"chaoslab.io/tuning": "hurricane"}, ["'hurricane' is not a lab tuning"]),
    ]
    for notes, words in cases:
        out = kubectl(lab, "apply", "--dry-run=server", "-f", "-",
                      manifest=scenario("asks", notes))
        assert out.returncode != 0, f"{notes} was accepted"
        for word in words:
            assert word in out.stderr, (word, out.stderr)
    fits = {"chaoslab.io/customer-region": "us-east-1", "chaoslab.io/tuning": "storm"}
    out = kubectl(lab, "apply", "--dry-run=server", "-f", "-", manifest=scenario("fits", fits))
    assert out.returncode == 0, out.stderr
    out = kubectl(lab, "apply", "--dry-run=server", "-f", "-", manifest=scenario("plain"))
    assert out.returncode == 0, out.stderr
