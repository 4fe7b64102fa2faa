"""DynamoDB tables a service owns, created on first use.

DynamoDB keeps its state in memory, so after a restart a table may be gone; services
recreate what they need (CreateTable is idempotent) instead of relying on a bootstrap
having run after the last restart. Startup itself never calls a dependency: a service must
come up while DNS is broken, and report the failure per request.
"""

from __future__ import annotations

from typing import Any

import grpc

from chaoslab_services.common.deps import DependencyError
from chaoslab_services.protos import dynamodb_pb2


class Tables:
    """Calls one DynamoDB endpoint, creating a missing table once and retrying the call."""

    def __init__(self, runtime: Any, dependency: str, ttl_attributes: dict[str, str] | None = None):
        self.runtime = runtime
        self.dependency = dependency
        self.ttl_attributes = ttl_attributes or {}

    async def call(self, method: str, request: Any) -> Any:
        try:
            return await self.runtime.call(self.dependency, method, request)
        except DependencyError as err:
            if err.code != grpc.StatusCode.NOT_FOUND or "table" not in err.details:
                raise
        await self.runtime.call(self.dependency, "CreateTable", dynamodb_pb2.CreateTableRequest(
            table=request.table, ttl_attribute=self.ttl_attributes.get(request.table, "")))
        return await self.runtime.call(self.dependency, method, request)

    async def get(self, table: str, pk: str, sk: str = "") -> dict[str, str] | None:
        """The item's attributes, or None when there is no such item."""
        resp = await self.call("GetItem", dynamodb_pb2.GetItemRequest(table=table, pk=pk, sk=sk))
        return dict(resp.item.attributes) if resp.found else None

    async def put(self, table: str, pk: str, attributes: dict[str, str], *, sk: str = "",
                  not_exists: bool = False, expected: dict[str, str] | None = None) -> None:
        cond = dynamodb_pb2.Condition()
        if not_exists:
            cond.attribute_not_exists.append("pk")
        for attr, value in (expected or {}).items():
            cond.expected.add(attribute=attr, value=value)
        await self.call("PutItem", dynamodb_pb2.PutItemRequest(
            table=table, item=dynamodb_pb2.Item(pk=pk, sk=sk, attributes=attributes),
            condition=cond))
