"""`--dns-source`: a service's DNS queries leave from the address it is given (what a
client-scoped fault matches), and a bad address is refused naming the flag."""

from __future__ import annotations

import asyncio
import socket
import threading

import dns.message
import dns.rcode
import pytest

from chaoslab_services.common.config import ConfigError, _dns_source
from chaoslab_services.common.dns import DnsError, DnsResolver


def test_queries_leave_from_the_given_address() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        seen: list[str] = []

        def answer_once() -> None:
            data, addr = server.recvfrom(4096)
            seen.append(addr[0])
            reply = dns.message.make_response(dns.message.from_wire(data))
            reply.set_rcode(dns.rcode.NXDOMAIN)
            server.sendto(reply.to_wire(), addr)

        thread = threading.Thread(target=answer_once)
        thread.start()
        resolver = DnsResolver(("127.0.0.1", server.getsockname()[1]), source="127.0.0.42")
        with pytest.raises(DnsError) as err:
            asyncio.run(resolver.query("iam.aws.internal", 2.0))
        thread.join(5)
    assert err.value.cause == "nxdomain"
    assert seen == ["127.0.0.42"]


def test_bad_source_names_the_flag() -> None:
    assert _dns_source(None) is None
    assert _dns_source("127.0.0.12") == "127.0.0.12"
    with pytest.raises(ConfigError, match="--dns-source: invalid address 'lambda'"):
        _dns_source("lambda")
