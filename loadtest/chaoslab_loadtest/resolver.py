"""Customers resolve the front doors as SDKs do: through the lab's DNS, with a cache.

In October 2025 customers, not only AWS's own services, could not open new connections to
`dynamodb.us-east-1.amazonaws.com` while its record was empty, and connections came back
only as cached DNS answers expired (AWS's post-event summary). An SDK asks its platform's
resolver for every new connection and the platform keeps answers for a while; here every
call asks this cache (each call a new connection: connection churn at its worst), one
cache per Locust process, as the operating system's or the JVM's is one per host.

What the cache keeps, and for how long (RFC 2308 for the negative answers):
- an A answer: its TTL (the smallest in the RRset), at most `max_ttl`;
- NXDOMAIN and NODATA: min(TTL, MINIMUM) of the SOA in the authority section; with no SOA,
  `negative_ttl` (the JVM's `networkaddress.cache.negative.ttl` is 10 s);
- SERVFAIL, REFUSED, a timeout: nothing; the next call asks again.
A failed lookup fails the call as `DnsFailure` (an UNAVAILABLE `grpc.RpcError`, as an SDK
surfaces "could not resolve host"), reported to Locust like any failed call.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import grpc

__all__ = ["DnsFailure", "Entry", "ResolverCache", "ResolvingChannel", "entry_for"]


class DnsFailure(grpc.RpcError):
    """A front door's name did not resolve: the call never left the customer."""

    def __init__(self, name: str, cause: str) -> None:
        super().__init__(f"dns {cause}: {name}")
        self.name, self.cause = name, cause

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return f"could not resolve {self.name}: {self.cause}"


@dataclass(frozen=True)
class Entry:
    """One cached answer: addresses (empty for a negative answer) or a cause, until when."""

    ips: tuple[str, ...]
    cause: str  # "" for an address; nxdomain | nodata (cached), servfail | refused | ...
    ttl: float  # seconds the answer may be kept (0: not cached)


def entry_for(reply: dns.message.Message, *, max_ttl: float, negative_ttl: float) -> Entry:
    """What a reply to an A query is worth to the cache (pure; the unit tests' subject)."""
    rcode = reply.rcode()
    if rcode == dns.rcode.NOERROR:
        ips = tuple(rd.address for rs in reply.answer if rs.rdtype == dns.rdatatype.A
                    for rd in rs)
        if ips:
            ttl = min(rs.ttl for rs in reply.answer if rs.rdtype == dns.rdatatype.A)
            return Entry(ips, "", float(min(ttl, max_ttl)))
        return Entry((), "nodata", _negative(reply, negative_ttl))
    if rcode == dns.rcode.NXDOMAIN:
        return Entry((), "nxdomain", _negative(reply, negative_ttl))
    return Entry((), dns.rcode.to_text(rcode).lower(), 0.0)


def _negative(reply: dns.message.Message, default: float) -> float:
    """RFC 2308 section 5: the SOA's own TTL or its MINIMUM, whichever is less."""
    for rs in reply.authority:
        if rs.rdtype == dns.rdatatype.SOA:
            return float(min(rs.ttl, min(rd.minimum for rd in rs)))
    return default


class ResolverCache:
    """Names to addresses through one DNS server, keeping answers as `entry_for` says."""

    def __init__(self, server: str, *, max_ttl: float = 30.0, negative_ttl: float = 10.0,
                 timeout: float = 1.0, allowed: Iterable[str] = ("127.0.0.0/8",),
                 clock: Callable[[], float] = time.monotonic) -> None:
        host, _, port = server.rpartition(":")
        self.server, self.port = host, int(port)
        self.max_ttl, self.negative_ttl, self.timeout = max_ttl, negative_ttl, timeout
        self.allowed = [ipaddress.ip_network(n) for n in allowed]
        self.clock = clock
        self._cache: dict[str, tuple[float, Entry]] = {}  # name -> (expires, entry)
        self.lookups = 0  # queries sent (the tests' ground truth for what was cached)

    def entry(self, name: str) -> Entry:
        """The cached answer for `name`, or a fresh one from the server."""
        now = self.clock()
        held = self._cache.get(name)
        if held is not None and now < held[0]:
            return held[1]
        self.lookups += 1
        try:
            reply = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), self.server,
                                  port=self.port, timeout=self.timeout)
        except dns.exception.Timeout:
            return Entry((), "timeout", 0.0)
        if reply.flags & dns.flags.TC:
            reply = dns.query.tcp(dns.message.make_query(name, dns.rdatatype.A), self.server,
                                  port=self.port, timeout=self.timeout)
        entry = entry_for(reply, max_ttl=self.max_ttl, negative_ttl=self.negative_ttl)
        if entry.ttl > 0:
            self._cache[name] = (now + entry.ttl, entry)
        else:
            self._cache.pop(name, None)
        return entry

    def resolve(self, name: str) -> str:
        """One address of `name`; DnsFailure when there is none to use."""
        entry = self.entry(name)
        if not entry.ips:
            raise DnsFailure(name, entry.cause)
        ip = entry.ips[0]
        if not any(ipaddress.ip_address(ip) in net for net in self.allowed):
            raise DnsFailure(name, f"disallowed ({ip} outside the lab's networks)")
        return ip


class ResolvingChannel:
    """Stands in for a `grpc.Channel` under a stub: each call resolves the name through the
    cache first, then runs on the shared channel to that address (`channel_for`)."""

    def __init__(self, name: str, port: int, cache: ResolverCache,
                 channel_for: Callable[[str], grpc.Channel],
                 on_dns_failure: Callable[[str, DnsFailure], None]) -> None:
        self.name, self.port, self.cache = name, port, cache
        self.channel_for, self.on_dns_failure = channel_for, on_dns_failure

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        def call(request: Any, **call_kwargs: Any) -> Any:
            try:
                ip = self.cache.resolve(self.name)
            except DnsFailure as exc:
                self.on_dns_failure(method, exc)
                raise
            channel = self.channel_for(f"{ip}:{self.port}")
            return channel.unary_unary(method, *args, **kwargs)(request, **call_kwargs)

        return call
