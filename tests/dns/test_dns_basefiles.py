"""The local lab's base Corefile: authoritative answers for aws.internal and lab.test."""

from __future__ import annotations

import dns.rcode
import dns.rdatatype
import pytest

from chaoslab_dns.basefiles import LAB_TEST_RECORDS, local_corefile, zone_records
from chaoslab_dns.corefile import BEGIN_MARKER, END_MARKER, check_corefile

ENDPOINTS = {
    "dynamodb.us-east-1.aws.internal": "127.0.0.1",
    "IAM.aws.internal.": "127.0.0.2",
}


def test_shape() -> None:
    text = local_corefile(5353, 9153, ENDPOINTS)
    check_corefile(text)
    assert text.count(BEGIN_MARKER) == text.count(END_MARKER) == 2
    assert "aws.internal:5353 {" in text and "lab.test:5353 {" in text
    assert "    reload " not in text  # the lab reloads by SIGUSR1 only (coredns#6263)
    assert text.count("prometheus 127.0.0.1:9153") == 2
    with_plugin = local_corefile(5353, 9153, ENDPOINTS, reload_plugin=True)
    assert with_plugin.count("    reload 2s 0s\n") == 2
    assert "health" not in text  # SIGUSR1 + health port clash, coredns#1722
    assert "forward" not in text  # nothing leaves the machine
    assert local_corefile(5353, 9153, dict(reversed(ENDPOINTS.items()))) == text


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ({"dynamodb.aws.internal.evil": "127.0.0.1"}, "not a name inside 'aws.internal'"),
        ({"aws.internal": "127.0.0.1"}, "not a name inside"),
        ({"*.aws.internal": "127.0.0.1"}, "not a name inside"),
        ({"a b.aws.internal": "127.0.0.1"}, "invalid DNS name"),
        ({"x.aws.internal": "::1"}, "not an IPv4 address"),
        ({"x.aws.internal": '127.0.0.1"'}, "not an IPv4 address"),
    ],
)
def test_bad_endpoints(endpoints: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        local_corefile(5353, 9153, endpoints)


@pytest.mark.parametrize(("port", "ttl"), [(0, 5), (65536, 5), (True, 5), (53, -1), (53, 1.5)])
def test_bad_ports_and_ttl(port: int, ttl: int) -> None:
    with pytest.raises(ValueError):
        local_corefile(port, 9153, ENDPOINTS, ttl=ttl)


def test_zone_records_is_deterministic() -> None:
    assert zone_records("lab.test", LAB_TEST_RECORDS, 5) == zone_records(
        "lab.test", dict(reversed(LAB_TEST_RECORDS.items())), 5
    )


def test_served_answers(launch) -> None:
    server = launch(lambda p, m: local_corefile(p, m, ENDPOINTS, ttl=7))

    def answer(name: str, rdtype: str = "A"):
        r = server.query(name, rdtype)
        return dns.rcode.to_text(r.rcode()), [rs.to_text() for rs in r.answer], r

    assert answer("dynamodb.us-east-1.aws.internal")[:2] == (
        "NOERROR",
        ["dynamodb.us-east-1.aws.internal. 7 IN A 127.0.0.1"],
    )
    assert answer("iam.aws.internal")[:2] == ("NOERROR", ["iam.aws.internal. 7 IN A 127.0.0.2"])
    assert answer("IAM.AWS.INTERNAL")[0] == "NOERROR"
    for name, ip in LAB_TEST_RECORDS.items():
        assert answer(name)[:2] == ("NOERROR", [f"{name}. 7 IN A {ip}"])

    # Other types of an existing name: NODATA with the SOA for negative caching.
    status, answers, r = answer("iam.aws.internal", "AAAA")
    assert (status, answers) == ("NOERROR", [])
    assert r.authority[0].rdtype == dns.rdatatype.SOA and r.authority[0].ttl == 7

    # Unknown names: authoritative NXDOMAIN with SOA, in both zones.
    for name in ("nope.aws.internal", "x.iam.aws.internal", "nope.lab.test"):
        status, answers, r = answer(name)
        assert (status, answers) == ("NXDOMAIN", []), name
        assert r.authority[0].rdtype == dns.rdatatype.SOA

    assert answer("aws.internal", "SOA")[1][0].startswith("aws.internal. 7 IN SOA ns.aws.internal.")
    assert answer("example.com")[0] == "REFUSED"  # not ours, and never forwarded
