"""Hypothesis over every RPC of every service: random requests never crash a service.

Requests are generated from the proto descriptors, so a new RPC or field is fuzzed without
touching this file. Any status is fine except the ones that mean "the server broke"
(INTERNAL, UNKNOWN, UNIMPLEMENTED, DATA_LOSS); afterwards every process is still healthy.
"""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaoslab.testkit import services as testlab
from chaoslab_services import catalog
from chaoslab_services.protos import (
    cloudwatch_pb2,
    dynamodb_pb2,
    ec2_pb2,
    iam_pb2,
    kms_pb2,
    lambda_pb2,
    s3_pb2,
    signin_pb2,
    sts_pb2,
)

BROKEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNIMPLEMENTED,
          grpc.StatusCode.DATA_LOSS}
MODULES = {"dynamodb": dynamodb_pb2, "kms": kms_pb2, "iam": iam_pb2, "sts": sts_pb2,
           "signin": signin_pb2, "s3": s3_pb2, "lambda": lambda_pb2,
           "cloudwatch": cloudwatch_pb2, "ec2": ec2_pb2}
KEYS = {"dynamodb": "dynamodb.us-east-1", "kms": "kms.us-east-1", "iam": "iam", "sts": "sts",
        "signin": "signin", "s3": "s3.us-east-1", "lambda": "lambda.us-east-1",
        "cloudwatch": "cloudwatch.us-east-1", "ec2": "ec2.us-east-1"}
BIG = "x" * (1024 * 1024 + 1)
TOKEN: dict[str, str] = {}

# Values that reach deep paths: real names from the bootstrap, plus hostile ones.
NAMES = st.sampled_from(["customers", "counters", "lambda-code-us-east-1", "order-counter",
                         "customer-0", "alias/iam-tokens", "Test", "AWS/Lambda", "pk",
                         "lambda:InvokeFunction", "*", "Allow", "Deny", "Sum",
                         "GreaterThanThreshold", "OK", "ami-0123456789abcdef0", "t3.micro",
                         "i-0123456789abcdef0"])
TEXT = st.one_of(NAMES, st.text(max_size=40), st.just(""), st.just(BIG),
                 st.text(alphabet="\x00\x01\n\t/${}.*", max_size=10))


def rpcs() -> list[tuple[str, str, object]]:
    out = []
    for svc, module in MODULES.items():
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                out.append((svc, method.name, method.input_type))
    return out


def value_strategy(field: FieldDescriptor, depth: int) -> st.SearchStrategy:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        if field.name == "token":
            return st.one_of(st.builds(lambda: TOKEN.get("customer", "")), TEXT)
        return TEXT
    if t == FieldDescriptor.TYPE_BYTES:
        return st.one_of(st.binary(max_size=40), st.just(b""), st.just(BIG.encode()))
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.one_of(st.floats(), st.floats(0, 2e9), st.just(0.0))
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 100))
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    if t == FieldDescriptor.TYPE_MESSAGE:
        return message_strategy(field.message_type, depth + 1)
    return st.integers(-(2**31), 2**31 - 1)


def message_strategy(desc, depth: int = 0) -> st.SearchStrategy:
    if depth > 3:
        return st.just({})
    fields = {}
    for field in desc.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            fields[field.name] = st.dictionaries(TEXT, TEXT, max_size=4)
        elif field.is_repeated:
            fields[field.name] = st.lists(value_strategy(field, depth), max_size=3)
        else:
            fields[field.name] = value_strategy(field, depth)
    return st.fixed_dictionaries({}, optional=fields)


@pytest.fixture(scope="module")
def lab(coredns_binary, tmp_path_factory):
    with testlab.Lab(tmp_path_factory.mktemp("fuzz")) as lab:
        lab.bootstrap(customers=2)
        stub = catalog.stub_class("iam")(grpc.insecure_channel(lab.address("iam")))
        TOKEN["customer"] = stub.Authenticate(iam_pb2.AuthenticateRequest(
            user="customer-0", secret="customer-0-secret"), timeout=5).token
        yield lab


@pytest.fixture(scope="module")
def channels(lab):
    opts = [("grpc.max_send_message_length", 8 * 1024 * 1024)]
    return {svc: grpc.insecure_channel(lab.address(key), options=opts)
            for svc, key in KEYS.items()}


@pytest.mark.parametrize(("svc", "method", "desc"), rpcs(),
                         ids=[f"{s}.{m}" for s, m, _ in rpcs()])
def test_fuzz_rpc(lab, channels, svc, method, desc):
    stub = catalog.stub_class(svc)(channels[svc])
    cls = getattr(MODULES[svc], desc.name)

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(fields=message_strategy(desc))
    def check(fields):
        request = cls(**fields)
        try:
            getattr(stub, method)(request, timeout=10)
        except grpc.RpcError as err:
            assert err.code() not in BROKEN, (method, err.code(), err.details())

    check()


def test_every_process_is_still_healthy(lab):
    for key, proc in lab.procs.items():
        assert proc.proc.poll() is None, key
        stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(proc.address))
        assert stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status == \
            health_pb2.HealthCheckResponse.SERVING
        assert proc.metric("chaoslab_service_requests_total", code="INTERNAL") == 0, key
        assert "Traceback" not in proc.log_tail(100_000), key
