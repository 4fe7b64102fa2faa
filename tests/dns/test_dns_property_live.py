"""Property: any valid set of scenarios compiles into a Corefile real CoreDNS loads and serves.

For random scenario sets over the lab's names, the compiled Corefile must start, and every
name must be answered the way the first matching fault line says (or, for rules with
probability below 1, one of the matching rules or the true answer); names no rule matches
get exactly their base answer.
"""

from __future__ import annotations

import re
import time
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaoslab.testkit.scenarios import outage
from chaoslab_dns.basefiles import LAB_TEST_RECORDS, local_corefile
from chaoslab_dns.corefile import compile_corefile
from chaoslab_dns.validate import parse_scenario

ENDPOINTS = {
    "dynamodb.us-east-1.aws.internal": "127.0.0.21",
    "sqs.us-east-1.aws.internal": "127.0.0.22",
    "iam.aws.internal": "127.0.0.28",
    "dynamodb.us-west-2.aws.internal": "127.0.0.31",
}
BASE_IP = {**ENDPOINTS, **LAB_TEST_RECORDS}
WILDCARDS = ["*.us-east-1.aws.internal", "*.us-west-2.aws.internal", "*.aws.internal", "*.lab.test"]

fault = st.builds(
    lambda target, mode, p, delay, ip: {
        "target": target,
        "mode": mode,
        **({"probability": p} if p != 1.0 else {}),
        **({"delay": delay} if mode == "delay" else {}),
        **({"redirectTo": ip} if mode == "redirect" else {}),
    },
    st.sampled_from(sorted(BASE_IP) + WILDCARDS),
    st.sampled_from(
        ["nxdomain", "servfail", "refused", "nodata", "timeout", "delay", "truncate", "redirect"]
    ),
    st.sampled_from([1.0, 1.0, 0.5]),
    st.sampled_from(["20ms", "50ms"]),
    st.sampled_from(["192.0.2.10", "198.51.100.7"]),
)
scenario_set = st.lists(
    st.tuples(st.sampled_from(["default", "gameday"]), st.lists(fault, min_size=1, max_size=4)),
    min_size=1,
    max_size=3,
)


def manifest(index: int, namespace: str, faults: list[dict[str, Any]]) -> dict[str, Any]:
    return outage(f"s{index}", namespace=namespace, faults=faults)


def matches(target: str, name: str) -> bool:
    if target.startswith("*."):
        return name.endswith(target[1:])
    return name == target


def outcome(mode: str, redirect: str | None) -> str:
    return {"delay": "pass", "redirect": f"redirect:{redirect}"}.get(mode, mode)


def observe(server, name: str) -> str:
    q = dns.message.make_query(name, "A")
    try:
        r = dns.query.udp(q, "127.0.0.1", port=server.port, timeout=0.4)
    except dns.exception.Timeout:
        return "timeout"
    if r.flags & dns.flags.TC:
        return "truncate"
    if r.rcode() != dns.rcode.NOERROR:
        return dns.rcode.to_text(r.rcode()).lower()
    ips = [rd.to_text() for rs in r.answer for rd in rs]
    if not ips:
        return "nodata"
    return "pass" if ips == [BASE_IP[name]] else f"redirect:{ips[0]}"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_set)
def test_compiled_corefile_loads_and_serves(
    launch, sets: list[tuple[str, list[dict[str, Any]]]]
) -> None:
    now = time.time()
    scenarios = [
        parse_scenario(manifest(i, ns, faults)).injected(now) for i, (ns, faults) in enumerate(sets)
    ]
    server = launch(lambda p, m: compile_corefile(local_corefile(p, m, ENDPOINTS), scenarios))
    try:
        text = server.corefile.read_text()
        section = text.split("chaoslab {", 1)[1].split("}", 1)[0]
        rules = []  # the plugin's view: the first block's fault lines, in order
        for line in section.strip().splitlines():
            words = line.split()
            opts = dict(zip(words[3::2], words[4::2], strict=True))
            rules.append(
                (words[1], words[2], float(opts.get("probability", 1)), opts.get("redirect"))
            )
        for name in BASE_IP:
            allowed = set()
            for target, mode, p, redirect in rules:
                if matches(target, name):
                    allowed.add(outcome(mode, redirect))
                    if p == 1.0:
                        break
            else:
                allowed.add("pass")
            seen = observe(server, name)
            assert seen in allowed, f"{name}: saw {seen}, expected one of {allowed}\n{section}"
        assert re.search(r"^\s*# END chaoslab faults$", text, re.M)
    finally:
        server.stop()
