"""Failover does not escape us-east-1: IAM is global and anchored there, as in October 2025.

With both regions up, a nodata fault on dynamodb.us-east-1 breaks Lambda in us-west-2 too
(its Authorize goes to IAM, whose sessions live in dynamodb.us-east-1), while us-west-2's
own DynamoDB keeps answering.
"""

from __future__ import annotations

import time

import grpc
import pytest

from chaoslab.testkit import services as testlab
from chaoslab_services.protos import (
    dynamodb_pb2,
    dynamodb_pb2_grpc,
    iam_pb2,
    iam_pb2_grpc,
    lambda_pb2,
    lambda_pb2_grpc,
)

DDB_EAST = "dynamodb.us-east-1.aws.internal"


@pytest.fixture(scope="module")
def lab(coredns_binary, tmp_path_factory):
    with testlab.Lab(tmp_path_factory.mktemp("regions"), regions=("us-east-1", "us-west-2"),
                     ttl=1, without=("ec2",)) as lab:
        summary = lab.bootstrap(customers=2)
        assert summary["regions"] == ["us-east-1", "us-west-2"]
        yield lab


def _invoke_west(lab, token):
    stub = lambda_pb2_grpc.LambdaStub(grpc.insecure_channel(lab.address("lambda.us-west-2")))
    return stub.Invoke(lambda_pb2.InvokeRequest(token=token, function="profile-read",
                                                payload={"customer": "customer-1"}), timeout=5)


def test_us_west_2_lambda_fails_with_us_east_1_dynamodb(lab):
    iam = iam_pb2_grpc.IAMStub(grpc.insecure_channel(lab.address("iam")))
    token = iam.Authenticate(iam_pb2.AuthenticateRequest(
        user="customer-1", secret="customer-1-secret"), timeout=5).token
    assert _invoke_west(lab, token).result["tier"] == "silver"

    lab.dns.set_faults(testlab.nodata(DDB_EAST), probe=DDB_EAST, expect=lambda rc, ips: not ips)
    try:
        deadline, code = time.monotonic() + 15, None
        while time.monotonic() < deadline:
            try:
                _invoke_west(lab, token)
            except grpc.RpcError as err:
                code, details = err.code(), err.details()
                break
            time.sleep(0.1)
        assert code == grpc.StatusCode.UNAVAILABLE and "iam" in details
        west_ddb = dynamodb_pb2_grpc.DynamoDBStub(
            grpc.insecure_channel(lab.address("dynamodb.us-west-2")))
        assert west_ddb.GetItem(dynamodb_pb2.GetItemRequest(
            table="customers", pk="customer-1"), timeout=5).found
        lam = lab.procs["lambda.us-west-2"]
        assert lam.metric("chaoslab_service_dependency_calls_total", dependency="iam",
                          outcome="rpc_error", cause="UNAVAILABLE") > 0
    finally:
        lab.dns.set_faults("", probe=DDB_EAST, expect=lambda rc, ips: bool(ips))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            assert _invoke_west(lab, token).result["tier"] == "silver"
            break
        except grpc.RpcError:
            time.sleep(0.1)
    else:
        pytest.fail("us-west-2 Lambda did not recover after the fault was removed")
