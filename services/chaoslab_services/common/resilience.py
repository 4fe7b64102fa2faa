"""Per-edge resilience policy: timeout, retries, retry budget, circuit breaker, DNS cache.

A policy document (a profile in ``profiles/`` or a ``--policy`` file) has ``defaults`` and
optional ``edges`` overrides keyed by dependency (``dynamodb.us-east-1``) or by
``service->dependency`` (``iam->dynamodb.us-east-1``), the more specific winning. Parsing
is strict: an unknown key is an error, so a typo cannot silently disable a breaker.
The runtime pieces (``RetryBudget``, ``CircuitBreaker``) are plain synchronous objects
driven by ``deps.Dependency``; they take a clock so tests can drive time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from chaoslab_services.common.config import deep_merge, parse_duration
from chaoslab_services.common.errors import ConfigError

RETRY_MODES = ("none", "fixed", "exponential", "exponential_full_jitter")
DNS_CAUSES = ("nxdomain", "servfail", "nodata", "timeout", "refused")

# Codes that say "the dependency (or the path to it) is unhealthy": retried, and counted
# as failures by the breaker. Everything else is an answer from a healthy dependency.
RETRYABLE_CODES = frozenset({
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
})


@dataclass(frozen=True)
class RetryPolicy:
    mode: str = "none"
    max_attempts: int = 1
    base_backoff: float = 0.0
    max_backoff: float = 0.0
    throttle_base_backoff: float | None = None  # after RESOURCE_EXHAUSTED; None = base_backoff

    def backoff(self, attempt: int, rng: random.Random, throttled: bool = False) -> float:
        """Sleep before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        base = self.base_backoff
        if throttled and self.throttle_base_backoff is not None:
            base = self.throttle_base_backoff
        if self.mode == "fixed":
            return base
        capped = min(self.max_backoff, base * (2 ** (attempt - 1)))
        if self.mode == "exponential":
            return capped
        if self.mode == "exponential_full_jitter":
            return rng.uniform(0.0, capped)
        return 0.0


@dataclass(frozen=True)
class BudgetPolicy:
    ratio: float = 0.1            # retries may add this share of the requests in the window
    min_per_second: float = 5.0   # ...and always this many per second (low-traffic edges)
    window: float = 10.0


@dataclass(frozen=True)
class QuotaPolicy:
    """The AWS SDKs' retry quota (standard mode): a token bucket per client."""

    capacity: int = 500
    retry_cost: int = 5           # a retry after a transient error (5xx, connection, DNS)
    timeout_cost: int = 10        # ...after a timeout
    throttle_cost: int = 5        # ...after throttling (our RESOURCE_EXHAUSTED)
    success_increment: int = 1    # given back by a call that succeeded without retrying


@dataclass(frozen=True)
class BreakerPolicy:
    consecutive_failures: int = 0  # 0 = off
    failure_rate: float = 0.0      # 0 = off; share of failures in the window
    min_requests: int = 20         # rate trips only with this many calls in the window
    window: float = 10.0
    open_for: float = 5.0
    half_open_probes: int = 1


@dataclass(frozen=True)
class DnsCachePolicy:
    enabled: bool = False
    min_ttl: float = 0.0
    max_ttl: float = 300.0
    negative_ttl: float = 0.0       # 0 = no negative caching (RFC 2308 allows up to SOA min)
    serve_stale: bool = False       # RFC 8767
    max_stale: float = 0.0
    stale_on: frozenset[str] = frozenset({"servfail", "timeout", "refused"})
    stale_recheck: float = 1.0      # after a failed refresh, serve stale this long before asking


@dataclass(frozen=True)
class EdgePolicy:
    timeout: float = 1.0            # per attempt, DNS lookup included
    dns_timeout: float = 1.0        # resolver lifetime (never longer than timeout)
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    retry_budget: BudgetPolicy | None = None
    breaker: BreakerPolicy | None = None
    dns_cache: DnsCachePolicy = field(default_factory=DnsCachePolicy)
    retry_quota: QuotaPolicy | None = None
    adaptive_rate_limit: bool = False   # the SDKs' adaptive mode: client-side rate limiting


_EDGE_KEYS = {"timeout", "dns_timeout", "retries", "retry_budget", "breaker", "dns_cache",
              "retry_quota", "adaptive_rate_limit"}
_RETRY_KEYS = {"mode", "max_attempts", "base_backoff", "max_backoff", "throttle_base_backoff"}
_QUOTA_KEYS = {"capacity", "retry_cost", "timeout_cost", "throttle_cost", "success_increment"}
_BUDGET_KEYS = {"ratio", "min_per_second", "window"}
_BREAKER_KEYS = {"consecutive_failures", "failure_rate", "min_requests", "window", "open_for",
                 "half_open_probes"}
_CACHE_KEYS = {"enabled", "min_ttl", "max_ttl", "negative_ttl", "serve_stale", "max_stale",
               "stale_on", "stale_recheck"}


def _check_keys(doc: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ConfigError(f"policy {where}: expected a mapping, got {doc!r}")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise ConfigError(f"policy {where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    return doc


def _number(doc: dict[str, Any], key: str, where: str, default: float, lo: float,
            hi: float | None = None, integer: bool = False) -> Any:
    value = doc.get(key, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if integer:
        ok = ok and float(value).is_integer()
    if not ok or value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ConfigError(f"policy {where}.{key}: expected a number {bound}, got {value!r}")
    return int(value) if integer else float(value)


def _duration(doc: dict[str, Any], key: str, where: str, default: float) -> float:
    return parse_duration(doc[key], f"policy {where}.{key}") if key in doc else default


def parse_edge(doc: dict[str, Any], where: str) -> EdgePolicy:
    """Validates one merged edge document into an ``EdgePolicy``."""
    _check_keys(doc, _EDGE_KEYS, where)
    timeout = _duration(doc, "timeout", where, 1.0)
    if timeout <= 0:
        raise ConfigError(f"policy {where}.timeout: must be > 0")

    r = _check_keys(doc.get("retries") or {"mode": "none"}, _RETRY_KEYS, f"{where}.retries")
    mode = r.get("mode", "none")
    if mode not in RETRY_MODES:
        raise ConfigError(f"policy {where}.retries.mode: invalid {mode!r}; one of {RETRY_MODES}")
    attempts = _number(r, "max_attempts", f"{where}.retries", 1 if mode == "none" else 3, 1, 100,
                       integer=True)
    retries = RetryPolicy(
        mode=mode,
        max_attempts=1 if mode == "none" else attempts,
        base_backoff=_duration(r, "base_backoff", f"{where}.retries", 0.0),
        max_backoff=_duration(r, "max_backoff", f"{where}.retries", 10.0),
        throttle_base_backoff=(_duration(r, "throttle_base_backoff", f"{where}.retries", 0.0)
                               if "throttle_base_backoff" in r else None),
    )

    quota = None
    if doc.get("retry_quota"):
        q = _check_keys(doc["retry_quota"], _QUOTA_KEYS, f"{where}.retry_quota")
        w = f"{where}.retry_quota"
        quota = QuotaPolicy(
            capacity=_number(q, "capacity", w, 500, 1, integer=True),
            retry_cost=_number(q, "retry_cost", w, 5, 0, integer=True),
            timeout_cost=_number(q, "timeout_cost", w, 10, 0, integer=True),
            throttle_cost=_number(q, "throttle_cost", w, 5, 0, integer=True),
            success_increment=_number(q, "success_increment", w, 1, 0, integer=True),
        )
    adaptive = doc.get("adaptive_rate_limit", False)
    if not isinstance(adaptive, bool):
        raise ConfigError(f"policy {where}.adaptive_rate_limit: expected true or false, "
                          f"got {adaptive!r}")

    budget = None
    if doc.get("retry_budget"):
        b = _check_keys(doc["retry_budget"], _BUDGET_KEYS, f"{where}.retry_budget")
        budget = BudgetPolicy(
            ratio=_number(b, "ratio", f"{where}.retry_budget", 0.1, 0.0, 10.0),
            min_per_second=_number(b, "min_per_second", f"{where}.retry_budget", 5.0, 0.0),
            window=max(_duration(b, "window", f"{where}.retry_budget", 10.0), 0.1),
        )

    breaker = None
    if doc.get("breaker"):
        c = _check_keys(doc["breaker"], _BREAKER_KEYS, f"{where}.breaker")
        breaker = BreakerPolicy(
            consecutive_failures=_number(c, "consecutive_failures", f"{where}.breaker", 0, 0,
                                         integer=True),
            failure_rate=_number(c, "failure_rate", f"{where}.breaker", 0.0, 0.0, 1.0),
            min_requests=_number(c, "min_requests", f"{where}.breaker", 20, 1, integer=True),
            window=max(_duration(c, "window", f"{where}.breaker", 10.0), 0.1),
            open_for=_duration(c, "open_for", f"{where}.breaker", 5.0),
            half_open_probes=_number(c, "half_open_probes", f"{where}.breaker", 1, 1,
                                     integer=True),
        )
        if not breaker.consecutive_failures and not breaker.failure_rate:
            raise ConfigError(f"policy {where}.breaker: set consecutive_failures or failure_rate")

    d = _check_keys(doc.get("dns_cache") or {}, _CACHE_KEYS, f"{where}.dns_cache")
    stale_on = d.get("stale_on", sorted(DnsCachePolicy.stale_on))
    if not isinstance(stale_on, list) or any(c not in DNS_CAUSES for c in stale_on):
        raise ConfigError(f"policy {where}.dns_cache.stale_on: expected a list of {DNS_CAUSES}, "
                          f"got {stale_on!r}")
    cache = DnsCachePolicy(
        enabled=bool(d.get("enabled", bool(d))),
        min_ttl=_duration(d, "min_ttl", f"{where}.dns_cache", 0.0),
        max_ttl=_duration(d, "max_ttl", f"{where}.dns_cache", 300.0),
        negative_ttl=_duration(d, "negative_ttl", f"{where}.dns_cache", 0.0),
        serve_stale=bool(d.get("serve_stale", False)),
        max_stale=_duration(d, "max_stale", f"{where}.dns_cache", 0.0),
        stale_on=frozenset(stale_on),
        stale_recheck=_duration(d, "stale_recheck", f"{where}.dns_cache", 1.0),
    )
    dns_timeout = min(_duration(doc, "dns_timeout", where, timeout), timeout)
    return EdgePolicy(timeout=timeout, dns_timeout=dns_timeout, retries=retries,
                      retry_budget=budget, breaker=breaker, dns_cache=cache,
                      retry_quota=quota, adaptive_rate_limit=adaptive)


class PolicySet:
    """The parsed policy document; ``for_edge`` resolves defaults + overrides."""

    def __init__(self, doc: dict[str, Any], name: str = "policy") -> None:
        _check_keys(doc, {"description", "defaults", "edges"}, name)
        self.name = name
        self.description = str(doc.get("description", ""))
        self._defaults = doc.get("defaults") or {}
        self._edges = doc.get("edges") or {}
        if not isinstance(self._edges, dict):
            raise ConfigError(f"policy {name}.edges: expected a mapping")
        # Validate everything now, so a bad override fails at start, not at first call.
        parse_edge(self._defaults, "defaults")
        for key, override in self._edges.items():
            parse_edge(deep_merge(self._defaults, override or {}), f"edges.{key}")

    def for_edge(self, service: str, dependency: str) -> EdgePolicy:
        merged = self._defaults
        for key in (dependency, f"{service}->{dependency}"):
            if key in self._edges:
                merged = deep_merge(merged, self._edges[key] or {})
        return parse_edge(merged, f"edges.{service}->{dependency}")


class _Window:
    """Counts per slice over a sliding window (ten slices), for budgets and breakers."""

    SLICES = 10

    def __init__(self, window: float, clock: Callable[[], float]) -> None:
        self._slice = window / self.SLICES
        self._clock = clock
        self._a = [0.0] * self.SLICES
        self._b = [0.0] * self.SLICES
        self._tick = int(clock() / self._slice)

    def _advance(self) -> int:
        tick = int(self._clock() / self._slice)
        gap = tick - self._tick
        if gap > 0:
            for i in range(1, min(gap, self.SLICES) + 1):
                idx = (self._tick + i) % self.SLICES
                self._a[idx] = self._b[idx] = 0.0
            self._tick = tick
        return tick % self.SLICES

    def add(self, a: float = 0.0, b: float = 0.0) -> None:
        idx = self._advance()
        self._a[idx] += a
        self._b[idx] += b

    def sums(self) -> tuple[float, float]:
        self._advance()
        return sum(self._a), sum(self._b)

    def clear(self) -> None:
        self._a = [0.0] * self.SLICES
        self._b = [0.0] * self.SLICES


class RetryBudget:
    """Finagle-style budget: each request deposits ``ratio`` tokens, each retry costs one.

    A floor of ``min_per_second * window`` tokens keeps retries possible on quiet edges.
    When the budget is spent a failed call is not retried (outcome ``budget_exhausted``),
    which is what keeps a retry storm from multiplying load on an overloaded tier.
    """

    def __init__(self, policy: BudgetPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._win = _Window(policy.window, clock)  # a: requests, b: retries

    def deposit(self) -> None:
        self._win.add(a=1.0)

    def try_withdraw(self) -> bool:
        requests, retries = self._win.sums()
        balance = (self.policy.ratio * requests
                   + self.policy.min_per_second * self.policy.window - retries)
        if balance >= 1.0:
            self._win.add(b=1.0)
            return True
        return False


class RetryQuota:
    """The SDK retry quota: a retry withdraws its cost, a success gives tokens back.

    As in the AWS SDKs' standard mode: a call that succeeds after retries returns what its
    retries took; one that succeeds first time adds ``success_increment``; a call that fails
    returns nothing. An empty quota means the failed attempt is final (``budget_exhausted``),
    so a long outage costs one attempt per call instead of ``max_attempts``.
    """

    def __init__(self, policy: QuotaPolicy) -> None:
        self.policy = policy
        self.available = policy.capacity

    def cost(self, kind: str) -> int:
        """``kind``: transient | timeout | throttle."""
        p = self.policy
        return {"timeout": p.timeout_cost, "throttle": p.throttle_cost}.get(kind, p.retry_cost)

    def acquire(self, kind: str) -> int | None:
        """Tokens withdrawn for one retry, or None when the quota cannot pay for it."""
        cost = self.cost(kind)
        if cost > self.available:
            return None
        self.available -= cost
        return cost

    def succeeded(self, spent: int) -> None:
        give = spent if spent else self.policy.success_increment
        self.available = min(self.policy.capacity, self.available + give)


class AdaptiveRateLimiter:
    """Client-side rate limiting of the SDKs' adaptive mode (CUBIC on throttling).

    Off until the first throttling answer; then a token bucket whose fill rate drops to
    ``BETA`` times the measured send rate at each throttle and grows back along a cubic
    curve (CUBIC congestion control) while calls succeed, capped at twice the measured
    rate. ``reserve`` takes a token and says how long to wait for it.
    """

    BETA = 0.7
    SCALE = 0.4
    MIN_FILL_RATE = 0.5
    SMOOTH = 0.8

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        now = clock()
        self.enabled = False
        self.fill_rate = self.MIN_FILL_RATE
        self._capacity = 1.0
        self._tokens = 0.0
        self._last_refill = now
        self.measured_rate = 0.0
        self._count = 0
        self._bucket = int(now * 2) / 2
        self._last_max = 0.0
        self._last_throttle = now
        self._k = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self._capacity,
                           self._tokens + (now - self._last_refill) * self.fill_rate)
        self._last_refill = now

    def reserve(self) -> float:
        """Seconds to wait before sending (0 while disabled); the token is taken now."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        self._refill(now)
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.fill_rate

    def record(self, throttled: bool) -> None:
        now = self._clock()
        self._count += 1
        bucket = int(now * 2) / 2
        if bucket > self._bucket:
            rate = self._count / (bucket - self._bucket)
            self.measured_rate = rate * self.SMOOTH + self.measured_rate * (1 - self.SMOOTH)
            self._count, self._bucket = 0, bucket
        if throttled:
            rate = min(self.measured_rate, self.fill_rate) if self.enabled \
                else self.measured_rate
            self._last_max = rate
            self._k = (rate * (1 - self.BETA) / self.SCALE) ** (1 / 3)
            self._last_throttle = now
            new_rate = rate * self.BETA
            self.enabled = True
        else:
            t = now - self._last_throttle
            new_rate = self.SCALE * (t - self._k) ** 3 + self._last_max
        self._refill(now)
        new_rate = min(new_rate, 2 * self.measured_rate) if self.measured_rate else new_rate
        self.fill_rate = max(new_rate, self.MIN_FILL_RATE)
        self._capacity = max(new_rate, 1.0)
        self._tokens = min(self._tokens, self._capacity)


CLOSED, HALF_OPEN, OPEN = 0, 1, 2


class CircuitBreaker:
    """Closed -> open on consecutive failures or failure rate; open -> half-open after
    ``open_for``; half-open admits ``half_open_probes`` trial calls and closes when all of
    them succeed, re-opens on the first failure.

    ``allow`` returns a ticket (the breaker generation) or None; ``record`` ignores results
    of calls admitted under an older generation, so a slow call from before the trip can't
    close a breaker that opened since.
    """

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[int], None] | None = None) -> None:
        self.policy = policy
        self._clock = clock
        self._on_change = on_change
        self.state = CLOSED
        self._generation = 0
        self._consecutive = 0
        self._win = _Window(policy.window, clock)   # a: calls, b: failures
        self._opened_at = 0.0
        self._probes = 0
        self._probe_ok = 0

    def _set(self, state: int) -> None:
        self.state = state
        self._generation += 1
        self._consecutive = 0
        self._probes = self._probe_ok = 0
        if state == OPEN:
            self._opened_at = self._clock()
        if state == CLOSED:
            self._win.clear()
        if self._on_change:
            self._on_change(state)

    def allow(self) -> int | None:
        if self.state == OPEN:
            if self._clock() - self._opened_at < self.policy.open_for:
                return None
            self._set(HALF_OPEN)
        if self.state == HALF_OPEN:
            if self._probes >= self.policy.half_open_probes:
                return None
            self._probes += 1
        return self._generation

    def record(self, ticket: int, ok: bool) -> None:
        if ticket != self._generation:
            return
        if self.state == HALF_OPEN:
            if not ok:
                self._set(OPEN)
                return
            self._probe_ok += 1
            if self._probe_ok >= self.policy.half_open_probes:
                self._set(CLOSED)
            return
        self._win.add(a=1.0, b=0.0 if ok else 1.0)
        self._consecutive = 0 if ok else self._consecutive + 1
        p = self.policy
        if p.consecutive_failures and self._consecutive >= p.consecutive_failures:
            self._set(OPEN)
            return
        if p.failure_rate and not ok:
            calls, failures = self._win.sums()
            if calls >= p.min_requests and failures / calls >= p.failure_rate:
                self._set(OPEN)
