"""``probability`` affects about that share of matching queries, and only those."""

from __future__ import annotations

import time

import dns.rcode
import pytest

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import compile_corefile
from chaoslab_dns.validate import parse_spec

ENDPOINTS = {
    "dynamodb.us-east-1.aws.internal": "127.0.0.21",
    "sqs.us-east-1.aws.internal": "127.0.0.22",
}
QUERIES = 1000


@pytest.mark.parametrize("probability", [0.3])
def test_share_of_faulted_queries(launch, probability: float) -> None:
    spec = {
        "faults": [
            {
                "target": "dynamodb.us-east-1.aws.internal",
                "mode": "nxdomain",
                "probability": probability,
            }
        ],
        "duration": "1m",
    }
    scenario = parse_spec(spec, "default", "flaky").injected(time.time())
    server = launch(lambda p, m: compile_corefile(local_corefile(p, m, ENDPOINTS), [scenario]))
    outcomes = {"NXDOMAIN": 0, "true answer": 0}
    for _ in range(QUERIES):
        r = server.query("dynamodb.us-east-1.aws.internal", timeout=2.0)
        if r.rcode() == dns.rcode.NXDOMAIN:
            outcomes["NXDOMAIN"] += 1
        else:
            assert [rd.to_text() for rs in r.answer for rd in rs] == ["127.0.0.21"]
            outcomes["true answer"] += 1
    share = outcomes["NXDOMAIN"] / QUERIES
    assert abs(share - probability) <= 0.05, outcomes
    # The untargeted neighbour is never affected.
    for _ in range(100):
        r = server.query("sqs.us-east-1.aws.internal", timeout=2.0)
        assert [rd.to_text() for rs in r.answer for rd in rs] == ["127.0.0.22"]
