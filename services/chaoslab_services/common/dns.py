"""Real DNS resolution of ``*.aws.internal`` names, with failures classified by cause.

``DnsResolver`` asks the lab's DNS server with dnspython's async stub resolver (UDP; a
truncated answer is retried over TCP by dnspython, see tests/services/test_svc_dns.py).
Failure causes, as the lab's metrics name them: NXDOMAIN -> ``nxdomain``; SERVFAIL (and
other error rcodes) -> ``servfail``; REFUSED -> ``refused``; NOERROR without an A record
-> ``nodata``; no usable reply within the resolver lifetime -> ``timeout``.

``DnsCache`` is the client-side cache a dependency edge may have. It makes the effect of
client caching on fault visibility a measured, configured thing: TTL honoured (clamped to
``min_ttl..max_ttl``), negative caching of nxdomain/nodata for ``negative_ttl``, and
RFC 8767 serve-stale for up to ``max_stale`` past expiry when a refresh fails with a
cause listed in ``stale_on``; after a failed refresh it serves stale for ``stale_recheck``
before asking again (RFC 8767's failure recheck timer), so a dead DNS server isn't hammered.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from chaoslab_services.common.resilience import DnsCachePolicy


class DnsError(Exception):
    """A failed lookup; ``cause`` is one of nxdomain, servfail, nodata, timeout, refused."""

    def __init__(self, cause: str, name: str, detail: str = "") -> None:
        super().__init__(f"dns {cause} for {name}" + (f": {detail}" if detail else ""))
        self.cause = cause
        self.name = name


@dataclass(frozen=True)
class Answer:
    addresses: tuple[str, ...]
    ttl: float


def _classify_nameserver_errors(errors: list[tuple]) -> tuple[str, str]:
    """Cause from dnspython's NoNameservers error list (rcode text or an exception)."""
    causes = []
    for entry in errors:
        err = entry[3] if len(entry) > 3 else entry[-1]
        if isinstance(err, str):
            causes.append("refused" if err.upper() == "REFUSED" else "servfail")
        else:
            # OSError (port unreachable), EOF, FormError, truncated over TCP: no usable
            # answer came back; for a client that is indistinguishable from silence.
            causes.append("timeout")
    cause = causes[-1] if causes else "servfail"
    detail = "; ".join(f"{e[0]}:{e[2]} {'tcp' if e[1] else 'udp'} {e[3]}" for e in errors)
    return cause, detail


class DnsResolver:
    """One stub resolver pointed at the lab's DNS server (``--dns HOST:PORT``)."""

    def __init__(self, server: tuple[str, int], source: str | None = None) -> None:
        host, port = server
        ip = socket.gethostbyname(host)
        self.server = (ip, port)
        # The address queries leave from: what a client-scoped fault (`clients`) matches.
        self.source = source
        self._resolver = dns.asyncresolver.Resolver(configure=False)
        self._resolver.nameservers = [ip]
        self._resolver.port = port
        self._resolver.cache = None
        self._resolver.retry_servfail = False
        self.queries = 0

    async def query(self, name: str, lifetime: float) -> Answer:
        """A records of ``name``; raises ``DnsError`` with the classified cause."""
        self.queries += 1
        self._resolver.timeout = lifetime
        qname = name if name.endswith(".") else name + "."
        try:
            answer = await self._resolver.resolve(
                qname, dns.rdatatype.A, lifetime=lifetime, search=False, source=self.source)
        except dns.resolver.NXDOMAIN:
            raise DnsError("nxdomain", name) from None
        except dns.resolver.NoAnswer:
            raise DnsError("nodata", name) from None
        except dns.resolver.NoNameservers as exc:
            cause, detail = _classify_nameserver_errors(exc.kwargs.get("errors") or [])
            raise DnsError(cause, name, detail) from None
        except dns.exception.Timeout:
            raise DnsError("timeout", name, f"no reply within {lifetime:.3f}s") from None
        except (dns.exception.DNSException, OSError) as exc:
            raise DnsError("servfail", name, f"{type(exc).__name__}: {exc}") from None
        rrset = answer.rrset
        if rrset is None or not len(rrset):
            raise DnsError("nodata", name)
        ttl = float(answer.chaining_result.minimum_ttl)
        return Answer(tuple(r.address for r in rrset), ttl)


@dataclass
class _Entry:
    addresses: tuple[str, ...]
    expires: float
    recheck_at: float = 0.0


class DnsCache:
    """Per-edge lookups through a ``DnsResolver``, cached according to ``DnsCachePolicy``.

    ``on_result`` receives ``hit | miss | stale | negative_hit`` for every lookup (the
    ``chaoslab_service_dns_cache_total`` metric); with caching disabled every lookup is a
    miss and goes to the server, as a naive client's would.
    """

    def __init__(self, resolver: DnsResolver, policy: DnsCachePolicy,
                 on_result: Callable[[str], None] = lambda _r: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.resolver = resolver
        self.policy = policy
        self._on_result = on_result
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._negative: dict[str, tuple[str, float]] = {}
        self._inflight: dict[str, asyncio.Future[Answer]] = {}

    def fresh(self, name: str) -> tuple[str, ...] | None:
        """The cached answer while its TTL holds (a hit), without a coroutine: hot path."""
        entry = self._entries.get(name)
        if entry is not None and entry.expires > self._clock():
            neg = self._negative.get(name)
            if neg is None:
                self._on_result("hit")
                return entry.addresses
        return None

    async def lookup(self, name: str, lifetime: float) -> tuple[str, ...]:
        p = self.policy
        if not p.enabled:
            self._on_result("miss")
            return (await self.resolver.query(name, lifetime)).addresses
        now = self._clock()
        neg = self._negative.get(name)
        if neg is not None and neg[1] > now:
            self._on_result("negative_hit")
            raise DnsError(neg[0], name, "negative cache")
        entry = self._entries.get(name)
        if entry is not None:
            if entry.expires > now:
                self._on_result("hit")
                return entry.addresses
            if p.serve_stale and entry.recheck_at > now and now < entry.expires + p.max_stale:
                self._on_result("stale")
                return entry.addresses
        try:
            answer = await self._shared_query(name, lifetime)
        except DnsError as err:
            now = self._clock()
            if (entry is not None and p.serve_stale and err.cause in p.stale_on
                    and now < entry.expires + p.max_stale):
                entry.recheck_at = now + p.stale_recheck
                self._on_result("stale")
                return entry.addresses
            if err.cause in ("nxdomain", "nodata") and p.negative_ttl > 0:
                self._negative[name] = (err.cause, now + p.negative_ttl)
            self._on_result("miss")
            raise
        ttl = min(max(answer.ttl, p.min_ttl), p.max_ttl)
        self._entries[name] = _Entry(answer.addresses, self._clock() + ttl)
        self._negative.pop(name, None)
        self._on_result("miss")
        return answer.addresses

    async def _shared_query(self, name: str, lifetime: float) -> Answer:
        """Concurrent misses for one name share a single query (no thundering herd)."""
        fut = self._inflight.get(name)
        if fut is None:
            fut = asyncio.ensure_future(self.resolver.query(name, lifetime))
            self._inflight[name] = fut
            fut.add_done_callback(lambda f: self._done(name, f))
        return await asyncio.shield(fut)

    def _done(self, name: str, fut: asyncio.Future[Answer]) -> None:
        self._inflight.pop(name, None)
        if not fut.cancelled():
            fut.exception()  # retrieved here too, in case every waiter was cancelled
