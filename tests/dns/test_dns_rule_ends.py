"""Rule ends in the real CoreDNS: a rule stops applying by itself 1 s (the skew margin) after
its `until`, with no reload and nobody rewriting the Corefile; one already past its end when
the Corefile is loaded is accepted, inert, and named in the log."""

from __future__ import annotations

import dataclasses
import time

import dns.rcode

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import compile_corefile
from chaoslab_dns.validate import parse_spec

NAME = "dynamodb.us-east-1.aws.internal"
ENDPOINTS = {NAME: "127.0.0.21"}
MARGIN = 1.0  # SkewMargin in dns/coredns/chaoslab/rule.go


def faulted_until(until: float):
    spec = {"faults": [{"target": NAME, "mode": "nxdomain"}], "duration": "1m"}
    scenario = dataclasses.replace(parse_spec(spec, "default", "ends"), until=until)
    return lambda p, m: compile_corefile(local_corefile(p, m, ENDPOINTS), [scenario])


def rcode(server) -> int:
    return server.query(NAME, timeout=0.5).rcode()


def test_a_rule_ends_by_itself_one_margin_after_its_end(launch) -> None:
    end = time.time() + 2.5
    server = launch(faulted_until(end))
    try:
        assert rcode(server) == dns.rcode.NXDOMAIN
        while time.time() < end + MARGIN - 0.15:  # faulted up to the end and the margin ...
            assert rcode(server) == dns.rcode.NXDOMAIN, time.time() - end
            time.sleep(0.05)
        server.wait_until(lambda: rcode(server) == dns.rcode.NOERROR, limit=1.0)
        gone = time.time() - end
        assert MARGIN - 0.15 <= gone < MARGIN + 0.3, gone  # ... and not a moment longer
        assert "until " in server.corefile.read_text()  # the rule is still in the Corefile
    finally:
        server.stop()


def test_a_rule_past_its_end_at_load_is_inert(launch) -> None:
    server = launch(faulted_until(time.time() - 60))
    try:
        answer = server.query(NAME)
        assert answer.rcode() == dns.rcode.NOERROR
        assert [rd.to_text() for rs in answer.answer for rd in rs] == ["127.0.0.21"]
        server.wait_until(lambda: "before this load: inert" in server.log_text(), limit=2.0)
        assert f"fault {NAME}. nxdomain" in server.log_text()
    finally:
        server.stop()
