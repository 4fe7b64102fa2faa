"""Requests the server cannot parse: INVALID_ARGUMENT naming the method, and bounded logs.

Left to grpcio, a request deserializer that raises becomes ``UNKNOWN`` ("Unexpected
DecodeError") plus an ERROR line with a traceback per request, so any client sending garbage
can flood the logs. ``DecodeGuard`` is one server interceptor for every method of every
service (health included): it wraps each handler's deserializer so a parse failure yields a
marker instead of an exception, and the handler answers the marker with INVALID_ARGUMENT
(the status and why: services/README.md, "Undecodable requests"). Failures are logged at
most once per second per method, with the count since the last line.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from chaoslab_services.common.metrics import ServiceMetrics

LOG_EVERY = 1.0  # seconds between two log lines about one method


class Undecodable:
    """Stands in for the request a deserializer could not parse."""

    __slots__ = ("error",)

    def __init__(self, error: str) -> None:
        self.error = error


class RateLimitedLog:
    """At most one warning a second per method; the lines' ``count`` fields sum to the total."""

    def __init__(self, log: logging.Logger, every: float = LOG_EVERY) -> None:
        self.log, self.every = log, every
        self._last: dict[str, float] = {}
        self._pending: dict[str, tuple[int, str]] = {}

    def record(self, method: str, error: str) -> None:
        now = time.monotonic()
        count, _ = self._pending.get(method, (0, ""))
        self._pending[method] = (count + 1, error)
        last = self._last.get(method)
        if last is None or now - last >= self.every:
            self.flush(method)
        elif count == 0:
            # First suppressed one since the last line: its summary is due at last + every.
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            loop.call_later(self.every - (now - last), self.flush, method)

    def flush(self, method: str) -> None:
        count, error = self._pending.pop(method, (0, ""))
        if not count:
            return
        self._last[method] = time.monotonic()
        self.log.warning("undecodable request(s) answered INVALID_ARGUMENT",
                         extra={"method": method, "count": count, "error": error})


def short_error(exc: BaseException) -> str:
    """The parser's reason in one line, without the repr of the bytes."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


class DecodeGuard(aio.ServerInterceptor):
    """Wraps every unary-request handler: unparseable bytes -> INVALID_ARGUMENT, no traceback."""

    def __init__(self, log: logging.Logger, metrics: ServiceMetrics | None = None) -> None:
        self.limited = RateLimitedLog(log)
        self.metrics = metrics

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails],
                                         Awaitable[grpc.RpcMethodHandler]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.request_streaming or handler.request_deserializer is None:
            return handler
        method = details.method
        parse = handler.request_deserializer

        def deserialize(data: bytes) -> Any:
            try:
                return parse(data)
            except Exception as exc:  # DecodeError, RecursionError, UnicodeDecodeError ...
                return Undecodable(short_error(exc))

        if handler.response_streaming:
            stream = handler.unary_stream

            async def unary_stream(request: Any, context: aio.ServicerContext) -> Any:
                if isinstance(request, Undecodable):
                    await self.refuse(method, request, context)
                async for item in stream(request, context):
                    yield item

            return handler._replace(request_deserializer=deserialize, unary_stream=unary_stream)

        unary = handler.unary_unary

        async def unary_unary(request: Any, context: aio.ServicerContext) -> Any:
            if isinstance(request, Undecodable):
                await self.refuse(method, request, context)
            result = unary(request, context)
            return await result if inspect.isawaitable(result) else result

        return handler._replace(request_deserializer=deserialize, unary_unary=unary_unary)

    async def refuse(self, method: str, request: Undecodable,
                     context: aio.ServicerContext) -> None:
        self.limited.record(method, request.error)
        name = method.rsplit("/", 1)[-1]
        if self.metrics is not None and not method.startswith("/grpc."):
            self.metrics.request(name, grpc.StatusCode.INVALID_ARGUMENT.name, 0.0)
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                            f"{method}: undecodable request (not a valid {name} message)")
