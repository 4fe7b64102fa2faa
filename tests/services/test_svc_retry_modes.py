"""The AWS SDKs' retry modes as client profiles: legacy, standard, adaptive, sdk-2026.

Pure units check the quota arithmetic and the adaptive limiter; the lab tests count, at
real servers' /metrics, the attempts each mode sends for one failing call, and show the
standard quota (5 tokens a retry) and the 2026 one (14) ending retries once spent.

Failures are real: DynamoDB runs with one worker and no queue, and a CreateTable that
holds that worker for a minute makes it shed every other request with RESOURCE_EXHAUSTED
(the lab's throttling); IAM, whose logins read DynamoDB, then answers UNAVAILABLE (a
transient error). Backoffs are shortened to 1 ms so the counts take seconds, not
minutes; attempts and quotas are the profiles' own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time

import grpc
import pytest
import yaml

from chaoslab.testkit import services as testlab
from chaoslab_services.common.client import LabClient
from chaoslab_services.common.config import load_profile
from chaoslab_services.common.deps import DependencyError
from chaoslab_services.common.resilience import (
    AdaptiveRateLimiter,
    EdgePolicy,
    PolicySet,
    QuotaPolicy,
    RetryQuota,
)
from chaoslab_services.protos import dynamodb_pb2, dynamodb_pb2_grpc, iam_pb2

DDB = "dynamodb.us-east-1"
MODES = ("legacy", "standard", "adaptive", "sdk-2026")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def edge(mode: str, dependency: str) -> EdgePolicy:
    """The profile's policy for a customer's edge, with 1 ms backoffs (attempts unchanged)."""
    policy = PolicySet(load_profile(mode), mode).for_edge("client", dependency)
    r = policy.retries
    fast = dataclasses.replace(r, base_backoff=0.001, max_backoff=0.001,
                               throttle_base_backoff=0.001 if r.throttle_base_backoff else None)
    return dataclasses.replace(policy, retries=fast)


# --- pure -------------------------------------------------------------------------------

@pytest.mark.parametrize(("mode", "ddb_attempts", "other_attempts", "quota"), [
    ("legacy", 11, 4, None),
    ("standard", 3, 3, (500, 5, 10, 5)),
    ("adaptive", 3, 3, (500, 5, 10, 5)),
    ("sdk-2026", 4, 3, (500, 14, 14, 5)),
])
def test_profiles_carry_the_sdk_parameters(mode, ddb_attempts, other_attempts, quota):
    ps = PolicySet(load_profile(mode), mode)
    assert ps.for_edge("iam", DDB).retries.max_attempts == ddb_attempts
    assert ps.for_edge("iam", "dynamodb.us-west-2").retries.max_attempts == ddb_attempts
    lam = ps.for_edge("lambda.us-east-1", "iam")
    assert lam.retries.max_attempts == other_attempts
    q = lam.retry_quota
    assert (None if q is None else (q.capacity, q.retry_cost, q.timeout_cost,
                                    q.throttle_cost)) == quota
    assert lam.adaptive_rate_limit is (mode == "adaptive")
    if mode == "sdk-2026":
        assert lam.retries.throttle_base_backoff == 1.0 and lam.retries.base_backoff == 0.05
        assert ps.for_edge("iam", DDB).retries.base_backoff == 0.025


def test_retry_quota_spends_and_refunds_like_the_sdk():
    quota = RetryQuota(QuotaPolicy(capacity=20, retry_cost=5, timeout_cost=10,
                                   throttle_cost=2, success_increment=1))
    assert quota.acquire("transient") == 5 and quota.available == 15
    assert quota.acquire("timeout") == 10 and quota.available == 5
    assert quota.acquire("timeout") is None and quota.available == 5
    assert quota.acquire("throttle") == 2
    quota.succeeded(12)                    # a success after retries returns their tokens
    assert quota.available == 15
    quota.succeeded(0)                     # a first-time success adds one
    assert quota.available == 16
    for _ in range(10):
        quota.succeeded(0)
    assert quota.available == 20           # never above capacity


def test_adaptive_limiter_engages_on_throttling_and_recovers_along_cubic():
    clock = Clock()
    limiter = AdaptiveRateLimiter(clock)
    for _ in range(200):                   # 100 calls/s, all fine: no limiting
        clock.now += 0.01
        limiter.record(False)
        assert limiter.reserve() == 0.0
    assert limiter.measured_rate > 50
    limiter.record(True)                   # throttled: rate cut to 70 % of the measured one
    assert limiter.enabled
    cut = limiter.fill_rate
    assert cut == pytest.approx(0.7 * limiter._last_max)
    waits = [limiter.reserve() for _ in range(int(cut) + 5)]
    assert waits[-1] > 0                   # a burst beyond the bucket has to wait
    for _ in range(300):                   # successes at the old rate: the rate grows back
        clock.now += 0.01
        limiter.record(False)
    assert limiter.fill_rate > cut


# --- real processes ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab(coredns_binary, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("retry-modes")
    ddb_config = workdir / "dynamodb.yaml"
    ddb_config.write_text(yaml.safe_dump({"capacity": {
        "max_concurrency": 1, "queue_limit": 0,
        "service_time": {"default": "0s", "CreateTable": "90s"}}}))
    # No EC2: its DWFM writes leases to DynamoDB, and these tests count DynamoDB's requests.
    with testlab.Lab(workdir, configs={DDB: ddb_config}, profiles={"iam": "naive"},
                     without=("ec2",)) as lab:
        yield lab


@pytest.fixture(scope="module")
def throttled(lab):
    """DynamoDB's only worker held by a 90 s CreateTable: every other request is shed."""
    stub = dynamodb_pb2_grpc.DynamoDBStub(grpc.insecure_channel(lab.address(DDB)))

    def hold() -> None:
        try:
            stub.CreateTable(dynamodb_pb2.CreateTableRequest(table="blocker"), timeout=90)
        except grpc.RpcError:
            pass

    threading.Thread(target=hold, daemon=True).start()
    deadline = time.monotonic() + 10
    while True:
        try:
            stub.GetItem(dynamodb_pb2.GetItemRequest(table="t", pk="k"), timeout=2)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                break
        assert time.monotonic() < deadline, "DynamoDB never started shedding"
        time.sleep(0.05)
    return lab


def failing_calls(lab: testlab.Lab, mode: str, key: str, n: int) -> list[str]:
    """``n`` sequential calls through one client (one quota); the outcome of each."""
    async def run() -> list[str]:
        client = LabClient(lab.endpoints, lab.dns.address, policy=edge(mode, key))
        outcomes = []
        try:
            for _ in range(n):
                try:
                    if key == "iam":
                        await client.call(key, "Authenticate", iam_pb2.AuthenticateRequest(
                            user="customer-0", secret="customer-0-secret"))
                    else:
                        await client.call(key, "GetItem", dynamodb_pb2.GetItemRequest(
                            table="orders", pk="customer-0"))
                    outcomes.append("ok")
                except DependencyError as err:
                    outcomes.append(err.outcome)
        finally:
            await client.close()
        return outcomes

    return asyncio.run(run())


def served(lab: testlab.Lab, key: str) -> float:
    """Requests the server answered with its failure code (its own counter)."""
    if key == "iam":
        return lab.procs["iam"].metric("chaoslab_service_requests_total",
                                       method="Authenticate", code="UNAVAILABLE")
    return lab.procs[DDB].metric("chaoslab_service_requests_total", method="GetItem",
                                 code="RESOURCE_EXHAUSTED")


@pytest.mark.parametrize(("mode", "throttled_attempts", "transient_attempts"), [
    ("legacy", 11, 4), ("standard", 3, 3), ("adaptive", 3, 3), ("sdk-2026", 4, 3)])
def test_each_mode_sends_its_attempts_for_one_failing_call(throttled, mode,
                                                           throttled_attempts,
                                                           transient_attempts):
    lab = throttled
    for key, want in ((DDB, throttled_attempts), ("iam", transient_attempts)):
        before = served(lab, key)
        assert failing_calls(lab, mode, key, 1) == ["rpc_error"]
        assert served(lab, key) - before == want, f"{mode} -> {key}"


@pytest.mark.parametrize(("mode", "calls", "attempts"), [
    # 500 tokens, 5 a retry: 50 calls retry twice (10 each), then no retries are left
    ("standard", 53, 50 * 3 + 3),
    # 14 a retry: 17 calls retry twice (476), the 18th once (10 left < 14), then none
    ("sdk-2026", 21, 17 * 3 + 2 + 3),
])
def test_the_retry_quota_stops_retries_once_spent(throttled, mode, calls, attempts):
    lab = throttled
    before = served(lab, "iam")
    outcomes = failing_calls(lab, mode, "iam", calls)
    assert served(lab, "iam") - before == attempts
    assert outcomes[-3:] == ["budget_exhausted"] * 3
    assert "ok" not in outcomes
