"""gRPC plumbing for Locust: one channel per front door per process, every call reported.

Locust only knows what it is told: `LocustInterceptor` turns each unary call into one
`request` event (request_type "grpc", name "workflow/Method", response time, exception), so
Locust's statistics, its web UI and its CSV/JSON output see gRPC exactly as they see HTTP.
Channels are shared by all users of a process (one HTTP/2 connection per front door, as a
fleet of SDK clients behind a NAT would look); the interceptor, which carries the current
workflow name, is per user and costs nothing to create.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc

_channels: dict[str, grpc.Channel] = {}

# Client-side keepalive keeps a dead front door from hanging a channel; gRPC's own retries
# are off so every attempt is one the load generator chose (config `attempts`).
CHANNEL_OPTIONS = (
    ("grpc.enable_retries", 0),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.max_reconnect_backoff_ms", 1_000),
    ("grpc.initial_reconnect_backoff_ms", 100),
)


def shared_channel(target: str) -> grpc.Channel:
    """The process-wide channel to `target` ("host:port"), made on first use."""
    channel = _channels.get(target)
    if channel is None:
        channel = _channels[target] = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
    return channel


def close_channels() -> None:
    for channel in _channels.values():
        channel.close()
    _channels.clear()


RequestFire = Callable[..., Any]


class LocustInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Reports every unary call to Locust's `request` event under `<workflow>/<Method>`."""

    def __init__(self, fire: RequestFire) -> None:
        self._fire = fire
        self.workflow = "-"  # set by the user before each workflow (one greenlet per user)

    def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        call = continuation(client_call_details, request)
        exception = call.exception()  # waits for the call; cooperative under gevent
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        length = 0
        if exception is None:
            response = call.result()
            length = response.ByteSize() if hasattr(response, "ByteSize") else 0
        method = client_call_details.method
        if isinstance(method, bytes):
            method = method.decode()
        self._fire(
            request_type="grpc",
            name=f"{self.workflow}/{method.rsplit('/', 1)[-1]}",
            response_time=elapsed_ms,
            response_length=length,
            exception=exception,
            context={"workflow": self.workflow},
        )
        return call


def intercepted(target: str, interceptor: LocustInterceptor) -> grpc.Channel:
    return grpc.intercept_channel(shared_channel(target), interceptor)
