"""A real gRPC server implementing the customer front doors from the services' protos.

It runs in the test process (threads), answers every workflow's calls, and fails a known
share of Lambda Invokes with UNAVAILABLE, so a test can check that failures reach Locust's
statistics and the exporter's `result="error"` series; or answers Invoke slowly, so a test
can stop customers mid-call.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass, field

import grpc

from chaoslab_services.protos import (
    cloudwatch_pb2,
    cloudwatch_pb2_grpc,
    dynamodb_pb2,
    dynamodb_pb2_grpc,
    iam_pb2,
    iam_pb2_grpc,
    lambda_pb2,
    lambda_pb2_grpc,
    signin_pb2,
    signin_pb2_grpc,
)

INVOKE_FAILS_EVERY = 4  # every 4th Invoke answers UNAVAILABLE


@dataclass
class Calls:
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str) -> int:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            return self.counts[name]


class IAM(iam_pb2_grpc.IAMServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def Authenticate(self, request, context):
        self.calls.add("Authenticate")
        if not request.secret.endswith("-secret"):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad secret")
        return iam_pb2.AuthenticateResponse(token=f"tok-{request.user}",
                                            expires_at=time.time() + 900)


class SignIn(signin_pb2_grpc.SignInServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def ConsoleLogin(self, request, context):
        self.calls.add("ConsoleLogin")
        if not request.secret.endswith("-secret"):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad secret")
        return signin_pb2.ConsoleLoginResponse(token=f"tok-{request.user}",
                                               expires_at=time.time() + 900)


class Lambda(lambda_pb2_grpc.LambdaServicer):
    def __init__(self, calls: Calls, fails_every: int = 0, delay: float = 0.0) -> None:
        self.calls = calls
        self.fails_every = fails_every
        self.delay = delay

    def Invoke(self, request, context):
        n = self.calls.add("Invoke")
        if not request.token.startswith("tok-"):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "no session")
        if self.fails_every and n % self.fails_every == 0:
            context.abort(grpc.StatusCode.UNAVAILABLE, "injected by the test")
        time.sleep(self.delay)
        return lambda_pb2.InvokeResponse(result={"ok": "1"}, request_id=str(n))


class CloudWatch(cloudwatch_pb2_grpc.CloudWatchServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def PutMetricData(self, request, context):
        self.calls.add("PutMetricData")
        return cloudwatch_pb2.PutMetricDataResponse(accepted=len(request.data))

    def DescribeAlarms(self, request, context):
        self.calls.add("DescribeAlarms")
        return cloudwatch_pb2.DescribeAlarmsResponse(
            alarms=[cloudwatch_pb2.Alarm(name="order-counter-errors", state="OK")])


class DynamoDB(dynamodb_pb2_grpc.DynamoDBServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.items: dict[tuple[str, str, str], dynamodb_pb2.Item] = {}

    def PutItem(self, request, context):
        self.calls.add("PutItem")
        self.items[(request.table, request.item.pk, request.item.sk)] = request.item
        return dynamodb_pb2.PutItemResponse()

    def GetItem(self, request, context):
        self.calls.add("GetItem")
        item = self.items.get((request.table, request.pk, request.sk))
        return dynamodb_pb2.GetItemResponse(found=item is not None, item=item)


@dataclass
class FrontDoors:
    server: grpc.Server
    address: str
    calls: Calls

    def stop(self) -> None:
        self.server.stop(grace=None)


def start(invoke_fails_every: int = INVOKE_FAILS_EVERY, invoke_delay: float = 0.0) -> FrontDoors:
    calls = Calls()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    iam_pb2_grpc.add_IAMServicer_to_server(IAM(calls), server)
    signin_pb2_grpc.add_SignInServicer_to_server(SignIn(calls), server)
    lambda_pb2_grpc.add_LambdaServicer_to_server(
        Lambda(calls, invoke_fails_every, invoke_delay), server)
    cloudwatch_pb2_grpc.add_CloudWatchServicer_to_server(CloudWatch(calls), server)
    dynamodb_pb2_grpc.add_DynamoDBServicer_to_server(DynamoDB(calls), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return FrontDoors(server, f"127.0.0.1:{port}", calls)


def targets(address: str) -> dict[str, str]:
    """Every front-door key of both regions at one address."""
    keys = ["iam", "sts", "signin"] + [f"{s}.{r}" for s in ("lambda", "cloudwatch", "dynamodb")
                             for r in ("us-east-1", "us-west-2")]
    return dict.fromkeys(keys, address)
