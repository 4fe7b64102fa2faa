"""The process around a servicer: gRPC server, health, HTTP probes and metrics, shutdown.

``Runtime`` bundles what every handler needs (config, metrics, capacity, dependencies).
Handlers are plain ``async def Method(self, request)`` bodies decorated with ``@rpc``: the
runtime admits the request to the capacity model, runs the body *detached* from the RPC
(so a client that gives up does not free the worker, as on real servers), maps
``ServiceError``/``DependencyError`` to gRPC statuses and records the request metrics.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from chaoslab_services import catalog
from chaoslab_services.common.capacity import Capacity, CapacityPolicy
from chaoslab_services.common.config import ServiceConfig
from chaoslab_services.common.deps import Dependency, DependencyError
from chaoslab_services.common.dns import DnsResolver
from chaoslab_services.common.errors import ConfigError, ServiceError
from chaoslab_services.common.http import ProbeServer
from chaoslab_services.common.logs import setup_logging
from chaoslab_services.common.metrics import ServiceMetrics
from chaoslab_services.common.resilience import RETRYABLE_CODES, PolicySet
from chaoslab_services.common.undecodable import DecodeGuard
from chaoslab_services.common.validation import MAX_FIELD

# A little above the 1 MiB field limit, so an oversized field reaches validation.
MAX_RECEIVE = MAX_FIELD + 64 * 1024
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_RECEIVE),
    ("grpc.max_send_message_length", 4 * 1024 * 1024),
    ("grpc.so_reuseport", 0),  # a port clash must fail loudly, not split traffic
]


class Runtime:
    """Config, metrics, capacity model and dependency edges of one service process."""

    def __init__(self, config: ServiceConfig, metrics: ServiceMetrics | None = None) -> None:
        self.config = config
        self.service, self.region = config.service, config.region
        self.settings = config.settings
        self.log = logging.getLogger(f"chaoslab_services.{config.service}")
        self.metrics = metrics or ServiceMetrics(config.service, config.region)
        self.capacity = Capacity(CapacityPolicy.from_doc(config.capacity,
                                                         f"capacity.{config.service}"))
        self.metrics.watch_capacity(lambda: self.capacity.queued,
                                    lambda: self.capacity.inflight)
        self.policies = PolicySet(config.policy_doc, config.policy_name)
        self.resolver = DnsResolver(config.dns, source=config.dns_source)
        self.deps: dict[str, Dependency] = {}
        for key in catalog.dependencies(config.service, config.region):
            endpoint = config.endpoints.get(key)
            if endpoint is None:
                raise ConfigError(f"--endpoints: no entry for {key!r}, which {config.service} "
                                  f"depends on (have: {', '.join(sorted(config.endpoints))})")
            self.deps[key] = Dependency(
                key, endpoint.host, endpoint.port, catalog.stub_class(key),
                self.policies.for_edge(config.service, key), self.resolver,
                config.allowed_networks, self.metrics, self.log)
        self.ready = False
        # Extra HTTP pages on --http: path prefix -> handler(method, path, query) (EC2).
        self.http_routes: dict[str, Callable[[str, str, str], tuple[int, str, bytes]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._starters: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def dep(self, key: str) -> Dependency:
        return self.deps[key]

    async def call(self, key: str, method: str, request: Any) -> Any:
        return await self.deps[key].call(method, request)

    def background(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """A long-running loop (flusher, evaluator, sweeper) started with the server."""
        self._starters.append(factory)

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        self._closers.append(closer)

    async def start(self) -> None:
        for factory in self._starters:
            task = asyncio.ensure_future(self._guard(factory))
            self._tasks.add(task)

    async def _guard(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Background loops must not die silently: log and restart after a pause."""
        while True:
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("background task failed; restarting in 1s")
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for closer in self._closers:
            await closer()
        for dep in self.deps.values():
            await dep.close()

    async def handle(self, method: str, body: Callable[[Any], Awaitable[Any]], request: Any,
                     context: grpc.aio.ServicerContext) -> Any:
        start = time.perf_counter()
        admitted = self.capacity.admit()
        if admitted is False:
            self.metrics.shed_one()
            self.metrics.request(method, "RESOURCE_EXHAUSTED", time.perf_counter() - start)
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"{self.service} overloaded: queue full "
                                f"({self.capacity.policy.queue_limit} waiting)")
        deadline = None
        if self.capacity.policy.drop_expired:
            remaining = context.time_remaining()
            if remaining is not None:
                deadline = time.monotonic() + remaining
        work = asyncio.ensure_future(self._work(method, body, request, admitted, deadline))
        work.add_done_callback(_retrieve)
        try:
            response = await asyncio.shield(work)
        except ServiceError as err:
            code, message = err.code, err.message
        except DependencyError as err:
            code, message = dependency_status(err)
        except asyncio.CancelledError:
            # The client's cancel can race the server's own deadline timer by a hair.
            remaining = context.time_remaining()
            expired = remaining is not None and remaining <= 0.05
            self.metrics.request(method, "DEADLINE_EXCEEDED" if expired else "CANCELLED",
                                 time.perf_counter() - start)
            raise
        except Exception:
            self.log.exception("unhandled error", extra={"method": method})
            code, message = grpc.StatusCode.INTERNAL, "internal error"
        else:
            self.metrics.request(method, "OK", time.perf_counter() - start)
            return response
        self.metrics.request(method, code.name, time.perf_counter() - start)
        await context.abort(code, message)

    async def _work(self, method: str, body: Callable[[Any], Awaitable[Any]], request: Any,
                    admitted: Any, deadline: float | None) -> Any:
        if admitted is not True:
            await admitted
        try:
            if deadline is not None and time.monotonic() > deadline:
                raise ServiceError(grpc.StatusCode.DEADLINE_EXCEEDED,
                                   "dropped: the deadline passed while queued")
            service_time = self.capacity.policy.time_for(method)
            if service_time > 0:
                await asyncio.sleep(service_time)
            return await body(request)
        finally:
            self.capacity.release()


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Marks a detached work task's exception as seen (its client may have gone)."""
    if not task.cancelled():
        task.exception()


def dependency_status(err: DependencyError) -> tuple[grpc.StatusCode, str]:
    """A failed dependency is UNAVAILABLE to our caller (retryable), with the cause chain."""
    text = f"dependency {err.dependency} failed: {err.outcome}"
    if err.cause:
        text += f" ({err.cause})"
    if err.details:
        text += f": {err.details[:500]}"
    if err.code is None or err.code in RETRYABLE_CODES:
        return grpc.StatusCode.UNAVAILABLE, text
    return grpc.StatusCode.FAILED_PRECONDITION, text


def rpc(fn: Callable[[Any, Any], Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Turns ``async def Method(self, request)`` into a gRPC handler run by the runtime."""
    name = fn.__name__

    @functools.wraps(fn)
    async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.runtime.handle(name, functools.partial(fn, self), request, context)

    return handler


SERVICE_MODULES = {
    "dynamodb": "chaoslab_services.dynamodb.server",
    "kms": "chaoslab_services.kms.server",
    "iam": "chaoslab_services.iam.server",
    "sts": "chaoslab_services.sts.server",
    "signin": "chaoslab_services.signin.server",
    "s3": "chaoslab_services.s3.server",
    "lambda": "chaoslab_services.lambda_.server",
    "cloudwatch": "chaoslab_services.cloudwatch.server",
    "ec2": "chaoslab_services.ec2.server",
}


async def serve(config: ServiceConfig, *, stop: asyncio.Event | None = None) -> int:
    """Runs one service until SIGTERM/SIGINT (or ``stop``); returns the exit code."""
    log = setup_logging(config.service, config.region, config.log_level)
    runtime = Runtime(config)
    module = importlib.import_module(SERVICE_MODULES[config.service])
    registrations = module.register(runtime)

    # One place for every method's undecodable requests (common/undecodable.py).
    server = grpc.aio.server(options=SERVER_OPTIONS,
                             interceptors=[DecodeGuard(runtime.log, runtime.metrics)])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for add, servicer, _name in registrations:
        add(servicer, server)
    host, port = config.listen
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as exc:
        raise ConfigError(f"--listen: cannot listen on {host}:{port}: {exc}") from None
    if not bound:
        raise ConfigError(f"--listen: cannot listen on {host}:{port} (port in use?)")
    probes = ProbeServer(runtime)
    await probes.start(*config.http)
    await server.start()
    serving = health_pb2.HealthCheckResponse.SERVING
    await health_servicer.set("", serving)
    for _add, _servicer, name in registrations:
        await health_servicer.set(name, serving)
    await runtime.start()
    # Start-up objects live as long as the process: freeze them out of the collector, and
    # collect young objects less often, so GC pauses do not set the request tail latency.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    runtime.ready = True
    log.info("serving", extra={
        "listen": f"{host}:{bound}", "http": f"{config.http[0]}:{probes.port}",
        "dns": f"{config.dns[0]}:{config.dns[1]}", "profile": config.policy_name,
        "dependencies": sorted(runtime.deps), "grpc_services": [r[2] for r in registrations]})

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    await stop.wait()

    log.info("shutting down")
    runtime.ready = False
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace=2.0)
    await runtime.close()
    await probes.close()
    log.info("stopped")
    return 0
