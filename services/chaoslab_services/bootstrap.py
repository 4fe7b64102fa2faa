"""Seeds a running lab: tables, the IAM token key, roles and users, function code in S3,
Lambda functions, customer records and CloudWatch alarms.

Idempotent (every step is a create-or-replace), and it talks to the lab the way services
do -- by name, through the lab's DNS -- so it also proves the names resolve. Credentials
are lab fixtures, known to load tests: ``customer_credentials(i)``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from chaoslab_services.catalog import REGIONS
from chaoslab_services.common.client import LabClient
from chaoslab_services.common.config import Endpoint
from chaoslab_services.protos import (
    cloudwatch_pb2,
    dynamodb_pb2,
    iam_pb2,
    kms_pb2,
    lambda_pb2,
    s3_pb2,
)

ADMIN_USER, ADMIN_SECRET = "lab-admin", "lab-admin-secret"
SERVICE_USERS = {"svc-lambda": "svc-lambda-lab-secret"}
TIERS = ("gold", "silver", "bronze")
DATA_TABLES = ("customers", "counters")

ROLES: dict[str, list[dict[str, list[str] | str]]] = {
    "admin": [{"effect": "Allow", "actions": ["*"], "resources": ["*"]}],
    "customer": [{"effect": "Allow",
                  "actions": ["lambda:InvokeFunction", "cloudwatch:PutMetricData",
                              "cloudwatch:GetMetricStatistics", "cloudwatch:DescribeAlarms"],
                  "resources": ["*"]}],
    "service": [{"effect": "Allow", "actions": ["cloudwatch:PutMetricData"],
                 "resources": ["*"]}],
}

# Function bodies (see lambda_/code.py for the op language).
FUNCTIONS: dict[str, dict[str, Any]] = {
    # A read-modify-write of the customer's counter: 2 DynamoDB calls per invocation.
    "order-counter": {"ops": [
        {"op": "incr", "table": "counters", "pk": "${payload.customer}", "sk": "orders",
         "attribute": "count", "as": "counter"},
        {"op": "emit", "metric": "OrdersPlaced", "value": 1},
        {"op": "return", "attributes": {"customer": "${payload.customer}",
                                        "orders": "${counter.count}"}},
    ]},
    "profile-read": {"ops": [
        {"op": "get", "table": "customers", "pk": "${payload.customer}", "as": "profile"},
        {"op": "return", "attributes": {"customer": "${payload.customer}",
                                        "tier": "${profile.tier}"}},
    ]},
}


def customer_credentials(i: int) -> tuple[str, str]:
    """(user, secret) of lab customer ``i``."""
    return f"customer-{i}", f"customer-{i}-secret"


def code_bucket(region: str) -> str:
    return f"lambda-code-{region}"


async def _gather(limit: int, coros: list[Any]) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with sem:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


async def bootstrap(endpoints: dict[str, Endpoint] | str | Path, dns: str | tuple[str, int], *,
                    regions: tuple[str, ...] | None = None, customers: int = 20,
                    allowed_networks: tuple[str, ...] = ("127.0.0.0/8",),
                    alarm_threshold: float = 5.0) -> dict[str, Any]:
    """Seeds the lab; returns a summary (names and credentials) for logs and load tests.

    ``regions`` defaults to every region whose Lambda is in the endpoints file.
    """
    client = LabClient(endpoints, dns, allowed_networks=allowed_networks)
    if regions is None:
        regions = tuple(r for r in REGIONS if f"lambda.{r}" in client.endpoints)
    try:
        return await _seed(client, regions, customers, alarm_threshold)
    finally:
        await client.close()


async def _seed(client: LabClient, regions: tuple[str, ...], customers: int,
                alarm_threshold: float) -> dict[str, Any]:
    call = client.call
    for region in regions:
        for table in DATA_TABLES:
            await call(f"dynamodb.{region}", "CreateTable",
                       dynamodb_pb2.CreateTableRequest(table=table))
    await call("kms.us-east-1", "CreateKey", kms_pb2.CreateKeyRequest(
        alias="alias/iam-tokens", description="IAM session tokens"))

    for role, statements in ROLES.items():
        await call("iam", "CreateRole", iam_pb2.CreateRoleRequest(
            name=role, statements=[iam_pb2.Statement(**s) for s in statements]))
    users = [(ADMIN_USER, ADMIN_SECRET, "admin")]
    users += [(u, s, "service") for u, s in SERVICE_USERS.items()]
    users += [(*customer_credentials(i), "customer") for i in range(customers)]
    await _gather(8, [call("iam", "CreateUser", iam_pb2.CreateUserRequest(
        name=u, secret=s, role=r)) for u, s, r in users])
    admin = await call("iam", "Authenticate", iam_pb2.AuthenticateRequest(
        user=ADMIN_USER, secret=ADMIN_SECRET, duration_seconds=3600))

    for region in regions:
        ddb = f"dynamodb.{region}"
        await _gather(8, [call(ddb, "PutItem", dynamodb_pb2.PutItemRequest(
            table="customers", item=dynamodb_pb2.Item(
                pk=customer_credentials(i)[0],
                attributes={"tier": TIERS[i % len(TIERS)], "region": region})))
            for i in range(customers)])
        bucket = code_bucket(region)
        await call(f"s3.{region}", "CreateBucket", s3_pb2.CreateBucketRequest(bucket=bucket))
        for name, body in FUNCTIONS.items():
            await call(f"s3.{region}", "PutObject", s3_pb2.PutObjectRequest(
                bucket=bucket, key=f"{name}.json", body=json.dumps(body).encode(),
                content_type="application/json"))
            await call(f"lambda.{region}", "CreateFunction", lambda_pb2.CreateFunctionRequest(
                token=admin.token, name=name, code_bucket=bucket, code_key=f"{name}.json"))
            await call(f"cloudwatch.{region}", "PutMetricAlarm",
                       cloudwatch_pb2.PutMetricAlarmRequest(
                           token=admin.token, alarm=cloudwatch_pb2.Alarm(
                               name=f"{name}-errors", namespace="AWS/Lambda",
                               metric_name="Errors", dimensions={"FunctionName": name},
                               statistic="Sum", period_seconds=60, evaluation_periods=1,
                               threshold=alarm_threshold, comparison="GreaterThanThreshold")))
    return {
        "regions": list(regions),
        "admin": {"user": ADMIN_USER, "secret": ADMIN_SECRET},
        "customers": [dict(zip(("user", "secret"), customer_credentials(i), strict=True))
                      for i in range(customers)],
        "functions": sorted(FUNCTIONS),
        "tables": list(DATA_TABLES),
        "alarms": [f"{name}-errors" for name in FUNCTIONS],
    }
