"""Function "code": a small declarative op list, parsed and checked, never executed as Python.

A function body is JSON stored in S3::

    {"ops": [
      {"op": "get",  "table": "customers", "pk": "${payload.customer}", "as": "profile"},
      {"op": "incr", "table": "counters", "pk": "${payload.customer}", "sk": "orders",
       "attribute": "count", "by": 1, "as": "counter"},
      {"op": "put",  "table": "orders", "pk": "${payload.customer}", "sk": "${request_id}",
       "attributes": {"item": "${payload.item}"}},
      {"op": "emit", "metric": "OrdersPlaced", "value": 1},
      {"op": "return", "attributes": {"orders": "${counter.count}", "tier": "${profile.tier}"}}
    ]}

``${payload.X}`` is a payload field (missing -> INVALID_ARGUMENT), ``${NAME.attr}`` an
attribute of an item bound with ``as`` (missing -> ""), and ``${request_id}``,
``${function}``, ``${region}`` are built in. ``incr`` is an optimistic read-modify-write
with a conditional PutItem, retried on conflict, as DynamoDB clients do it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from chaoslab_services.common import validation as v
from chaoslab_services.common.deps import DependencyError
from chaoslab_services.common.errors import ServiceError, invalid

MAX_OPS = 32
INCR_RETRIES = 5
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_.:-]*))?\}")
_BUILTINS = ("request_id", "function", "region")
_OPS = {
    "get": ({"op", "table", "pk"}, {"sk", "as"}),
    "incr": ({"op", "table", "pk", "attribute"}, {"sk", "by", "as"}),
    "put": ({"op", "table", "pk"}, {"sk", "attributes"}),
    "emit": ({"op", "metric"}, {"value"}),
    "return": ({"op", "attributes"}, set()),
}


class CodeError(ValueError):
    """The function body is malformed; the message says where."""


@dataclass(frozen=True)
class FunctionCode:
    ops: tuple[dict[str, Any], ...]
    etag: str = ""


@dataclass
class Outcome:
    result: dict[str, str] = field(default_factory=dict)
    metrics: list[tuple[str, float]] = field(default_factory=list)


def _check_template(value: Any, where: str, bound: set[str]) -> str:
    if not isinstance(value, str):
        raise CodeError(f"{where}: expected a string, got {type(value).__name__}")
    for m in _VAR.finditer(value):
        name, attr = m.group(1), m.group(2)
        if name == "payload" and not attr:
            raise CodeError(f"{where}: use ${{payload.FIELD}}")
        if name not in ("payload", *_BUILTINS) and name not in bound:
            raise CodeError(f"{where}: ${{{name}...}} is not bound by an earlier 'as'")
    return value


def parse(body: bytes) -> FunctionCode:
    """Validates a function body; raises ``CodeError`` naming the offending op and key."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CodeError(f"code is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("ops"), list) or not doc["ops"]:
        raise CodeError("code must be an object with a non-empty 'ops' list")
    if len(doc["ops"]) > MAX_OPS:
        raise CodeError(f"code has {len(doc['ops'])} ops, at most {MAX_OPS}")
    bound: set[str] = set()
    ops = []
    for i, op in enumerate(doc["ops"]):
        where = f"ops[{i}]"
        if not isinstance(op, dict) or op.get("op") not in _OPS:
            raise CodeError(f"{where}: 'op' must be one of {sorted(_OPS)}")
        required, optional = _OPS[op["op"]]
        missing, unknown = required - set(op), set(op) - required - optional
        if missing or unknown:
            raise CodeError(f"{where} ({op['op']}): missing {sorted(missing)}, "
                            f"unknown {sorted(unknown)}")
        if "table" in op and (not isinstance(op["table"], str)
                              or not v.NAME_RE.fullmatch(op["table"])):
            raise CodeError(f"{where}.table: malformed table name {op['table']!r}")
        for key in ("pk", "sk"):
            if key in op:
                _check_template(op[key], f"{where}.{key}", bound)
        attrs = op.get("attributes", {})
        if not isinstance(attrs, dict):
            raise CodeError(f"{where}.attributes: expected an object")
        for k, val in attrs.items():
            if not v.ATTR_RE.fullmatch(k):
                raise CodeError(f"{where}.attributes: malformed attribute name {k!r}")
            _check_template(val, f"{where}.attributes.{k}", bound)
        if op["op"] == "incr":
            if not isinstance(op["attribute"], str) or not v.ATTR_RE.fullmatch(op["attribute"]):
                raise CodeError(f"{where}.attribute: malformed attribute name")
            if not isinstance(op.get("by", 1), int) or isinstance(op.get("by", 1), bool):
                raise CodeError(f"{where}.by: expected an integer")
        if op["op"] == "emit":
            if not isinstance(op["metric"], str) or not v.NAME_RE.fullmatch(op["metric"]):
                raise CodeError(f"{where}.metric: malformed metric name")
            value = op.get("value", 1)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CodeError(f"{where}.value: expected a number")
        if "as" in op:
            if not isinstance(op["as"], str) or not re.fullmatch(r"[A-Za-z_]\w*", op["as"]) \
                    or op["as"] in ("payload", *_BUILTINS):
                raise CodeError(f"{where}.as: malformed or reserved name {op.get('as')!r}")
            bound.add(op["as"])
        ops.append(op)
    return FunctionCode(tuple(ops))


Call = Callable[[str, Any], Awaitable[Any]]


class Execution:
    """One invocation's variables and DynamoDB access."""

    def __init__(self, function: str, region: str, request_id: str,
                 payload: dict[str, str], tables: Any) -> None:
        self.function = function
        self.payload = payload
        self.builtins = {"request_id": request_id, "function": function, "region": region}
        self.vars: dict[str, dict[str, str]] = {}
        self.tables = tables

    def render(self, template: str) -> str:
        def sub(m: re.Match[str]) -> str:
            name, attr = m.group(1), m.group(2)
            if name == "payload":
                if attr not in self.payload:
                    raise invalid(f"payload.{attr}", f"required by function {self.function!r}")
                return self.payload[attr]
            if name in self.builtins:
                return self.builtins[name]
            return self.vars.get(name, {}).get(attr or "", "")
        return _VAR.sub(sub, template)

    def key(self, op: dict[str, Any], name: str) -> str:
        value = self.render(op.get(name, ""))
        return v.key(f"payload (rendered {name})", value, required=(name == "pk"))

    async def run(self, code: FunctionCode) -> Outcome:
        out = Outcome()
        for op in code.ops:
            kind = op["op"]
            if kind == "get":
                item = await self.tables.get(op["table"], self.key(op, "pk"), self.key(op, "sk"))
                if "as" in op:
                    self.vars[op["as"]] = item or {}
            elif kind == "incr":
                value = await self._incr(op)
                if "as" in op:
                    self.vars[op["as"]] = {op["attribute"]: str(value)}
            elif kind == "put":
                attrs = {k: self.render(t) for k, t in op.get("attributes", {}).items()}
                v.string_map("payload (rendered attributes)", attrs)
                await self.tables.put(op["table"], self.key(op, "pk"), attrs, sk=self.key(op, "sk"))
            elif kind == "emit":
                out.metrics.append((op["metric"], float(op.get("value", 1))))
            elif kind == "return":
                out.result = {k: self.render(t) for k, t in op["attributes"].items()}
        return out

    async def _incr(self, op: dict[str, Any]) -> int:
        table, pk, sk, attr = op["table"], self.key(op, "pk"), self.key(op, "sk"), op["attribute"]
        by = int(op.get("by", 1))
        for _ in range(INCR_RETRIES):
            item = await self.tables.get(table, pk, sk)
            try:
                current = int((item or {}).get(attr, "0"))
            except ValueError:
                current = 0
            new = dict(item or {})
            new[attr] = str(current + by)
            try:
                if item is None:
                    await self.tables.put(table, pk, new, sk=sk, not_exists=True)
                else:
                    await self.tables.put(table, pk, new, sk=sk,
                                          expected={attr: item[attr]} if attr in item else None,
                                          not_exists=False)
                return current + by
            except DependencyError as err:
                if err.code != grpc.StatusCode.FAILED_PRECONDITION:
                    raise
        raise ServiceError(grpc.StatusCode.ABORTED,
                           f"incr of {table}/{pk}/{sk} lost {INCR_RETRIES} write races")
