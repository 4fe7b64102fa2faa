"""DNS classification and dependency-edge behaviour against a real CoreDNS."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest

from chaoslab.testkit import services as testlab
from chaoslab_services.common.config import parse_networks
from chaoslab_services.common.deps import Dependency, DependencyError
from chaoslab_services.common.dns import DnsError, DnsResolver
from chaoslab_services.common.metrics import ServiceMetrics
from chaoslab_services.common.resilience import (
    BreakerPolicy,
    BudgetPolicy,
    DnsCachePolicy,
    EdgePolicy,
    RetryPolicy,
)
from chaoslab_services.protos import kms_pb2, kms_pb2_grpc

BIG = "big.aws.internal"          # 40 A records: > 512 bytes, so UDP answers are truncated
GOOD = "kms.us-east-1.aws.internal"


@pytest.fixture(scope="module")
def coredns(coredns_binary, tmp_path_factory):
    records = {GOOD: ["127.0.0.1"], "moved.aws.internal": ["127.0.0.2"],
               BIG: [f"127.0.1.{i}" for i in range(1, 41)]}
    for name in ("nx", "sf", "ref", "nodata"):
        records[f"{name}.aws.internal"] = ["127.0.0.1"]
    server = testlab.CoreDNS(tmp_path_factory.mktemp("dns"), records, ttl=1)
    server.faults = (testlab.rcode_fault("nx.aws.internal", "NXDOMAIN")
                     + testlab.rcode_fault("sf.aws.internal", "SERVFAIL")
                     + testlab.rcode_fault("ref.aws.internal", "REFUSED")
                     + testlab.nodata("nodata.aws.internal"))
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize(("name", "cause"), [
    ("nx.aws.internal", "nxdomain"),
    ("sf.aws.internal", "servfail"),
    ("ref.aws.internal", "refused"),
    ("nodata.aws.internal", "nodata"),
])
def test_resolver_classifies_rcodes(coredns, name, cause):
    resolver = DnsResolver(("127.0.0.1", coredns.port))
    with pytest.raises(DnsError) as exc:
        asyncio.run(resolver.query(name, 1.0))
    assert exc.value.cause == cause


def test_resolver_timeout_when_server_is_silent():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # bound, never answers
    try:
        resolver = DnsResolver(silent.getsockname())
        with pytest.raises(DnsError) as exc:
            asyncio.run(resolver.query(GOOD, 0.3))
        assert exc.value.cause == "timeout"
    finally:
        silent.close()


def test_truncated_answer_is_retried_over_tcp(coredns):
    import dns.flags
    import dns.message
    import dns.query

    q = dns.message.make_query(BIG, "A")
    udp = dns.query.udp(q, "127.0.0.1", port=coredns.port, timeout=2)
    assert udp.flags & dns.flags.TC, "CoreDNS should truncate the 40-record answer over UDP"
    answer = asyncio.run(DnsResolver(("127.0.0.1", coredns.port)).query(BIG, 2.0))
    assert len(answer.addresses) == 40  # the full set only comes over TCP
    assert answer.ttl == 1


class Flaky(kms_pb2_grpc.KMSServicer):
    """Fails the first ``fail`` calls with ``code``, then answers."""

    def __init__(self, fail: int, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE):
        self.fail, self.code, self.calls = fail, code, 0

    async def Sign(self, request, context):
        self.calls += 1
        if self.calls <= self.fail:
            await context.abort(self.code, "flaky")
        return kms_pb2.SignResponse(key_id="k", signature=b"s")


async def _with_server(servicer, fn):
    server = grpc.aio.server()
    kms_pb2_grpc.add_KMSServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        return await fn(port)
    finally:
        await server.stop(0)


def _dep(coredns, port, policy, metrics, host=GOOD, allowed="127.0.0.0/8"):
    return Dependency("kms.us-east-1", host, port, kms_pb2_grpc.KMSStub, policy,
                      DnsResolver(("127.0.0.1", coredns.port)),
                      parse_networks(allowed, "allowed"), metrics)


def _value(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, {"service": "t", "region": "r", **labels}) or 0


def test_retries_count_attempts_and_succeed(coredns):
    metrics = ServiceMetrics("t", "r")
    policy = EdgePolicy(timeout=1.0, retries=RetryPolicy("exponential", 4, 0.01, 0.05))

    async def run(port):
        dep = _dep(coredns, port, policy, metrics)
        try:
            return await dep.call("Sign", kms_pb2.SignRequest())
        finally:
            await dep.close()

    assert asyncio.run(_with_server(Flaky(2), run)).key_id == "k"
    dep = "kms.us-east-1"
    assert _value(metrics, "chaoslab_service_dependency_attempts_total", dependency=dep) == 3
    assert _value(metrics, "chaoslab_service_retries_total", dependency=dep) == 2
    assert _value(metrics, "chaoslab_service_dependency_calls_total", dependency=dep,
                  outcome="ok", cause="") == 1


def test_non_retryable_answer_is_not_retried(coredns):
    metrics = ServiceMetrics("t", "r")
    policy = EdgePolicy(retries=RetryPolicy("fixed", 5, 0.0, 0.0))

    async def run(port):
        dep = _dep(coredns, port, policy, metrics)
        try:
            with pytest.raises(DependencyError) as exc:
                await dep.call("Sign", kms_pb2.SignRequest())
            return exc.value
        finally:
            await dep.close()

    err = asyncio.run(_with_server(Flaky(9, grpc.StatusCode.NOT_FOUND), run))
    assert (err.outcome, err.cause, err.code) == ("rpc_error", "NOT_FOUND",
                                                 grpc.StatusCode.NOT_FOUND)
    assert _value(metrics, "chaoslab_service_dependency_attempts_total",
                  dependency="kms.us-east-1") == 1


def test_budget_and_breaker_stop_the_storm(coredns):
    metrics = ServiceMetrics("t", "r")
    policy = EdgePolicy(timeout=0.5, retries=RetryPolicy("fixed", 5, 0.0, 0.0),
                        retry_budget=BudgetPolicy(ratio=0.0, min_per_second=0.2, window=10.0),
                        breaker=BreakerPolicy(consecutive_failures=6, open_for=30.0))

    async def run(port):
        dep = _dep(coredns, port, policy, metrics)
        outcomes = []
        try:
            for _ in range(5):
                with pytest.raises(DependencyError) as exc:
                    await dep.call("Sign", kms_pb2.SignRequest())
                outcomes.append(exc.value.outcome)
            return outcomes
        finally:
            await dep.close()

    server = Flaky(10_000)
    outcomes = asyncio.run(_with_server(server, run))
    # The budget allows 2 retries in all (0.2/s x 10 s): call 1 makes 3 attempts, calls 2-4
    # one each; the 6th consecutive failure opens the breaker, so call 5 makes none.
    assert outcomes == ["budget_exhausted"] * 4 + ["breaker_open"]
    assert server.calls == 6
    assert _value(metrics, "chaoslab_service_breaker_state", dependency="kms.us-east-1") == 2


def test_dns_failure_is_an_outcome_with_its_cause(coredns):
    metrics = ServiceMetrics("t", "r")
    policy = EdgePolicy(retries=RetryPolicy("fixed", 2, 0.0, 0.0))

    async def run():
        dep = _dep(coredns, 1, policy, metrics, host="nodata.aws.internal")
        with pytest.raises(DependencyError) as exc:
            await dep.call("Sign", kms_pb2.SignRequest())
        return exc.value

    err = asyncio.run(run())
    assert (err.outcome, err.cause) == ("dns_error", "nodata")
    assert _value(metrics, "chaoslab_service_dependency_calls_total",
                  dependency="kms.us-east-1", outcome="dns_error", cause="nodata") == 1
    assert _value(metrics, "chaoslab_service_dns_cache_total", result="miss") == 2


def test_disallowed_address_is_never_dialled(coredns):
    """moved.aws.internal -> 127.0.0.2, outside 127.0.0.1/32: refused before connecting."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.2", 0))
    listener.listen(8)
    listener.setblocking(False)
    metrics = ServiceMetrics("t", "r")
    try:
        async def run():
            dep = _dep(coredns, listener.getsockname()[1], EdgePolicy(), metrics,
                       host="moved.aws.internal", allowed="127.0.0.1/32")
            with pytest.raises(DependencyError) as exc:
                await dep.call("Sign", kms_pb2.SignRequest())
            await asyncio.sleep(0.2)
            return exc.value

        err = asyncio.run(run())
        assert (err.outcome, err.cause) == ("dns_error", "disallowed")
        assert "127.0.0.2" in err.details
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    finally:
        listener.close()


def test_cache_with_real_server(coredns):
    metrics = ServiceMetrics("t", "r")
    policy = EdgePolicy(dns_cache=DnsCachePolicy(enabled=True, max_ttl=30))

    async def run(port):
        dep = _dep(coredns, port, policy, metrics)
        try:
            for _ in range(5):
                await dep.call("Sign", kms_pb2.SignRequest())
        finally:
            await dep.close()

    asyncio.run(_with_server(Flaky(0), run))
    assert _value(metrics, "chaoslab_service_dns_cache_total", result="miss") == 1
    assert _value(metrics, "chaoslab_service_dns_cache_total", result="hit") == 4
