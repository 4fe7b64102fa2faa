"""Every fault mode as clients see it, on real CoreDNS, with dnspython and with dig.

One server runs the whole module: its pristine answers are recorded first, then one
scenario with a fault of every mode is injected with SIGUSR1, then reverted; the last test
checks every answer is again exactly what it was before.
"""

from __future__ import annotations

import concurrent.futures
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import compile_corefile
from chaoslab_dns.validate import parse_spec

ENDPOINTS = {
    "dynamodb.us-east-1.aws.internal": "127.0.0.21",
    "sqs.us-east-1.aws.internal": "127.0.0.22",
    "lambda.us-east-1.aws.internal": "127.0.0.23",
    "ec2.us-east-1.aws.internal": "127.0.0.24",
    "s3.us-east-1.aws.internal": "127.0.0.25",
    "monitoring.us-east-1.aws.internal": "127.0.0.26",
    "kinesis.us-east-1.aws.internal": "127.0.0.27",
    "iam.aws.internal": "127.0.0.28",
    "sts.aws.internal": "127.0.0.29",
    "us-west-2.aws.internal": "127.0.0.30",
    "dynamodb.us-west-2.aws.internal": "127.0.0.31",
    "sqs.us-west-2.aws.internal": "127.0.0.32",
}
SPEC = {
    "faults": [
        {"target": "sqs.us-east-1.aws.internal", "mode": "nxdomain"},
        {"target": "lambda.us-east-1.aws.internal", "mode": "servfail"},
        {"target": "ec2.us-east-1.aws.internal", "mode": "refused"},
        {"target": "dynamodb.us-east-1.aws.internal", "mode": "nodata"},
        {"target": "s3.us-east-1.aws.internal", "mode": "timeout"},
        {"target": "monitoring.us-east-1.aws.internal", "mode": "delay", "delay": "800ms"},
        {"target": "sts.aws.internal", "mode": "truncate"},
        {"target": "iam.aws.internal", "mode": "redirect", "redirectTo": "192.0.2.10"},
        {"target": "*.us-west-2.aws.internal", "mode": "servfail"},
    ],
    "duration": "5m",
}
DELAY = 0.8
# Names no fault targets: same zone, the wildcard's own suffix, below an exact target, the
# other zone, other types.
UNTARGETED = [
    ("kinesis.us-east-1.aws.internal", "A"),
    ("kinesis.us-east-1.aws.internal", "AAAA"),
    ("us-west-2.aws.internal", "A"),
    ("x.dynamodb.us-east-1.aws.internal", "A"),
    ("nope.aws.internal", "A"),
    ("aws.internal", "SOA"),
    ("www.lab.test", "A"),
    ("api.lab.test", "A"),
    ("nope.lab.test", "A"),
]
TARGETED = [(name, rdtype) for name in ENDPOINTS for rdtype in ("A", "AAAA")]


@dataclass(frozen=True)
class Seen:
    """What a client observed, normalised across dnspython and dig."""

    status: str  # rcode name, or TIMEOUT
    tc: bool = False
    answers: tuple[str, ...] = ()
    elapsed: float = 0.0


# mode -> [(name, type, transport, expected)]; transport: udp (no TCP retry), tcp, auto
# (the client's normal behaviour: retry over TCP when truncated).
EXPECT: dict[str, list[tuple[str, str, str, Seen]]] = {
    "nxdomain": [("sqs.us-east-1.aws.internal", "A", "auto", Seen("NXDOMAIN"))],
    "servfail": [
        ("lambda.us-east-1.aws.internal", "A", "auto", Seen("SERVFAIL")),
        ("dynamodb.us-west-2.aws.internal", "A", "auto", Seen("SERVFAIL")),
        ("sqs.us-west-2.aws.internal", "AAAA", "tcp", Seen("SERVFAIL")),
    ],
    "refused": [("ec2.us-east-1.aws.internal", "A", "auto", Seen("REFUSED"))],
    "nodata": [
        ("dynamodb.us-east-1.aws.internal", "A", "auto", Seen("NOERROR")),
        ("dynamodb.us-east-1.aws.internal", "AAAA", "tcp", Seen("NOERROR")),
    ],
    "timeout": [
        ("s3.us-east-1.aws.internal", "A", "udp", Seen("TIMEOUT")),
        ("s3.us-east-1.aws.internal", "A", "tcp", Seen("TIMEOUT")),
    ],
    "delay": [
        ("monitoring.us-east-1.aws.internal", "A", "auto", Seen("NOERROR", answers=("127.0.0.26",)))
    ],
    "truncate": [
        ("sts.aws.internal", "A", "udp", Seen("NOERROR", tc=True)),
        ("sts.aws.internal", "A", "tcp", Seen("NOERROR", answers=("127.0.0.29",))),
        ("sts.aws.internal", "A", "auto", Seen("NOERROR", answers=("127.0.0.29",))),
    ],
    "redirect": [
        ("iam.aws.internal", "A", "auto", Seen("NOERROR", answers=("192.0.2.10",))),
        ("iam.aws.internal", "AAAA", "auto", Seen("NOERROR")),
    ],
}


def with_dnspython(server, name: str, rdtype: str, transport: str) -> Seen:
    q = dns.message.make_query(name, rdtype)
    start = time.monotonic()
    try:
        if transport == "udp":
            r = dns.query.udp(q, "127.0.0.1", port=server.port, timeout=1.0)
        elif transport == "tcp":
            r = dns.query.tcp(q, "127.0.0.1", port=server.port, timeout=1.0)
        else:
            r, _ = dns.query.udp_with_fallback(q, "127.0.0.1", port=server.port, timeout=2.0)
    except dns.exception.Timeout:
        return Seen("TIMEOUT", elapsed=time.monotonic() - start)
    answers = tuple(sorted(rd.to_text() for rrset in r.answer for rd in rrset))
    return Seen(
        dns.rcode.to_text(r.rcode()),
        bool(r.flags & dns.flags.TC),
        answers,
        time.monotonic() - start,
    )


def with_dig(server, name: str, rdtype: str, transport: str) -> Seen:
    options = {"udp": ("+ignore",), "tcp": ("+tcp",), "auto": ()}[transport]
    start = time.monotonic()
    out = server.dig(name, rdtype, *options)
    elapsed = time.monotonic() - start
    if out.exit_code == 9 or "timed out" in out.text:
        return Seen("TIMEOUT", elapsed=elapsed)
    assert out.exit_code == 0, out.text
    return Seen(out.status, "tc" in out.flags, tuple(sorted(a[2] for a in out.answers)), elapsed)


CLIENTS = {"dnspython": with_dnspython, "dig": with_dig}


def snapshot(server, keys: list[tuple[str, str]] | None = None) -> dict[tuple[str, str], tuple]:
    """Answers in full (rcode, AA/TC flags, answer and authority sections), over UDP."""
    seen = {}
    for name, rdtype in TARGETED + UNTARGETED if keys is None else keys:
        r = server.query(name, rdtype, timeout=2.0)
        seen[name, rdtype] = (
            r.rcode(),
            r.flags & (dns.flags.AA | dns.flags.TC),
            sorted(rrset.to_text() for rrset in r.answer),
            sorted(rrset.to_text() for rrset in r.authority),
        )
    return seen


@pytest.fixture(scope="module")
def lab(launch) -> Iterator[tuple[object, str, dict]]:
    def make(port: int, metrics_port: int) -> str:
        return local_corefile(port, metrics_port, ENDPOINTS)

    server = launch(make)
    base = server.corefile.read_text()
    before = snapshot(server)
    yield server, base, before
    server.stop()


@pytest.fixture(scope="module")
def faulted(lab):
    server, base, _ = lab
    scenario = parse_spec(SPEC, "gameday", "every-mode").injected(time.time())
    server.rewrite(compile_corefile(base, [scenario]))
    server.wait_until(
        lambda: server.query("sqs.us-east-1.aws.internal").rcode() == dns.rcode.NXDOMAIN
    )
    return server


def test_before_faults_every_endpoint_resolves(lab) -> None:
    server, _, before = lab
    for name, ip in ENDPOINTS.items():
        assert before[name, "A"][0] == dns.rcode.NOERROR
        assert before[name, "A"][2] == [f"{name}. 5 IN A {ip}"]
        assert before[name, "AAAA"][:3] == (dns.rcode.NOERROR, dns.flags.AA, [])
    assert before["nope.aws.internal", "A"][0] == dns.rcode.NXDOMAIN
    assert before["nope.lab.test", "A"][0] == dns.rcode.NXDOMAIN
    assert server.dig("iam.aws.internal").answers == [("iam.aws.internal.", "A", "127.0.0.28")]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("mode", EXPECT)
def test_mode_observed(faulted, mode: str, client: str) -> None:
    for name, rdtype, transport, want in EXPECT[mode]:
        seen = CLIENTS[client](faulted, name, rdtype, transport)
        assert (seen.status, seen.tc, seen.answers) == (want.status, want.tc, want.answers), (
            f"{client} {name} {rdtype} over {transport}"
        )
        if mode == "delay":
            assert DELAY <= seen.elapsed < DELAY + 1.0, seen
        elif mode != "timeout":
            assert seen.elapsed < DELAY, seen


def test_delays_do_not_queue(faulted) -> None:
    """Each delayed query waits on its own: 8 at once finish in about one delay."""
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        jobs = [
            pool.submit(faulted.query, "monitoring.us-east-1.aws.internal", timeout=5)
            for _ in range(8)
        ]
        assert all(j.result().answer for j in jobs)
    assert time.monotonic() - start < 2 * DELAY


def test_untargeted_names_unchanged_during_faults(faulted, lab) -> None:
    _, _, before = lab
    now = snapshot(faulted, UNTARGETED)
    assert now == {k: before[k] for k in UNTARGETED}


def test_metrics_count_injected_faults(faulted) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{faulted.metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    assert (
        'coredns_chaoslab_faults_injected_total{mode="nxdomain",scenario="gameday/every-mode"'
        in text
    )


def test_revert_restores_exact_base_answers(faulted, lab) -> None:
    server, base, before = lab
    server.rewrite(base)
    server.wait_until(
        lambda: server.query("sqs.us-east-1.aws.internal").rcode() == dns.rcode.NOERROR
    )
    assert snapshot(server) == before
