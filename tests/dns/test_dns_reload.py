"""How a new Corefile reaches a running CoreDNS: SIGUSR1, the reload plugin, and both.

Observed with CoreDNS 1.14.7 (and documented in dns/coredns/README.md): SIGUSR1 applies a
new Corefile within milliseconds; the ``reload 2s 0s`` plugin applies it within about 2 s;
but after a SIGUSR1 reload the plugin no longer applies changes: either it stops
noticing them (coredns#6263) or its reload fails with "getting old listener file ... use of
closed network connection". CoreDNS keeps the old configuration until the next SIGUSR1, so a
deployment must use one mechanism only.
"""

from __future__ import annotations

import time

import dns.rcode

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import compile_corefile
from chaoslab_dns.validate import parse_spec

NAME = "dynamodb.us-east-1.aws.internal"
ENDPOINTS = {NAME: "127.0.0.21"}


def scenario(mode: str):
    return parse_spec(
        {"faults": [{"target": NAME, "mode": mode}], "duration": "1m"}, "default", mode
    ).injected(time.time())


def rcode_is(server, rcode: int):
    return lambda: server.query(NAME, timeout=0.5).rcode() == rcode


def test_reload_by_interval_then_by_signal(launch) -> None:
    server = launch(lambda p, m: local_corefile(p, m, ENDPOINTS, reload_plugin=True))
    base = server.corefile.read_text()

    server.rewrite(compile_corefile(base, [scenario("nxdomain")]), signal_reload=False)
    assert server.wait_until(rcode_is(server, dns.rcode.NXDOMAIN), limit=5.0) < 3.5

    server.rewrite(compile_corefile(base, [scenario("servfail")]))
    assert server.wait_until(rcode_is(server, dns.rcode.SERVFAIL), limit=2.0) < 1.0

    server.rewrite(base)
    assert server.wait_until(rcode_is(server, dns.rcode.NOERROR), limit=2.0) < 1.0


def test_interval_reload_fails_after_a_signal_reload(launch) -> None:
    """coredns#6263 as seen here; if this starts failing, CoreDNS fixed it: update the README."""
    server = launch(lambda p, m: local_corefile(p, m, ENDPOINTS, reload_plugin=True))
    base = server.corefile.read_text()
    server.rewrite(compile_corefile(base, [scenario("refused")]))
    server.wait_until(rcode_is(server, dns.rcode.REFUSED), limit=2.0)

    server.rewrite(base, signal_reload=False)
    time.sleep(4.5)  # two reload-plugin intervals and then some
    assert server.query(NAME).rcode() == dns.rcode.REFUSED, (
        "the reload plugin applied a change after a SIGUSR1 reload: coredns#6263 looks fixed"
    )

    server.rewrite(base)  # the next signal still works
    server.wait_until(rcode_is(server, dns.rcode.NOERROR), limit=2.0)
