"""Raw hostile bytes on the wire to every method of every service, through a real channel.

The Hypothesis fuzz (test_svc_fuzz.py) only sends messages a protobuf library can build;
a hostile client sends anything. Here the requests are bytes, sent with a generic
``unary_unary`` call and no serializer: empty, random, corrupt wire format, bad UTF-8 in a
string field, a 3 MiB string, 200 levels of nesting, unknown fields, huge varints. No answer
may be UNKNOWN or INTERNAL; a request that cannot be parsed gets INVALID_ARGUMENT naming
the method (services/README.md, "Undecodable requests"); every process stays healthy; and
the logs hold a few lines per method, not one (or a traceback) per request.
"""

from __future__ import annotations

import json
import random
import time

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chaoslab.testkit import services as testlab
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

MODULES = {"dynamodb.us-east-1": [dynamodb_pb2], "kms.us-east-1": [kms_pb2],
           "iam": [iam_pb2], "sts": [sts_pb2], "signin": [signin_pb2], "s3.us-east-1": [s3_pb2],
           "lambda.us-east-1": [lambda_pb2], "cloudwatch.us-east-1": [cloudwatch_pb2],
           "ec2.us-east-1": [ec2_pb2]}
HEALTH = ("/grpc.health.v1.Health/Check", health_pb2.HealthCheckRequest.DESCRIPTOR)
BROKEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
UNKNOWN_FIELD = 1000  # no message of ours uses this number


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def delimited(number: int, payload: bytes) -> bytes:
    return tag(number, 2) + varint(len(payload)) + payload


def first_field(desc: Descriptor, kind: int) -> FieldDescriptor | None:
    return next((f for f in desc.fields if f.type == kind), None)


def nested(depth: int) -> bytes:
    """``depth`` unknown groups inside each other: parsed recursively by every decoder."""
    return tag(UNKNOWN_FIELD, 3) * depth + tag(UNKNOWN_FIELD, 4) * depth


def payloads(desc: Descriptor, rng: random.Random) -> dict[str, tuple[bytes, bool]]:
    """name -> (request bytes, whether the bytes are certainly not a valid message)."""
    string = first_field(desc, FieldDescriptor.TYPE_STRING)
    message = first_field(desc, FieldDescriptor.TYPE_MESSAGE)
    number = string.number if string else 1
    out: dict[str, tuple[bytes, bool]] = {
        "empty": (b"", False),
        "truncated-length": (tag(number, 2) + varint(50) + b"abc", True),
        "bad-wire-type": (bytes([number << 3 | 7]) + b"\x01\x02", True),
        "field-zero": (b"\x00\x01", True),
        "truncated-varint": (tag(UNKNOWN_FIELD, 0) + b"\xff\xff", True),
        "end-group-unopened": (tag(UNKNOWN_FIELD, 4), True),
        "nested-200": (nested(200), True),
        "unknown-fields": (tag(UNKNOWN_FIELD, 0) + varint(7)
                           + delimited(UNKNOWN_FIELD + 1, b"hostile")
                           + tag(UNKNOWN_FIELD + 2, 5) + b"\x01\x02\x03\x04"
                           + tag(UNKNOWN_FIELD + 3, 1) + b"\x00" * 8, False),
        "varint-11-bytes": (tag(UNKNOWN_FIELD, 0) + b"\xff" * 10 + b"\x01", True),
        "varint-max": (tag(UNKNOWN_FIELD, 0) + b"\xff" * 9 + b"\x01", False),
        "huge-length": (tag(number, 2) + varint(2**63), True),
        "big-string-3MiB": (delimited(number, b"a" * (3 * 1024 * 1024)), False),
    }
    for i in range(6):
        out[f"random-{i}"] = (rng.randbytes(rng.randint(1, 64)), False)
    if string is not None:
        out["bad-utf8"] = (delimited(string.number, b"ok\xff\xfe\xc3\x28"), True)
    if message is not None:
        out["nested-200-in-field"] = (delimited(message.number, nested(200)), True)
    return out


def methods() -> list[tuple[str, str, Descriptor]]:
    out = []
    for key, modules in MODULES.items():
        for module in modules:
            for service in module.DESCRIPTOR.services_by_name.values():
                for method in service.methods:
                    out.append((key, f"/{service.full_name}/{method.name}", method.input_type))
        out.append((key, *HEALTH))
    return out


def log_lines(proc: testlab.ServiceProcess) -> list[str]:
    return proc.log_path.read_text().splitlines()


@pytest.fixture(scope="module")
def lab(coredns_binary, tmp_path_factory):
    with testlab.Lab(tmp_path_factory.mktemp("wire-fuzz")) as lab:
        lab.bootstrap(customers=1)
        yield lab


def test_hostile_bytes_get_proper_statuses_and_bounded_logs(lab):
    rng = random.Random(19)
    before = {key: len(log_lines(proc)) for key, proc in lab.procs.items()}
    opts = [("grpc.max_send_message_length", 8 * 1024 * 1024),
            ("grpc.max_receive_message_length", 8 * 1024 * 1024)]
    channels = {key: grpc.insecure_channel(lab.address(key), options=opts) for key in MODULES}
    broken, misjudged = [], []
    refused: dict[tuple[str, str], int] = {}
    calls = 0
    try:
        for key, method, desc in methods():
            call = channels[key].unary_unary(method, request_serializer=None,
                                             response_deserializer=None)
            for name, (data, invalid) in payloads(desc, rng).items():
                calls += 1
                try:
                    call(data, timeout=10)
                    code, details = grpc.StatusCode.OK, ""
                except grpc.RpcError as err:
                    code, details = err.code(), err.details() or ""
                if code in BROKEN:
                    broken.append((method, name, code.name, details[:120]))
                if invalid and not (code == grpc.StatusCode.INVALID_ARGUMENT
                                    and method.rsplit("/", 1)[1] in details):
                    misjudged.append((method, name, code.name, details[:120]))
                if code == grpc.StatusCode.INVALID_ARGUMENT and "undecodable" in details:
                    refused[(key, method)] = refused.get((key, method), 0) + 1
    finally:
        for channel in channels.values():
            channel.close()
    assert calls > 500
    # The eight certainly-invalid payloads of every method were refused as undecodable.
    assert sum(refused.values()) >= 8 * len(methods()), refused
    assert not broken, broken
    assert not misjudged, misjudged

    for key, proc in lab.procs.items():
        assert proc.proc.poll() is None, key
        with grpc.insecure_channel(proc.address) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING, key
        assert proc.metric("chaoslab_service_requests_total", code="INTERNAL") == 0, key

    time.sleep(1.5)  # the rate limiter's last summary is due one second after the burst
    for key, proc in lab.procs.items():
        new = log_lines(proc)[before[key]:]
        assert not [line for line in new if "Traceback" in line or '"level": "error"' in line], key
        per_method: dict[str, int] = {}
        counted: dict[str, int] = {}
        for line in new:
            doc = json.loads(line)
            if doc.get("msg", "").startswith("undecodable request"):
                per_method[doc["method"]] = per_method.get(doc["method"], 0) + 1
                counted[doc["method"]] = counted.get(doc["method"], 0) + doc["count"]
        sent = {m: n for (k, m), n in refused.items() if k == key}
        # Every refused request is counted, in a few lines per method, not one a request.
        assert counted == sent, (key, counted, sent)
        assert all(n <= 4 for n in per_method.values()), (key, per_method)
        assert len(new) <= 4 * len(sent) + 5, (key, len(new), new[:20])
