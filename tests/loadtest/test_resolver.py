"""The customers' resolver cache: what each kind of reply is kept for (pure, dnspython
messages built as CoreDNS sends them; the live behaviour is in tests/lab)."""

from __future__ import annotations

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import grpc
import pytest

from chaoslab_loadtest.resolver import DnsFailure, ResolverCache, entry_for

NAME = "dynamodb.us-east-1.aws.internal."
def reply(rcode: int = dns.rcode.NOERROR, a: tuple[int, str] | None = None,
          soa: tuple[int, int] | None = None) -> dns.message.Message:
    """A reply to an A query: `a` = (ttl, address), `soa` = (its ttl, its MINIMUM)."""
    msg = dns.message.make_response(dns.message.make_query(NAME, dns.rdatatype.A))
    msg.set_rcode(rcode)
    if a:
        msg.answer.append(dns.rrset.from_text(NAME, a[0], "IN", "A", a[1]))
    if soa:
        msg.authority.append(dns.rrset.from_text(
            "aws.internal.", soa[0], "IN", "SOA",
            f"ns.aws.internal. hostmaster.aws.internal. 1 7200 1800 86400 {soa[1]}"))
    return msg


@pytest.mark.parametrize(("msg", "ips", "cause", "ttl"), [
    (reply(a=(5, "127.0.0.1")), ("127.0.0.1",), "", 5.0),
    (reply(a=(300, "127.0.0.1")), ("127.0.0.1",), "", 30.0),  # capped at max_ttl
    # RFC 2308: the SOA's TTL or its MINIMUM, whichever is less
    (reply(soa=(5, 3)), (), "nodata", 3.0),
    (reply(dns.rcode.NXDOMAIN, soa=(2, 60)), (), "nxdomain", 2.0),
    (reply(), (), "nodata", 10.0),  # no SOA (the chaoslab plugin's nodata): negative_ttl
    (reply(dns.rcode.SERVFAIL), (), "servfail", 0.0),  # never kept
    (reply(dns.rcode.REFUSED), (), "refused", 0.0),
])
def test_what_a_reply_is_kept_for(msg: dns.message.Message, ips: tuple[str, ...], cause: str,
                                  ttl: float) -> None:
    entry = entry_for(msg, max_ttl=30.0, negative_ttl=10.0)
    assert (entry.ips, entry.cause, entry.ttl) == (ips, cause, ttl)


def test_a_failure_is_an_unavailable_rpc_error() -> None:
    """Workflows and the user class count grpc.RpcError; an SDK retries UNAVAILABLE."""
    exc = DnsFailure(NAME, "nodata")
    assert isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.UNAVAILABLE
    assert "nodata" in exc.details() and NAME in exc.details()


def test_an_address_outside_the_lab_is_refused() -> None:
    cache = ResolverCache("127.0.0.1:9", allowed=("127.0.0.0/8",))
    cache._cache["x.aws.internal"] = (float("inf"), entry_for(
        reply(a=(5, "10.1.2.3")), max_ttl=30, negative_ttl=10))
    with pytest.raises(DnsFailure, match="disallowed"):
        cache.resolve("x.aws.internal")
