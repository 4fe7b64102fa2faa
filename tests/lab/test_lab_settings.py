"""The local lab as configured: EC2 among its tiers, its tuning, the settings a scenario
asks of it, and customers that resolve the front doors through its DNS.

One lab for the module, the real thing (`chaoslab up --local --tuning storm`, 6 customers
in us-east-1, resolving names as SDKs do): kube-apiserver, CoreDNS, every service, the
operator, Prometheus and Locust.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import grpc
import pytest
import requests
import yaml

from chaoslab.toolpaths import tool
from chaoslab_loadtest import config as load_config
from chaoslab_loadtest import workflows
from chaoslab_loadtest.resolver import entry_for
from chaoslab_loadtest.workflows import Session
from chaoslab_services.protos import ec2_pb2, ec2_pb2_grpc, iam_pb2, iam_pb2_grpc

pytestmark = pytest.mark.slow

CHAOSLAB = str(Path(sys.executable).parent / "chaoslab")
HOSTS = 200  # defaults.yaml settings.ec2.dwfm.hosts
DDB = "dynamodb.us-east-1.aws.internal"
FAULT_S = 6  # shorter than the customers' negative cache time, so one entry spans it


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


def ask(state: dict[str, Any], name: str) -> dns.message.Message:
    host, port = state["dns"].split(":")
    return dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), host, port=int(port),
                         timeout=2)


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
    cfg = load_config.from_mapping({"targets": lab["services"], "customer_dns": "direct"},
                                   workflow_weights="launch=1")
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


def raw_samples(state: dict[str, Any], selector: str, seconds: int) -> list[tuple[float, float]]:
    """Every scraped sample of one series over the last `seconds` (a range selector)."""
    r = requests.get(f"{state['prometheus']}/api/v1/query",
                     params={"query": f"{selector}[{seconds}s]"},
                     timeout=5).json()
    (series,) = r["data"]["result"]
    return [(float(t), float(v)) for t, v in series["values"]]


def increases(samples: list[tuple[float, float]], born: bool = False) -> list[float]:
    """When a counter rose. `born`: the series did not exist before the window, so its
    first sample counts from zero (Locust's error series appears with its first error)."""
    first = [t for t, v in samples[:1] if v > 0] if born else []
    return first + [t for (_, a), (t, b) in pairwise(samples) if b > a]


def test_customers_resolve_dynamodb_and_recover_as_their_cache_allows(
        lab: dict[str, Any]) -> None:
    """AWS 2025: customers could not connect while DynamoDB's name was empty, and came back
    as cached answers expired. The items workflow (DynamoDB called directly) fails in the
    fault, and after the fix recovers no sooner than the cached empty answer expires: its
    time is measured from what the lab's DNS serves (TTL, SOA or none)."""
    positive = ask(lab, DDB)
    cfg = load_config.load(lab_state=str(Path(lab["lab_dir"]) / "state.json"))
    assert cfg.customer_dns == "resolve" and cfg.dns == lab["dns"]
    ttl = entry_for(positive, max_ttl=cfg.dns_max_ttl, negative_ttl=cfg.dns_negative_ttl).ttl
    assert ttl > 0
    items = 'chaoslab_loadtest_requests_total{workflow="items", region="us-east-1", result="%s"}'
    wait_for("customers running items", lambda: promql(
        lab, f"sum({items % 'ok'})").get("", 0) > 5, 60)
    errors_before = promql(lab, f"count({items % 'error'})").get("", 0)
    assert kubectl(lab, "apply", "-f", "-",
                   manifest=scenario("items-dns", duration=f"{FAULT_S}s")).returncode == 0
    try:
        wait_for("the empty answer served", lambda: not ask(lab, DDB).answer, 20, 0.1)
        injected = time.time()
        empty = ask(lab, DDB)
        negative = entry_for(empty, max_ttl=cfg.dns_max_ttl,
                             negative_ttl=cfg.dns_negative_ttl)
        assert negative.cause == "nodata" and negative.ttl > FAULT_S
        wait_for("the answer back", lambda: bool(ask(lab, DDB).answer), FAULT_S + 20, 0.1)
        restored = time.time()
        time.sleep(negative.ttl + ttl + 3)  # the cache drains, then a few healthy runs
    finally:
        kubectl(lab, "delete", "outagescenario", "items-dns", "--ignore-not-found")
    window = int(time.time() - injected + ttl + 10)
    errors = increases(raw_samples(lab, items % "error", window), born=not errors_before)
    oks = increases(raw_samples(lab, items % "ok", window))
    assert errors, "items never failed while DynamoDB's name was empty"
    first_error, last_error = errors[0], errors[-1]
    # the cached address is used until its TTL runs out, then the empty answer is cached
    assert injected - 1.5 <= first_error <= injected + ttl + 3
    recovered = min(t for t in oks if t > last_error)
    # ... and kept for its negative time, past the fix: no success before it expires
    assert last_error > restored + 1, (last_error - restored)
    assert recovered >= first_error + negative.ttl - 2, (recovered - first_error)
    assert recovered <= first_error + negative.ttl + 6, (recovered - first_error)
    print(f"served TTL {ttl:.0f}s, negative {negative.ttl:.0f}s (SOA: "
          f"{'yes' if empty.authority else 'none, the customers default'}); items failed "
          f"{first_error - injected:+.1f}s after injection, recovered "
          f"{recovered - restored:.1f}s after DNS was fixed "
          f"({recovered - first_error:.1f}s after the first failure)")
