"""Calls to dependencies: resolve by DNS name, check the address, dial, apply the edge policy.

One ``Dependency`` per edge (e.g. iam -> ``dynamodb.us-east-1``). Each attempt resolves the
endpoint's ``*.aws.internal`` name through the lab's DNS (via the edge's ``DnsCache``),
refuses any address outside ``allowed_networks`` without opening a connection, and calls
``<ip>:<port>`` with a per-attempt timeout that covers the lookup too. Retries, backoff,
budget and breaker follow the edge's ``EdgePolicy``. Every logical call ends in exactly one
``chaoslab_service_dependency_calls_total`` increment with its outcome and cause.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import time
from typing import Any

import grpc

from chaoslab_services.common.dns import DnsCache, DnsError, DnsResolver
from chaoslab_services.common.metrics import ServiceMetrics
from chaoslab_services.common.resilience import (
    RETRYABLE_CODES,
    AdaptiveRateLimiter,
    CircuitBreaker,
    EdgePolicy,
    RetryBudget,
    RetryQuota,
)

MAX_MESSAGE = 4 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    # Our policy is the only retry layer, so its counts are the truth.
    ("grpc.enable_retries", 0),
    # A dependency that comes back must be reachable within a second, not gRPC's default 2 min.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


class DependencyError(Exception):
    """A logical dependency call that failed; ``code`` is set when the dependency answered."""

    def __init__(self, dependency: str, outcome: str, cause: str,
                 code: grpc.StatusCode | None, details: str) -> None:
        super().__init__(f"{dependency}: {outcome} ({cause}): {details}")
        self.dependency = dependency
        self.outcome = outcome
        self.cause = cause
        self.code = code
        self.details = details


class _AttemptFailed(Exception):
    def __init__(self, outcome: str, cause: str, details: str,
                 code: grpc.StatusCode | None = None, retryable: bool = True) -> None:
        super().__init__(details)
        self.outcome, self.cause, self.details = outcome, cause, details
        self.code, self.retryable = code, retryable


class Dependency:
    """One edge of the dependency graph with its resilience policy."""

    def __init__(self, key: str, host: str, port: int, stub_cls: type, policy: EdgePolicy,
                 resolver: DnsResolver, allowed_networks: tuple[Any, ...],
                 metrics: ServiceMetrics, log: logging.Logger | None = None) -> None:
        self.key, self.host, self.port = key, host, port
        self.policy = policy
        self._stub_cls = stub_cls
        self._allowed = allowed_networks
        self._metrics = metrics
        self._log = log or logging.getLogger("chaoslab_services.deps")
        self._rng = random.Random()
        self.cache = DnsCache(resolver, policy.dns_cache, metrics.dns)
        self.budget = RetryBudget(policy.retry_budget) if policy.retry_budget else None
        self.breaker = (CircuitBreaker(policy.breaker, on_change=self._breaker_changed)
                        if policy.breaker else None)
        self.quota = RetryQuota(policy.retry_quota) if policy.retry_quota else None
        self.limiter = AdaptiveRateLimiter() if policy.adaptive_rate_limit else None
        metrics.breaker(key, 0)
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._methods: dict[tuple[str, str], Any] = {}
        self._allowed_cache: dict[str, bool] = {}
        self._last_warn = 0.0
        self._suppressed = 0

    def _breaker_changed(self, state: int) -> None:
        self._metrics.breaker(self.key, state)
        self._log.warning("breaker state changed", extra={
            "dependency": self.key, "state": ("closed", "half-open", "open")[state]})

    def _is_allowed(self, ip: str) -> bool:
        ok = self._allowed_cache.get(ip)
        if ok is None:
            try:
                addr = ipaddress.ip_address(ip)
                ok = any(addr in net for net in self._allowed)
            except ValueError:
                ok = False
            self._allowed_cache[ip] = ok
        return ok

    def _method(self, ip: str, method: str) -> Any:
        fn = self._methods.get((ip, method))
        if fn is None:
            channel = self._channels.get(ip)
            if channel is None:
                target = f"[{ip}]:{self.port}" if ":" in ip else f"{ip}:{self.port}"
                channel = grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
                self._channels[ip] = channel
            fn = getattr(self._stub_cls(channel), method)
            self._methods[(ip, method)] = fn
        return fn

    async def _attempt(self, method: str, request: Any) -> Any:
        start = time.monotonic()
        addresses = self.cache.fresh(self.host)
        if addresses is None:
            try:
                addresses = await self.cache.lookup(self.host, self.policy.dns_timeout)
            except DnsError as err:
                raise _AttemptFailed("dns_error", err.cause, str(err)) from None
        ip = next((a for a in addresses if self._is_allowed(a)), None)
        if ip is None:
            raise _AttemptFailed(
                "dns_error", "disallowed",
                f"{self.host} resolved to {', '.join(addresses)}, outside allowed networks "
                f"{', '.join(str(n) for n in self._allowed)}; not dialled")
        remaining = self.policy.timeout - (time.monotonic() - start)
        if remaining <= 0:
            raise _AttemptFailed("timeout", "DEADLINE_EXCEEDED",
                                 "the DNS lookup used the whole timeout",
                                 grpc.StatusCode.DEADLINE_EXCEEDED)
        try:
            return await self._method(ip, method)(request, timeout=remaining)
        except grpc.aio.AioRpcError as err:
            code = err.code()
            details = err.details() or ""
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise _AttemptFailed("timeout", code.name, details, code) from None
            raise _AttemptFailed("rpc_error", code.name, details, code,
                                 retryable=code in RETRYABLE_CODES) from None

    async def call(self, method: str, request: Any) -> Any:
        """One logical call: attempts per the policy; raises ``DependencyError`` at the end."""
        metrics, key, policy = self._metrics, self.key, self.policy
        if self.budget:
            self.budget.deposit()
        attempt = 0
        spent = 0           # retry-quota tokens this call has withdrawn
        last: _AttemptFailed | None = None
        outcome = ""
        while True:
            ticket = None
            if self.breaker is not None:
                ticket = self.breaker.allow()
                if ticket is None:
                    outcome = "breaker_open"
                    break
            if self.limiter is not None:
                wait = self.limiter.reserve()
                if wait > 0:
                    await asyncio.sleep(wait)
            attempt += 1
            metrics.attempt(key)
            try:
                response = await self._attempt(method, request)
            except _AttemptFailed as failure:
                last = failure
                if self.limiter is not None:
                    self.limiter.record(failure.code == grpc.StatusCode.RESOURCE_EXHAUSTED)
                if self.breaker is not None and ticket is not None:
                    self.breaker.record(ticket, not failure.retryable)
                if not failure.retryable:
                    outcome = failure.outcome
                    break
            else:
                if self.breaker is not None and ticket is not None:
                    self.breaker.record(ticket, True)
                if self.limiter is not None:
                    self.limiter.record(False)
                if self.quota is not None:
                    self.quota.succeeded(spent)
                metrics.dependency_call(key, "ok", "")
                return response
            if attempt >= policy.retries.max_attempts:
                outcome = last.outcome
                break
            if self.budget is not None and not self.budget.try_withdraw():
                outcome = "budget_exhausted"
                break
            throttled = last.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            if self.quota is not None:
                kind = "throttle" if throttled else \
                    "timeout" if last.outcome == "timeout" else "transient"
                cost = self.quota.acquire(kind)
                if cost is None:
                    outcome = "budget_exhausted"
                    break
                spent += cost
            metrics.retry(key)
            delay = policy.retries.backoff(attempt, self._rng, throttled)
            if delay > 0:
                await asyncio.sleep(delay)
        cause = last.cause if last is not None else ""
        metrics.dependency_call(key, outcome, cause)
        details = last.details if last is not None else "circuit breaker is open"
        if last is None or last.retryable:
            self._warn(method, outcome, cause, attempt, details)
        raise DependencyError(key, outcome, cause, last.code if last else None, details)

    def _warn(self, method: str, outcome: str, cause: str, attempts: int, details: str) -> None:
        """At most one log line per edge per 5 s, with the number suppressed in between."""
        now = time.monotonic()
        if now - self._last_warn < 5.0:
            self._suppressed += 1
            return
        self._log.warning("dependency call failed", extra={
            "dependency": self.key, "method": method, "outcome": outcome, "cause": cause,
            "attempts": attempts, "details": details[:300], "suppressed": self._suppressed})
        self._last_warn = now
        self._suppressed = 0

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close(grace=None)
        self._channels.clear()
        self._methods.clear()
