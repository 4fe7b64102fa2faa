"""One DNS query sent from a chosen loopback source address: what that client sees.

Client-scoped faults match the query's source address, so the tests ask "as" a process
by binding its address (any 127.0.0.X is on the loopback interface)."""

from __future__ import annotations

import dns.exception
import dns.message
import dns.query
import dns.rcode


def resolve_from(source: str, name: str, port: int, server: str = "127.0.0.1",
                 timeout: float = 0.5) -> str:
    """"A:<ips>", "NODATA", "TIMEOUT" or the rcode's name (e.g. "SERVFAIL")."""
    query = dns.message.make_query(name, "A")
    try:
        answer = dns.query.udp(query, server, port=port, timeout=timeout, source=source)
    except dns.exception.Timeout:
        return "TIMEOUT"
    rcode = answer.rcode()
    if rcode != dns.rcode.NOERROR:
        return dns.rcode.to_text(rcode)
    ips = sorted(rr.address for rrset in answer.answer for rr in rrset if hasattr(rr, "address"))
    return "A:" + ",".join(ips) if ips else "NODATA"
