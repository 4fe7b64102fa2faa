"""DNS probes: what a resolver really got for each fault target, during and after a fault.

The report proves a fault from CoreDNS's counters; some hypotheses are about the answer
itself (a TC bit over UDP but a whole answer over TCP, an 800 ms lookup). So while a fault
is live, the runner asks the lab's CoreDNS directly, once over UDP and once over TCP, and
keeps what came back and how long it took.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

# A concrete name under each wildcard suffix the scenarios use.
_WILDCARD_EXAMPLE = "dynamodb"


@dataclass(frozen=True)
class Probe:
    """One A query for `name` over `transport` ("udp" | "tcp")."""

    name: str
    transport: str
    at: float  # unix seconds
    seconds: float  # until the reply (or the timeout)
    rcode: str  # "NOERROR", "SERVFAIL", ... or "TIMEOUT"
    truncated: bool
    addresses: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["addresses"] = list(self.addresses)
        d["seconds"] = round(self.seconds, 4)
        return d


def probe_name(target: str) -> str:
    """A fault target ("*.us-east-1.aws.internal" too) -> a name to ask for."""
    return f"{_WILDCARD_EXAMPLE}.{target[2:]}" if target.startswith("*.") else target


def query(server: str, name: str, transport: str, timeout: float = 3.0) -> Probe:
    """One query to `server` ("127.0.0.1:PORT"); no TCP fallback, so TC stays visible."""
    host, _, port = server.rpartition(":")
    msg = dns.message.make_query(name, dns.rdatatype.A)
    start, at = time.monotonic(), time.time()
    try:
        if transport == "udp":
            reply = dns.query.udp(msg, host, port=int(port), timeout=timeout,
                                  ignore_trailing=True, raise_on_truncation=False)
        else:
            reply = dns.query.tcp(msg, host, port=int(port), timeout=timeout)
    except dns.exception.Timeout:
        return Probe(name, transport, at, time.monotonic() - start, "TIMEOUT", False, ())
    addresses = tuple(r.address for rrset in reply.answer if rrset.rdtype == dns.rdatatype.A
                      for r in rrset)
    return Probe(name, transport, at, time.monotonic() - start,
                 dns.rcode.to_text(reply.rcode()), bool(reply.flags & dns.flags.TC), addresses)


def probe_targets(server: str, targets: list[str], timeout: float = 3.0) -> list[Probe]:
    """UDP then TCP for each distinct target."""
    out = []
    for name in dict.fromkeys(probe_name(t) for t in targets):
        for transport in ("udp", "tcp"):
            out.append(query(server, name, transport, timeout))
    return out
