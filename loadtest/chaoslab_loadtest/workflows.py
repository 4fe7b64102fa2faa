"""Customer workflows: what one customer does, as plain functions over gRPC stubs.

Each workflow is what a customer would call one action (a login, a function call, a look at
dashboards, a write and read of their data). It raises on failure and returns normally on
success, so the caller can count workflow outcomes for Prometheus while the interceptor
counts the individual calls for Locust. Nothing here imports Locust: the workflows run just
as well from a plain script or a test.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from chaoslab_loadtest.config import LoadConfig
from chaoslab_services.protos import (
    cloudwatch_pb2,
    cloudwatch_pb2_grpc,
    dynamodb_pb2,
    dynamodb_pb2_grpc,
    ec2_pb2,
    ec2_pb2_grpc,
    iam_pb2,
    iam_pb2_grpc,
    lambda_pb2,
    lambda_pb2_grpc,
    signin_pb2,
    signin_pb2_grpc,
)

# Codes a well-behaved SDK retries (config `attempts`); the rest fail the workflow at once.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                       grpc.StatusCode.RESOURCE_EXHAUSTED})


@dataclass
class Session:
    """One customer: identity, home region, session token and the stubs it talks through."""

    config: LoadConfig
    region: str
    user: str
    secret: str
    channel: Callable[[str], grpc.Channel]  # endpoint key -> channel (intercepted)
    token: str = ""
    expires_at: float = 0.0
    counter: int = 0
    _stubs: dict[str, Any] = field(default_factory=dict)

    def stub(self, key: str, factory: Callable[[grpc.Channel], Any]) -> Any:
        stub = self._stubs.get(key)
        if stub is None:
            stub = self._stubs[key] = factory(self.channel(key))
        return stub

    @property
    def iam(self) -> iam_pb2_grpc.IAMStub:
        return self.stub("iam", iam_pb2_grpc.IAMStub)

    @property
    def console(self) -> signin_pb2_grpc.SignInStub:
        return self.stub("signin", signin_pb2_grpc.SignInStub)

    @property
    def lambda_(self) -> lambda_pb2_grpc.LambdaStub:
        return self.stub(f"lambda.{self.region}", lambda_pb2_grpc.LambdaStub)

    @property
    def cloudwatch(self) -> cloudwatch_pb2_grpc.CloudWatchStub:
        return self.stub(f"cloudwatch.{self.region}", cloudwatch_pb2_grpc.CloudWatchStub)

    @property
    def dynamodb(self) -> dynamodb_pb2_grpc.DynamoDBStub:
        return self.stub(f"dynamodb.{self.region}", dynamodb_pb2_grpc.DynamoDBStub)

    @property
    def ec2(self) -> ec2_pb2_grpc.EC2Stub:
        return self.stub(f"ec2.{self.region}", ec2_pb2_grpc.EC2Stub)

    def call(self, method: Callable[..., Any], request: Any) -> Any:
        """One logical call with the configured SDK-style retries (jittered backoff)."""
        for attempt in range(1, self.config.attempts + 1):
            try:
                return method(request, timeout=self.config.timeout)
            except grpc.RpcError as exc:
                if attempt == self.config.attempts or exc.code() not in RETRYABLE:
                    raise
                time.sleep(random.uniform(0, 0.05 * 2**attempt))
        raise AssertionError("unreachable")


def signin(s: Session) -> None:
    """A console login: the global sign-in endpoint (us-east-1, whatever the customer's
    region), which checks the password with IAM and gets the session from STS."""
    resp = s.call(s.console.ConsoleLogin, signin_pb2.ConsoleLoginRequest(
        user=s.user, secret=s.secret, duration_seconds=s.config.token_seconds))
    s.token, s.expires_at = resp.token, resp.expires_at or time.time() + s.config.token_seconds


def credentials(s: Session) -> None:
    """An SDK's credentials: IAM Authenticate (global) directly, not the console, so
    `invoke` and `metrics` need STS only as their services do."""
    resp = s.call(s.iam.Authenticate, iam_pb2.AuthenticateRequest(
        user=s.user, secret=s.secret, duration_seconds=s.config.token_seconds))
    s.token, s.expires_at = resp.token, resp.expires_at or time.time() + s.config.token_seconds


def _ensure_token(s: Session) -> None:
    if not s.token or time.time() > s.expires_at - 30:
        credentials(s)


def _with_token(s: Session, action: Callable[[], None]) -> None:
    """Runs `action` with a valid session; an UNAUTHENTICATED answer forces one re-login."""
    _ensure_token(s)
    try:
        action()
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.UNAUTHENTICATED:
            raise
        s.token = ""
        credentials(s)
        action()


def invoke(s: Session) -> None:
    """A function call: Lambda Invoke with the customer's token."""
    s.counter += 1

    def action() -> None:
        s.call(s.lambda_.Invoke, lambda_pb2.InvokeRequest(
            token=s.token, function=s.config.lambda_function,
            payload={"customer": s.user, "n": str(s.counter)}))

    _with_token(s, action)


def metrics(s: Session) -> None:
    """A look at monitoring: publish an application metric, then read the alarm states."""
    s.counter += 1

    def action() -> None:
        s.call(s.cloudwatch.PutMetricData, cloudwatch_pb2.PutMetricDataRequest(
            token=s.token, namespace=s.config.metric_namespace,
            data=[cloudwatch_pb2.MetricDatum(
                metric_name="Orders", dimensions={"customer": s.user},
                value=float(random.randint(1, 20)))]))
        s.call(s.cloudwatch.DescribeAlarms, cloudwatch_pb2.DescribeAlarmsRequest(
            token=s.token, name_prefix=s.config.alarm_prefix))

    _with_token(s, action)


def items(s: Session) -> None:
    """The customer's data: write an item, read it back (DynamoDB is called directly)."""
    s.counter += 1
    sk = f"item-{s.counter % 50}"
    s.call(s.dynamodb.PutItem, dynamodb_pb2.PutItemRequest(
        table=s.config.dynamodb_table,
        item=dynamodb_pb2.Item(pk=s.user, sk=sk, attributes={"n": str(s.counter)})))
    s.call(s.dynamodb.GetItem, dynamodb_pb2.GetItemRequest(
        table=s.config.dynamodb_table, pk=s.user, sk=sk))


def launch(s: Session) -> None:
    """A deploy step: launch one instance, then terminate it (so the fleet never fills).

    The launch is what fails while DWFM holds no leases (RESOURCE_EXHAUSTED
    InsufficientInstanceCapacity, retried as an SDK retries throttling)."""
    resp = s.call(s.ec2.RunInstances, ec2_pb2.RunInstancesRequest(
        image_id=s.config.ec2_image, instance_type=s.config.ec2_instance_type, count=1,
        tags={"customer": s.user}))
    s.call(s.ec2.TerminateInstances, ec2_pb2.TerminateInstancesRequest(
        instance_ids=[i.instance_id for i in resp.instances]))


WORKFLOWS: dict[str, Callable[[Session], None]] = {
    "signin": signin,
    "invoke": invoke,
    "metrics": metrics,
    "items": items,
    "launch": launch,
}
