"""Lambda stand-in: the tier where the cascade reaches customers.

Invoke = IAM Authorize (global, us-east-1) -> code from the cache, or on a cold start the
function record from DynamoDB and its body from S3 -> the op list against DynamoDB of the
region -> a reply. Invocations/Errors/Duration are buffered and sent to CloudWatch of the
region once per ``metrics_flush_interval`` with the service's own STS credentials, so
losing CloudWatch never fails an invocation but does blind the monitoring. Code is cached
per function for ``code_cache_ttl``; concurrent cold starts of one function share a fetch.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import grpc

from chaoslab_services.common import validation as v
from chaoslab_services.common.auth import ServiceCredentials, authorize
from chaoslab_services.common.config import parse_duration
from chaoslab_services.common.deps import DependencyError
from chaoslab_services.common.errors import ServiceError, invalid, not_found
from chaoslab_services.common.server import Runtime, rpc
from chaoslab_services.common.tables import Tables
from chaoslab_services.lambda_.code import CodeError, Execution, FunctionCode, parse
from chaoslab_services.protos import cloudwatch_pb2, s3_pb2
from chaoslab_services.protos import lambda_pb2 as pb
from chaoslab_services.protos import lambda_pb2_grpc as pb_grpc

FUNCTIONS = "lambda-functions"
NAMESPACE = "AWS/Lambda"
MAX_CACHED = 10_000


@dataclass
class _Cached:
    code: FunctionCode
    fetched: float


class LambdaServicer(pb_grpc.LambdaServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.region = runtime.region
        s = runtime.settings
        self.code_ttl = parse_duration(s.get("code_cache_ttl", "60s"), "settings.code_cache_ttl")
        self.flush_every = parse_duration(s.get("metrics_flush_interval", "1s"),
                                          "settings.metrics_flush_interval")
        self.credentials = ServiceCredentials(runtime, str(s.get("service_user", "svc-lambda")),
                                              str(s.get("service_secret", "")))
        self.tables = Tables(runtime, f"dynamodb.{self.region}")
        self._code: dict[str, _Cached] = {}
        self._loading: dict[str, asyncio.Future[FunctionCode]] = {}
        self._pending: dict[tuple[str, str], list[float]] = {}
        self.metrics_dropped = 0

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:000000000000:function/{name}"

    async def _fetch_body(self, bucket: str, key: str) -> bytes:
        try:
            obj = await self.runtime.call(f"s3.{self.region}", "GetObject",
                                          s3_pb2.GetObjectRequest(bucket=bucket, key=key))
        except DependencyError as err:
            if err.code == grpc.StatusCode.NOT_FOUND:
                raise ServiceError(grpc.StatusCode.FAILED_PRECONDITION,
                                   f"code object s3://{bucket}/{key} not found") from None
            raise
        return obj.body

    async def _load(self, name: str) -> FunctionCode:
        record = await self.tables.get(FUNCTIONS, name)
        if record is None:
            raise not_found(f"function {name!r} not found")
        body = await self._fetch_body(record["bucket"], record["key"])
        try:
            code = parse(body)
        except CodeError as exc:
            raise ServiceError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"function {name!r} code is malformed: {exc}") from None
        if len(self._code) >= MAX_CACHED:
            self._code.clear()
        self._code[name] = _Cached(code, time.monotonic())
        return code

    async def code(self, name: str) -> tuple[FunctionCode, bool]:
        """(code, cold_start): cached code while fresh, else one shared fetch."""
        cached = self._code.get(name)
        if cached is not None and time.monotonic() - cached.fetched < self.code_ttl:
            return cached.code, False
        fut = self._loading.get(name)
        if fut is None:
            fut = asyncio.ensure_future(self._load(name))
            self._loading[name] = fut
            fut.add_done_callback(lambda f: self._loaded(name, f))
        return await asyncio.shield(fut), True

    def _loaded(self, name: str, fut: asyncio.Future[FunctionCode]) -> None:
        self._loading.pop(name, None)
        if not fut.cancelled():
            fut.exception()

    @rpc
    async def CreateFunction(self, request: pb.CreateFunctionRequest) -> pb.CreateFunctionResponse:
        v.name("name", request.name, max_len=64)
        v.name("code_bucket", request.code_bucket)
        v.key("code_key", request.code_key)
        arn = self.arn(request.name)
        await authorize(self.runtime, request.token, "lambda:CreateFunction", arn)
        body = await self._fetch_body(request.code_bucket, request.code_key)
        try:
            parse(body)
        except CodeError as exc:
            raise invalid("code_key", f"s3://{request.code_bucket}/{request.code_key}: {exc}") \
                from None
        created = await self.tables.get(FUNCTIONS, request.name) is None
        await self.tables.put(FUNCTIONS, request.name, {
            "bucket": request.code_bucket, "key": request.code_key, "arn": arn})
        self._code.pop(request.name, None)
        return pb.CreateFunctionResponse(arn=arn, created=created)

    @rpc
    async def Invoke(self, request: pb.InvokeRequest) -> pb.InvokeResponse:
        v.name("function", request.function, max_len=64)
        v.string_map("payload", request.payload)
        await authorize(self.runtime, request.token, "lambda:InvokeFunction",
                        self.arn(request.function))
        start = time.perf_counter()
        request_id = uuid.uuid4().hex
        ok = False
        try:
            code, cold = await self.code(request.function)
            run = Execution(request.function, self.region, request_id, dict(request.payload),
                            self.tables)
            outcome = await run.run(code)
            for metric, value in outcome.metrics:
                self._record(request.function, metric, value)
            ok = True
            return pb.InvokeResponse(result=outcome.result, cold_start=cold,
                                     request_id=request_id)
        finally:
            self._record(request.function, "Invocations", 1.0)
            self._record(request.function, "Errors", 0.0 if ok else 1.0)
            self._record(request.function, "Duration", (time.perf_counter() - start) * 1000.0)

    def _record(self, function: str, metric: str, value: float) -> None:
        if len(self._pending) >= 10_000 and (function, metric) not in self._pending:
            self.metrics_dropped += 1
            return
        agg = self._pending.setdefault((function, metric), [0.0, 0.0])
        agg[0] += 1
        agg[1] += value

    async def flusher(self) -> None:
        """Ships buffered metrics to CloudWatch; a failed flush is dropped, never retried
        into an unbounded backlog."""
        cw = f"cloudwatch.{self.region}"
        while True:
            await asyncio.sleep(self.flush_every)
            if not self._pending:
                continue
            batch, self._pending = self._pending, {}
            req = cloudwatch_pb2.PutMetricDataRequest(namespace=NAMESPACE)
            now = time.time()
            for (function, metric), (count, total) in list(batch.items())[:1000]:
                req.data.add(metric_name=metric, dimensions={"FunctionName": function},
                             value=total / count if metric == "Duration" else total,
                             timestamp=now, count=int(count) if metric == "Duration" else 1)
            try:
                req.token = await self.credentials.token()
                await self.runtime.call(cw, "PutMetricData", req)
            except (DependencyError, ServiceError):
                self.metrics_dropped += len(batch)


def register(runtime: Runtime) -> list[tuple[Any, Any, str]]:
    servicer = LambdaServicer(runtime)
    runtime.background(servicer.flusher)
    return [(pb_grpc.add_LambdaServicer_to_server, servicer, "chaoslab.lambda.v1.Lambda")]
