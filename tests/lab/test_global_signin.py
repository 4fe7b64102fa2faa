"""A us-west-2 sign-in fails through the global endpoint while us-west-2's own services are
healthy (issue 17 item 3), on the real local lab.

One lab (`LocalLab`, no Locust: the test's own customers are the ground truth): CoreDNS,
kube-apiserver, the operator and every service process of both regions, among them the
global `signin`, `iam` and `sts`. Faults go in as OutageScenarios through the operator,
one at a time:
- `sts.aws.internal` empty (nodata) alone: console sign-in fails in both regions, and
  nothing that does not need STS notices (IAM, us-west-2's DynamoDB, Lambda, CloudWatch
  serve >= 99 % at their own /metrics; us-west-2 customers' items, invoke and metrics runs
  succeed);
- `dynamodb.us-east-1.aws.internal` empty: us-west-2 sign-in fails too, through IAM (the
  sign-in process's iam edge fails, its sts edge is never reached), while us-west-2's
  DynamoDB serves >= 99 % and items keep working.
Each outcome is counted twice: by the customers' own calls and by the servers' counters.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import dns.message
import dns.query
import dns.rdatatype
import grpc
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from chaoslab.local.runtime import LabOptions, LocalLab
from chaoslab.local.state import LabState
from chaoslab.testkit.scenarios import outage_yaml
from chaoslab.toolpaths import tool
from chaoslab_loadtest import workflows
from chaoslab_loadtest.config import Customers, LoadConfig
from chaoslab_report.queries import SERVER_ERROR_CODES

pytestmark = pytest.mark.slow

WEST, EAST = "us-west-2", "us-east-1"
STS = "sts.aws.internal"
DDB_EAST = "dynamodb.us-east-1.aws.internal"
WINDOW_S = 5.0  # traffic measured while a fault is live (after it has reached the services)
REACH_S = 20.0  # a fault reaches the services within their DNS cache's 10 s max TTL


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return self.ok + self.failed

    @property
    def success(self) -> float:
        return self.ok / self.runs if self.runs else float("nan")


def wait_for(what: str, check: Callable[[], bool], timeout: float, every: float = 0.2) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout}s"
        time.sleep(every)
    return time.monotonic() - start


def answers(state: LabState, name: str) -> bool:
    """Ground truth of the fault: does the lab's CoreDNS give `name` an address now?"""
    host, port = state.dns.split(":")
    reply = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), host, port=int(port),
                          timeout=2)
    return bool(reply.answer)


def kubectl(state: LabState, *args: str, manifest: str = "") -> None:
    out = subprocess.run([str(tool("kubectl")), *args], input=manifest or None, text=True,
                         env={**os.environ, "KUBECONFIG": state.kubeconfig},
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr


def served(state: LabState, key: str) -> tuple[float, float]:
    """(all RPCs, server-side failures) a process has answered, from its own /metrics."""
    text = requests.get(f"http://{state.http[f'service-{key}']}/metrics", timeout=5).text
    total = bad = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "chaoslab_service_requests_total":
                total += s.value
                bad += s.value if s.labels.get("code") in SERVER_ERROR_CODES else 0.0
    return total, bad


def edge_calls(state: LabState, key: str, dependency: str) -> tuple[float, float]:
    """(logical calls, failed ones) of one dependency edge, at the caller's /metrics."""
    text = requests.get(f"http://{state.http[f'service-{key}']}/metrics", timeout=5).text
    total = failed = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "chaoslab_service_dependency_calls_total" \
                    and s.labels.get("dependency") == dependency:
                total += s.value
                failed += s.value if s.labels.get("outcome") != "ok" else 0.0
    return total, failed


class Customers_:
    """A few customers per region calling the lab's front doors directly (no DNS on their
    side: the faults here are the services' own lookups)."""

    def __init__(self, state: LabState) -> None:
        self.config = LoadConfig(targets=dict(state.services), customer_dns="direct",
                                 timeout=2.0, attempts=1, customers=Customers(count=20))
        self.channels: dict[str, grpc.Channel] = {}
        self.sessions = {region: [self._session(region, i + 10 * n)
                                  for i in range(3)] for n, region in enumerate((EAST, WEST))}

    def _channel(self, key: str) -> grpc.Channel:
        if key not in self.channels:
            self.channels[key] = grpc.insecure_channel(self.config.target(key))
        return self.channels[key]

    def _session(self, region: str, i: int) -> workflows.Session:
        user, secret = self.config.customers.identity(i)
        return workflows.Session(self.config, region, user, secret, self._channel)

    def run(self, region: str, names: tuple[str, ...], seconds: float) -> dict[str, Tally]:
        """Every customer of `region` runs each workflow in turn for `seconds`."""
        tallies = {n: Tally() for n in names}
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for s in self.sessions[region]:
                for name in names:
                    try:
                        workflows.WORKFLOWS[name](s)
                        tallies[name].ok += 1
                    except grpc.RpcError as exc:
                        tallies[name].failed += 1
                        tallies[name].details.append(f"{exc.code().name}: {exc.details()}")
        return tallies

    def signin_works(self, region: str) -> bool:
        try:
            workflows.signin(self.sessions[region][0])
            return True
        except grpc.RpcError:
            return False

    def close(self) -> None:
        for ch in self.channels.values():
            ch.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabState]:
    root = tmp_path_factory.mktemp("global-signin")
    t0 = time.monotonic()
    local = LocalLab(LabOptions(lab_dir=root / "lab", load=False),
                     progress=lambda m: print(f"up: {m}", flush=True))
    try:
        state = local.up()
        print(f"lab up in {time.monotonic() - t0:.1f}s")
        yield state
    finally:
        local.stop()


@pytest.fixture(scope="module")
def customers(lab: LabState) -> Iterator[Customers_]:
    c = Customers_(lab)
    try:
        healthy = {r: c.run(r, ("signin", "items", "invoke", "metrics"), 1.0) for r in (EAST, WEST)}
        for region, tallies in healthy.items():  # the healthy lab: every workflow works
            for name, t in tallies.items():
                assert t.runs and t.failed == 0, (region, name, t.details[:3])
        yield c
    finally:
        c.close()


def inject(lab: LabState, name: str, target: str) -> None:
    kubectl(lab, "apply", "-f", "-", manifest=outage_yaml(
        name, faults=[{"target": target, "mode": "nodata"}], duration="60s"))
    wait_for(f"{target} empty at CoreDNS", lambda: not answers(lab, target), 15)


def revert(lab: LabState, name: str, target: str, customers: Customers_) -> None:
    kubectl(lab, "delete", "outagescenario", name, "-n", "default", "--wait=false")
    wait_for(f"{target} answered again", lambda: answers(lab, target), 15)
    wait_for("us-west-2 sign-in back", lambda: customers.signin_works(WEST), 15, every=0.5)


def test_sts_alone_breaks_sign_in_and_nothing_that_does_not_need_sts(
        lab: LabState, customers: Customers_) -> None:
    # The customers already hold IAM tokens (the fixture's healthy runs): invoke and
    # metrics need only IAM, as an SDK's calls do; Lambda's own STS credentials are cached.
    inject(lab, "sts-gone", STS)
    try:
        assert answers(lab, "iam.aws.internal") and answers(lab, "signin.aws.internal")
        took = wait_for("us-west-2 sign-in failing", lambda: not customers.signin_works(WEST),
                        REACH_S, every=0.5)
        print(f"sts fault reached the sign-in {took:.1f}s after CoreDNS served it")
        keys = ("iam", f"dynamodb.{WEST}", f"lambda.{WEST}", f"cloudwatch.{WEST}")
        before = {k: served(lab, k) for k in keys}
        sts_edge = edge_calls(lab, "signin", "sts")
        west = customers.run(WEST, ("signin", "items", "invoke", "metrics"), WINDOW_S)
        east = customers.run(EAST, ("signin",), 1.0)
        after = {k: served(lab, k) for k in keys}
        sts_after = edge_calls(lab, "signin", "sts")
    finally:
        revert(lab, "sts-gone", STS, customers)

    for name, t in {"us-west-2": west["signin"], "us-east-1": east["signin"]}.items():
        assert t.runs >= 3 and t.ok == 0, (name, t)
        assert all("sts" in d and "nodata" in d for d in t.details), t.details[:3]
    # The sign-in endpoint's own counters say why: its calls to sts failed in DNS.
    assert sts_after[1] - sts_edge[1] >= west["signin"].failed
    for name in ("items", "invoke", "metrics"):
        t = west[name]
        assert t.runs >= 3 and t.success >= 0.99, (name, t.details[:3])
    for key in keys:
        total, bad = (a - b for a, b in zip(after[key], before[key], strict=True))
        assert total > 0 and 1 - bad / total >= 0.99, (key, total, bad)


def test_dynamodb_east_breaks_us_west_2_sign_in_through_iam(
        lab: LabState, customers: Customers_) -> None:
    inject(lab, "ddb-east-gone", DDB_EAST)
    try:
        wait_for("us-west-2 sign-in failing", lambda: not customers.signin_works(WEST),
                 REACH_S, every=0.5)
        ddb_before = served(lab, f"dynamodb.{WEST}")
        iam_edge, sts_edge = edge_calls(lab, "signin", "iam"), edge_calls(lab, "signin", "sts")
        west = customers.run(WEST, ("signin", "items"), WINDOW_S)
        ddb_after = served(lab, f"dynamodb.{WEST}")
        iam_after, sts_after = edge_calls(lab, "signin", "iam"), edge_calls(lab, "signin", "sts")
    finally:
        revert(lab, "ddb-east-gone", DDB_EAST, customers)

    signin, items = west["signin"], west["items"]
    assert signin.runs >= 3 and signin.ok == 0, signin
    assert all("iam" in d for d in signin.details), signin.details[:3]
    # The path: sign-in -> iam failed; STS was never reached (IAM's check comes first).
    assert iam_after[1] - iam_edge[1] >= signin.failed
    assert sts_after[0] == sts_edge[0]
    assert items.runs >= 3 and items.success >= 0.99, items.details[:3]
    total, bad = (a - b for a, b in zip(ddb_after, ddb_before, strict=True))
    assert total > 0 and 1 - bad / total >= 0.99, (total, bad)
