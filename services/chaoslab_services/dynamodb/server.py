"""DynamoDB stand-in: tables of items keyed by (pk, sk), conditional writes, TTL expiry.

It has no dependencies: in the lab DynamoDB itself never breaks, only the DNS name that
points at it does, exactly as on 2025-10-20. State is in memory. Items whose table has a
``ttl_attribute`` are deleted in the background once that attribute (unix seconds) is more
than ``TTL_GRACE`` in the past; like DynamoDB TTL, expiry is not a read filter, so readers
(IAM) check expiry themselves and can say "expired" rather than "unknown".
"""

from __future__ import annotations

import asyncio
import heapq
import time
from dataclasses import dataclass, field
from typing import Any

import grpc

from chaoslab_services.common import validation as v
from chaoslab_services.common.errors import ServiceError, invalid, not_found
from chaoslab_services.common.server import Runtime, rpc
from chaoslab_services.protos import dynamodb_pb2 as pb
from chaoslab_services.protos import dynamodb_pb2_grpc as pb_grpc

MAX_ITEMS = 2_000_000          # per process: a fuzzer or a runaway load test can't eat the host
TTL_GRACE = 60.0               # seconds past expiry before the sweeper deletes an item
DEFAULT_QUERY_LIMIT = 100
MAX_QUERY_LIMIT = 1000


@dataclass
class Table:
    name: str
    ttl_attribute: str = ""
    partitions: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    expiries: list[tuple[float, str, str]] = field(default_factory=list)

    def expired(self, attrs: dict[str, str], now: float) -> bool:
        """Due for deletion: the TTL attribute is more than TTL_GRACE in the past."""
        if not self.ttl_attribute:
            return False
        raw = attrs.get(self.ttl_attribute)
        if raw is None:
            return False
        try:
            return float(raw) + TTL_GRACE <= now
        except ValueError:
            return False

    def get(self, pk: str, sk: str, now: float) -> dict[str, str] | None:
        attrs = self.partitions.get(pk, {}).get(sk)
        if attrs is None or self.expired(attrs, now):
            return None
        return attrs


def _check_condition(cond: pb.Condition, existing: dict[str, str] | None,
                     pk: str, sk: str) -> None:
    for attr in cond.attribute_not_exists:
        present = existing is not None and (attr in ("pk", "sk") or attr in existing)
        if present:
            raise ServiceError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"conditional check failed: attribute {attr!r} exists")
    for exp in cond.expected:
        if existing is None:
            raise ServiceError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"conditional check failed: no item, expected {exp.attribute!r}")
        actual = pk if exp.attribute == "pk" else sk if exp.attribute == "sk" else \
            existing.get(exp.attribute)
        if actual != exp.value:
            raise ServiceError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"conditional check failed: {exp.attribute!r} differs")


def _validate_condition(cond: pb.Condition) -> None:
    for i, attr in enumerate(cond.attribute_not_exists):
        if not attr or not v.ATTR_RE.fullmatch(attr) or len(attr) > v.MAX_NAME:
            raise invalid(f"condition.attribute_not_exists[{i}]", "malformed attribute name")
    for i, exp in enumerate(cond.expected):
        if not exp.attribute or not v.ATTR_RE.fullmatch(exp.attribute) \
                or len(exp.attribute) > v.MAX_NAME:
            raise invalid(f"condition.expected[{i}].attribute", "malformed attribute name")
        v.text(f"condition.expected[{i}].value", exp.value)


class DynamoDBServicer(pb_grpc.DynamoDBServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.tables: dict[str, Table] = {}
        self.items = 0

    def _table(self, name: str) -> Table:
        v.name("table", name)
        table = self.tables.get(name)
        if table is None:
            raise not_found(f"table {name!r} not found")
        return table

    @rpc
    async def CreateTable(self, request: pb.CreateTableRequest) -> pb.CreateTableResponse:
        v.name("table", request.table)
        if request.ttl_attribute:
            if not v.ATTR_RE.fullmatch(request.ttl_attribute) or len(request.ttl_attribute) > 255:
                raise invalid("ttl_attribute", "malformed attribute name")
        if request.table in self.tables:
            return pb.CreateTableResponse(created=False)
        if len(self.tables) >= 1000:
            raise ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED, "table limit (1000) reached")
        self.tables[request.table] = Table(request.table, request.ttl_attribute)
        return pb.CreateTableResponse(created=True)

    @rpc
    async def PutItem(self, request: pb.PutItemRequest) -> pb.PutItemResponse:
        table = self._table(request.table)
        item = request.item
        v.key("item.pk", item.pk)
        v.key("item.sk", item.sk, required=False)
        v.string_map("item.attributes", item.attributes)
        _validate_condition(request.condition)
        now = time.time()
        partition = table.partitions.get(item.pk)
        existing = table.get(item.pk, item.sk, now)
        _check_condition(request.condition, existing, item.pk, item.sk)
        if partition is None:
            partition = table.partitions.setdefault(item.pk, {})
        if item.sk not in partition:
            if self.items >= MAX_ITEMS:
                raise ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"item limit ({MAX_ITEMS}) reached")
            self.items += 1
        attrs = dict(item.attributes)
        partition[item.sk] = attrs
        if table.ttl_attribute and table.ttl_attribute in attrs:
            try:
                expiry = float(attrs[table.ttl_attribute])
                heapq.heappush(table.expiries, (expiry + TTL_GRACE, item.pk, item.sk))
            except ValueError:
                pass
        return pb.PutItemResponse()

    @rpc
    async def GetItem(self, request: pb.GetItemRequest) -> pb.GetItemResponse:
        table = self._table(request.table)
        v.key("pk", request.pk)
        v.key("sk", request.sk, required=False)
        attrs = table.get(request.pk, request.sk, time.time())
        if attrs is None:
            return pb.GetItemResponse(found=False)
        return pb.GetItemResponse(found=True, item=pb.Item(pk=request.pk, sk=request.sk,
                                                           attributes=attrs))

    @rpc
    async def Query(self, request: pb.QueryRequest) -> pb.QueryResponse:
        table = self._table(request.table)
        v.key("pk", request.pk)
        v.key("sk_prefix", request.sk_prefix, required=False)
        if request.limit > MAX_QUERY_LIMIT:
            raise invalid("limit", f"must be <= {MAX_QUERY_LIMIT}, got {request.limit}")
        limit = request.limit or DEFAULT_QUERY_LIMIT
        partition = table.partitions.get(request.pk, {})
        now = time.time()
        out = pb.QueryResponse()
        for sk in sorted(partition, reverse=request.descending):
            if not sk.startswith(request.sk_prefix):
                continue
            attrs = partition[sk]
            if table.expired(attrs, now):
                continue
            out.items.add(pk=request.pk, sk=sk, attributes=attrs)
            if len(out.items) >= limit:
                break
        return out

    @rpc
    async def DeleteItem(self, request: pb.DeleteItemRequest) -> pb.DeleteItemResponse:
        table = self._table(request.table)
        v.key("pk", request.pk)
        v.key("sk", request.sk, required=False)
        _validate_condition(request.condition)
        existing = table.get(request.pk, request.sk, time.time())
        _check_condition(request.condition, existing, request.pk, request.sk)
        return pb.DeleteItemResponse(deleted=self._remove(table, request.pk, request.sk))

    def _remove(self, table: Table, pk: str, sk: str) -> bool:
        partition = table.partitions.get(pk)
        if partition is None or sk not in partition:
            return False
        del partition[sk]
        self.items -= 1
        if not partition:
            del table.partitions[pk]
        return True

    def sweep(self, now: float, budget: int = 10_000) -> int:
        """Removes expired items (at most ``budget``) so TTL'd tables stay bounded."""
        removed = 0
        for table in self.tables.values():
            heap = table.expiries
            while heap and heap[0][0] <= now and removed < budget:
                _, pk, sk = heapq.heappop(heap)
                attrs = table.partitions.get(pk, {}).get(sk)
                if attrs is not None and table.expired(attrs, now):
                    self._remove(table, pk, sk)
                    removed += 1
        return removed

    async def sweeper(self) -> None:
        while True:
            await asyncio.sleep(5.0)
            self.sweep(time.time())


def register(runtime: Runtime) -> list[tuple[Any, Any, str]]:
    servicer = DynamoDBServicer(runtime)
    runtime.background(servicer.sweeper)
    return [(pb_grpc.add_DynamoDBServicer_to_server, servicer, "chaoslab.dynamodb.v1.DynamoDB")]
