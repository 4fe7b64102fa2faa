"""EC2 and DWFM against real processes: CoreDNS, DynamoDB and EC2 on loopback.

DynamoDB's name goes empty (a stock ``template`` nodata fault, reloaded into CoreDNS):
DWFM's lease renewals fail, leases lapse after ``lease_ttl`` and launches fail with
RESOURCE_EXHAUSTED InsufficientInstanceCapacity. When the name returns, a small fleet
re-leases itself; a fleet past the collapse threshold (~90 hosts with the defaults, see
services/README.md) stays collapsed although DynamoDB answers, until the throttle is
switched on at run time. The ground truth is EC2's own ``GET /dwfm`` counters.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import grpc
import pytest
import yaml

from chaoslab.testkit import services as testlab
from chaoslab_services.protos import dynamodb_pb2, dynamodb_pb2_grpc, ec2_pb2, ec2_pb2_grpc

DDB = "dynamodb.us-east-1.aws.internal"
IMAGE = "ami-0123456789abcdef0"
LEASE_TTL = 8.0          # defaults.yaml settings.ec2.dwfm.lease_ttl


@pytest.fixture(scope="module")
def lab(coredns_binary, tmp_path_factory):
    with testlab.Lab(tmp_path_factory.mktemp("ec2"), ttl=1, only=("dynamodb.us-east-1",)) as lab:
        yield lab


def start_ec2(lab: testlab.Lab, name: str, hosts: int) -> testlab.ServiceProcess:
    config = lab.workdir / f"{name}.yaml"
    config.write_text(yaml.safe_dump({"settings": {"dwfm": {"hosts": hosts}}}))
    return lab.start_service("ec2", "us-east-1", name, config=config)


def dwfm(proc: testlab.ServiceProcess) -> dict[str, Any]:
    status, body = proc.http("/dwfm")
    assert status == 200, body
    return json.loads(body)


def throttle(proc: testlab.ServiceProcess, on: bool) -> dict[str, Any]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{proc.http_port}/dwfm/throttle?enabled={str(on).lower()}",
        data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"{what}: not after {timeout}s"
        time.sleep(0.2)
    return time.monotonic() - start


def run(proc: testlab.ServiceProcess, **fields: Any) -> ec2_pb2.RunInstancesResponse:
    stub = ec2_pb2_grpc.EC2Stub(grpc.insecure_channel(proc.address))
    return stub.RunInstances(ec2_pb2.RunInstancesRequest(**{"image_id": IMAGE, **fields}),
                             timeout=5)


def code_of(fn: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    try:
        fn()
    except grpc.RpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


def empty_dynamodb_name(lab: testlab.Lab) -> None:
    lab.dns.set_faults(testlab.nodata(DDB), probe=DDB,
                       expect=lambda rcode, ips: rcode == "NOERROR" and not ips)


def restore_dynamodb_name(lab: testlab.Lab) -> None:
    lab.dns.set_faults("", probe=DDB, expect=lambda rcode, ips: bool(ips))


def dynamodb_answers(lab: testlab.Lab) -> bool:
    stub = dynamodb_pb2_grpc.DynamoDBStub(grpc.insecure_channel(lab.address("dynamodb.us-east-1")))
    stub.GetItem(dynamodb_pb2.GetItemRequest(table="ec2-dwfm-leases", pk="h-us-east-1-00000"),
                 timeout=5)
    return True


@pytest.fixture(scope="module")
def small(lab):
    proc = start_ec2(lab, "ec2-small", hosts=24)
    yield proc
    proc.stop()


def test_bad_fields_are_invalid_argument(small):
    stub = ec2_pb2_grpc.EC2Stub(grpc.insecure_channel(small.address))
    for fields, name in (({"image_id": "ubuntu"}, "image_id"), ({"image_id": ""}, "image_id"),
                         ({"image_id": IMAGE, "count": 21}, "count"),
                         ({"image_id": IMAGE, "instance_type": "x9.huge"}, "instance_type"),
                         ({"image_id": IMAGE, "tags": {"": "x"}}, "tags")):
        code, details = code_of(lambda f=fields: stub.RunInstances(
            ec2_pb2.RunInstancesRequest(**f), timeout=5))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(name), details
    for fields, name in (({"instance_ids": ["i-xyz"]}, "instance_ids[0]"),
                         ({"max_results": 5000}, "max_results")):
        code, details = code_of(lambda f=fields: stub.DescribeInstances(
            ec2_pb2.DescribeInstancesRequest(**f), timeout=5))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(name), details
    # bytes that are no RunInstancesRequest at all: DecodeGuard's INVALID_ARGUMENT
    raw = grpc.insecure_channel(small.address).unary_unary(
        "/chaoslab.ec2.v1.EC2/RunInstances", request_serializer=None,
        response_deserializer=None)
    code, details = code_of(lambda: raw(b"\x0a\x05ok\xff\xfe\xc3", timeout=5))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "undecodable" in details, details
    assert small.http("/latest/meta-data/instance-id")[0] == 400
    assert small.http("/latest/meta-data/instance-id?instance=i-00000000000000000")[0] == 404


def test_launches_fail_while_dynamodb_is_gone_and_return_below_the_threshold(lab, small):
    hosts = 24
    # leases age only once DynamoDB has answered a renewal (the first within renew_interval)
    wait_for("the first renewal", lambda: dwfm(small)["armed"], 10)
    assert dwfm(small)["held"] == hosts
    inst = run(small, count=2).instances[0]
    assert inst.state == "running" and inst.instance_id.startswith("i-")
    assert small.http(f"/latest/meta-data/instance-id?instance={inst.instance_id}") == \
        (200, inst.instance_id)
    try:
        empty_dynamodb_name(lab)
        wait_for("every lease lapsed", lambda: dwfm(small)["expired"] >= hosts, LEASE_TTL + 6)
        assert dwfm(small)["held"] == 0
        code, details = code_of(lambda: run(small))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
        assert "InsufficientInstanceCapacity" in details
        state = dwfm(small)
        assert state["failed"]["renew"] > 0
        # the data plane stays: running instances keep their metadata and records
        assert small.http(f"/latest/meta-data/placement/region?instance={inst.instance_id}") \
            == (200, "us-east-1")
        stub = ec2_pb2_grpc.EC2Stub(grpc.insecure_channel(small.address))
        assert stub.DescribeInstances(ec2_pb2.DescribeInstancesRequest(
            instance_ids=[inst.instance_id]), timeout=5).instances[0].host_id == inst.host_id
    finally:
        restore_dynamodb_name(lab)
    took = wait_for("the fleet re-leased", lambda: dwfm(small)["held"] == hosts, 20)
    assert run(small).instances
    assert not dwfm(small)["throttle"]
    # the same truth on /metrics
    assert small.metric("chaoslab_service_dwfm_leases", state="held") == hosts
    assert small.metric("chaoslab_service_dwfm_leases_expired_total") >= hosts
    assert small.metric("chaoslab_service_dwfm_work_total", kind="establish", result="ok") \
        >= hosts
    assert small.metric("chaoslab_service_requests_total", method="RunInstances",
                        code="RESOURCE_EXHAUSTED") >= 1
    print(f"24 hosts re-leased {took:.1f}s after DynamoDB's name returned")


def test_a_large_fleet_collapses_after_dynamodb_returns_until_throttled(lab):
    hosts = 200
    big = start_ec2(lab, "ec2-big", hosts=hosts)
    try:
        wait_for("the fleet leased", lambda: dwfm(big)["held"] == hosts, 10)
        wait_for("the first renewal", lambda: dwfm(big)["armed"], 10)
        try:
            empty_dynamodb_name(lab)
            wait_for("every lease lapsed", lambda: dwfm(big)["held"] == 0, LEASE_TTL + 6)
        finally:
            restore_dynamodb_name(lab)
        time.sleep(15)                       # the first pass's leases lapse again
        before = dwfm(big)
        time.sleep(8)
        after = dwfm(big)
        assert dynamodb_answers(lab)         # DynamoDB is healthy the whole time...
        assert after["failed"]["establish"] - before["failed"]["establish"] <= 2
        good = sum(after["ok"].values()) - sum(before["ok"].values())
        wasted = sum(after["timed_out"].values()) - sum(before["timed_out"].values())
        assert after["held"] <= hosts // 10, after      # ...yet DWFM holds almost nothing
        assert wasted > 10 * max(good, 1), (good, wasted)
        assert after["requeued"] > before["requeued"]
        assert code_of(lambda: run(big))[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
        print(f"collapsed: {good} ok, {wasted} timed out in 8 s, held {after['held']}, "
              f"queue {after['queue_depth']}")

        state = throttle(big, True)
        assert state["throttle"] and state["queue_depth"] <= 20
        took = wait_for("throttled DWFM re-leased the fleet",
                        lambda: dwfm(big)["held"] == hosts, 60)
        assert run(big).instances
        print(f"200 hosts re-leased {took:.1f}s after the throttle")
    finally:
        big.stop()


def test_terminated_instances_free_their_slots(small):
    """Customers launch and terminate all day; without slots coming back the fleet would
    fill and every launch fail as if DWFM had lost its leases."""
    stub = ec2_pb2_grpc.EC2Stub(grpc.insecure_channel(small.address))
    wait_for("the fleet leased", lambda: dwfm(small)["held"] == 24, 20)
    launched = [i.instance_id for _ in range(4) for i in run(small, count=20).instances]
    capacity = 24 * 4  # hosts x slots_per_host (defaults.yaml)
    code, details = code_of(lambda: [run(small, count=20) for _ in range(2)])
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, f"{capacity} slots not full: {details}"
    for ids, want in (([], grpc.StatusCode.INVALID_ARGUMENT),
                      ([launched[0], "i-0123456789abcdef0"], grpc.StatusCode.NOT_FOUND)):
        assert code_of(lambda i=ids: stub.TerminateInstances(
            ec2_pb2.TerminateInstancesRequest(instance_ids=i), timeout=5))[0] == want
    gone = stub.TerminateInstances(ec2_pb2.TerminateInstancesRequest(
        instance_ids=launched), timeout=5).instances
    assert [i.state for i in gone] == ["terminated"] * len(launched)
    assert len(run(small, count=20).instances) == 20  # the slots are back
    assert code_of(lambda: stub.DescribeInstances(ec2_pb2.DescribeInstancesRequest(
        instance_ids=launched[:1]), timeout=5))[0] == grpc.StatusCode.NOT_FOUND
