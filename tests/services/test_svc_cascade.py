"""The October 2025 cascade, end to end: real CoreDNS, real service processes.

A nodata answer for dynamodb.us-east-1.aws.internal breaks IAM Authenticate, which breaks
Lambda Invoke and CloudWatch PutMetricData; the DNS cause shows in /metrics; removing the
fault restores service. Client DNS caching changes that picture in measured ways:
serve-stale hides a short fault, negative caching delays recovery.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import grpc
import pytest
import yaml

from chaoslab.testkit import services as testlab
from chaoslab_services.protos import (
    cloudwatch_pb2,
    cloudwatch_pb2_grpc,
    iam_pb2,
    iam_pb2_grpc,
    lambda_pb2,
    lambda_pb2_grpc,
)

DDB = "dynamodb.us-east-1.aws.internal"
KMS = "kms.us-east-1.aws.internal"
TIMEOUT = 5.0


@pytest.fixture(scope="module")
def lab(coredns_binary, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cascade")
    with testlab.Lab(workdir, ttl=1, without=("ec2",)) as lab:
        lab.bootstrap(customers=3)
        yield lab


@pytest.fixture
def clean_dns(lab):
    yield
    lab.dns.set_faults("", probe=DDB, expect=lambda rc, ips: bool(ips))


def _iam(address: str) -> iam_pb2_grpc.IAMStub:
    return iam_pb2_grpc.IAMStub(grpc.insecure_channel(address))


def authenticate(address: str, user: str = "customer-0") -> iam_pb2.AuthenticateResponse:
    return _iam(address).Authenticate(iam_pb2.AuthenticateRequest(
        user=user, secret=f"{user}-secret"), timeout=TIMEOUT)


def invoke(lab: testlab.Lab, token: str) -> lambda_pb2.InvokeResponse:
    stub = lambda_pb2_grpc.LambdaStub(grpc.insecure_channel(lab.address("lambda.us-east-1")))
    return stub.Invoke(lambda_pb2.InvokeRequest(token=token, function="order-counter",
                                                payload={"customer": "customer-0"}),
                       timeout=TIMEOUT)


def put_metric(lab: testlab.Lab, token: str) -> cloudwatch_pb2.PutMetricDataResponse:
    stub = cloudwatch_pb2_grpc.CloudWatchStub(
        grpc.insecure_channel(lab.address("cloudwatch.us-east-1")))
    return stub.PutMetricData(cloudwatch_pb2.PutMetricDataRequest(
        token=token, namespace="Test", data=[cloudwatch_pb2.MetricDatum(
            metric_name="M", value=1.0)]), timeout=TIMEOUT)


def status(fn: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    try:
        fn()
    except grpc.RpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


def eventually(fn: Callable[[], tuple[grpc.StatusCode, str]], want: grpc.StatusCode,
               timeout: float = 15.0) -> tuple[grpc.StatusCode, str]:
    deadline = time.monotonic() + timeout
    result = fn()
    while result[0] != want and time.monotonic() < deadline:
        time.sleep(0.1)
        result = fn()
    assert result[0] == want, f"still {result} after {timeout}s"
    return result


def inject_nodata(lab: testlab.Lab, name: str = DDB) -> None:
    lab.dns.set_faults(testlab.nodata(name), probe=name,
                       expect=lambda rcode, ips: rcode == "NOERROR" and not ips)


def clear_faults(lab: testlab.Lab, name: str = DDB) -> None:
    lab.dns.set_faults("", probe=name, expect=lambda rcode, ips: bool(ips))


def test_nodata_on_dynamodb_cascades_and_recovers(lab, clean_dns):
    iam_addr = lab.address("iam")
    token = authenticate(iam_addr).token
    assert invoke(lab, token).result["customer"] == "customer-0"
    assert put_metric(lab, token).accepted == 1

    inject_nodata(lab)
    code, details = eventually(lambda: status(lambda: authenticate(iam_addr)),
                               grpc.StatusCode.UNAVAILABLE)
    assert "dynamodb.us-east-1" in details and "nodata" in details
    code, details = status(lambda: invoke(lab, token))
    assert code == grpc.StatusCode.UNAVAILABLE and "iam" in details
    code, details = status(lambda: put_metric(lab, token))
    assert code == grpc.StatusCode.UNAVAILABLE and "iam" in details

    iam = lab.procs["iam"]
    assert iam.metric("chaoslab_service_dependency_calls_total", dependency="dynamodb.us-east-1",
                      outcome="dns_error", cause="nodata") > 0
    assert iam.metric("chaoslab_service_requests_total", method="Authenticate",
                      code="UNAVAILABLE") > 0
    lam = lab.procs["lambda.us-east-1"]
    assert lam.metric("chaoslab_service_dependency_calls_total", dependency="iam",
                      outcome="rpc_error", cause="UNAVAILABLE") > 0
    assert lab.procs["cloudwatch.us-east-1"].metric(
        "chaoslab_service_requests_total", method="PutMetricData", code="UNAVAILABLE") > 0

    clear_faults(lab)
    eventually(lambda: status(lambda: authenticate(iam_addr)), grpc.StatusCode.OK)
    token = authenticate(iam_addr).token
    assert invoke(lab, token).result["orders"]
    assert put_metric(lab, token).accepted == 1


def _policy(tmp_path, name: str, cache: dict) -> str:
    doc = {"defaults": {"timeout": "1s", "dns_timeout": "500ms",
                        "retries": {"mode": "none"}, "dns_cache": cache}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_serve_stale_hides_a_short_fault_while_the_cache_holds(lab, clean_dns, tmp_path):
    max_stale = 6.0
    policy = _policy(tmp_path, "stale", {
        "enabled": True, "max_ttl": "10s", "serve_stale": True, "max_stale": f"{max_stale}s",
        "stale_on": ["nodata", "nxdomain", "servfail", "timeout", "refused"],
        "stale_recheck": "500ms"})
    stale_iam = lab.start_extra("iam", "iam-stale", policy=policy)
    try:
        authenticate(stale_iam.address)              # fills the cache (TTL 1 s from CoreDNS)
        filled = time.monotonic()
        inject_nodata(lab)
        # the default-profile IAM fails...
        eventually(lambda: status(lambda: authenticate(lab.address("iam"))),
                   grpc.StatusCode.UNAVAILABLE)
        # ...the serve-stale one keeps working after its cached answer expired (1 s),
        # until the stale window closes (1 s + max_stale; stop 1 s short of it)
        served_after_expiry = 0
        while time.monotonic() < filled + max_stale:
            assert status(lambda: authenticate(stale_iam.address))[0] == grpc.StatusCode.OK
            served_after_expiry += time.monotonic() > filled + 1.5
            time.sleep(0.2)
        assert served_after_expiry >= 3
        assert stale_iam.metric("chaoslab_service_dns_cache_total", result="stale") > 0
        # ...but only while the cache holds: past max_stale the fault shows
        _code, details = eventually(lambda: status(lambda: authenticate(stale_iam.address)),
                                   grpc.StatusCode.UNAVAILABLE, timeout=10)
        assert "nodata" in details
        clear_faults(lab)
        eventually(lambda: status(lambda: authenticate(stale_iam.address)), grpc.StatusCode.OK)
    finally:
        stale_iam.stop()


def test_negative_cache_delays_recovery_by_its_ttl(lab, clean_dns, tmp_path):
    negative_ttl = 5.0
    policy = _policy(tmp_path, "negative", {"enabled": True, "max_ttl": "1s",
                                            "negative_ttl": f"{negative_ttl}s"})
    neg_iam = lab.start_extra("iam", "iam-negative", policy=policy)
    try:
        authenticate(neg_iam.address)
        inject_nodata(lab)
        eventually(lambda: status(lambda: authenticate(neg_iam.address)),
                   grpc.StatusCode.UNAVAILABLE)
        cached_at = time.monotonic()                 # the nodata answer was cached just now
        clear_faults(lab)
        code, details = status(lambda: authenticate(neg_iam.address))
        assert code == grpc.StatusCode.UNAVAILABLE and "negative cache" in details
        # the default-profile IAM (negative TTL 1 s) is already back
        eventually(lambda: status(lambda: authenticate(lab.address("iam"))),
                   grpc.StatusCode.OK, timeout=5)
        eventually(lambda: status(lambda: authenticate(neg_iam.address)),
                   grpc.StatusCode.OK, timeout=negative_ttl + 5)
        waited = time.monotonic() - cached_at
        assert waited >= negative_ttl - 0.5, f"recovered after {waited:.1f}s"
        assert neg_iam.metric("chaoslab_service_dns_cache_total", result="negative_hit") > 0
    finally:
        neg_iam.stop()


def test_redirect_outside_allowed_networks_is_refused(lab, clean_dns):
    """kms.us-east-1 redirected to 127.0.0.2: an IAM allowed only 127.0.0.1/32 refuses it
    without opening a connection (the listener there sees nothing)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.2", lab.ports["kms.us-east-1"]))
    listener.listen(8)
    listener.setblocking(False)
    narrow = lab.start_extra("iam", "iam-narrow", allowed_networks="127.0.0.1/32")
    try:
        fault = (f"    template IN A {KMS} {{\n"
                 f'        answer "{{{{ .Name }}}} 1 IN A 127.0.0.2"\n    }}\n')
        lab.dns.set_faults(fault, probe=KMS, expect=lambda rc, ips: ips == ["127.0.0.2"])
        _code, details = eventually(lambda: status(lambda: authenticate(narrow.address)),
                                   grpc.StatusCode.UNAVAILABLE)
        assert "disallowed" in details and "127.0.0.2" in details
        assert narrow.metric("chaoslab_service_dependency_calls_total",
                             dependency="kms.us-east-1", outcome="dns_error",
                             cause="disallowed") > 0
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        narrow.stop()
        listener.close()
        clear_faults(lab, KMS)
