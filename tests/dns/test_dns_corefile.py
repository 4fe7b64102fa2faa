"""The pure compiler: byte-identical base, order independence, precedence, round trips."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import (
    BEGIN_MARKER,
    END_MARKER,
    CorefileError,
    check_corefile,
    compile_corefile,
    fault_line,
    format_until,
    strip_faults,
)
from chaoslab_dns.model import Fault, Mode, Scenario

ROOT = Path(__file__).resolve().parents[2]
KIND_LAB = (ROOT / "charts/chaoslab/files/coredns/Corefile.kind-lab").read_text()
LOCAL = local_corefile(5353, 9153, {"dynamodb.us-east-1.aws.internal": "127.0.0.1"})

BASE = f"""\
.:53 {{
    errors
    {BEGIN_MARKER}
    {END_MARKER}
    forward . 127.0.0.1:1
}}
"""


END = 1_796_151_600.0  # 2026-12-01T19:00:00Z
UNTIL = "until 2026-12-01T19:00:00Z"


def scenario(name: str, *faults: Fault, namespace: str = "default") -> Scenario:
    return Scenario(namespace, name, tuple(faults), start_after=0.0, duration=60.0, until=END)


DDB = scenario("ddb", Fault("dynamodb.us-east-1.aws.internal", Mode.NODATA))
WIDE = scenario(
    "wide",
    Fault("*.aws.internal", Mode.SERVFAIL, probability=0.25),
    Fault("*.us-east-1.aws.internal", Mode.DELAY, delay=0.8),
    Fault("iam.aws.internal", Mode.REDIRECT, redirect_to="192.0.2.10"),
)
OTHER = scenario("ddb", Fault("dynamodb.us-east-1.aws.internal", Mode.TIMEOUT), namespace="aaa")


@pytest.mark.parametrize("base", [BASE, LOCAL, KIND_LAB, BASE.replace("\n", "\r\n")])
def test_no_scenarios_is_byte_identical(base: str) -> None:
    assert compile_corefile(base, []) == base


def test_fills_every_section_with_one_block() -> None:
    out = compile_corefile(LOCAL, [DDB])
    block = (
        f"    {BEGIN_MARKER}\n"
        "    chaoslab {\n"
        f"        fault dynamodb.us-east-1.aws.internal nodata {UNTIL} scenario default/ddb\n"
        "    }\n"
        f"    {END_MARKER}\n"
    )
    assert out.count(block) == 2  # aws.internal and lab.test
    assert strip_faults(out) == LOCAL


def test_indentation_follows_marker() -> None:
    base = f".:53 {{\n\t{BEGIN_MARKER}\n\t{END_MARKER}\n}}\n"
    out = compile_corefile(base, [DDB])
    assert "\tchaoslab {\n\t\tfault dynamodb" in out and "\n\t}\n" in out


def test_crlf_base_round_trips() -> None:
    crlf = BASE.replace("\n", "\r\n")
    out = compile_corefile(crlf, [DDB, WIDE])
    assert "\n" not in out.replace("\r\n", "")
    assert strip_faults(out) == crlf


def test_precedence() -> None:
    out = compile_corefile(BASE, [WIDE, DDB, OTHER])
    lines = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("fault ")]
    assert lines == [
        f"fault dynamodb.us-east-1.aws.internal timeout {UNTIL} scenario aaa/ddb",
        f"fault dynamodb.us-east-1.aws.internal nodata {UNTIL} scenario default/ddb",
        f"fault iam.aws.internal redirect redirect 192.0.2.10 {UNTIL} scenario default/wide",
        f"fault *.us-east-1.aws.internal delay delay 800ms {UNTIL} scenario default/wide",
        f"fault *.aws.internal servfail probability 0.25 {UNTIL} scenario default/wide",
    ]


def test_every_rule_carries_its_own_scenarios_end() -> None:
    early = dataclasses.replace(DDB, until=END - 30.25)
    out = compile_corefile(BASE, [early, WIDE])
    lines = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("fault ")]
    assert len(lines) == 4
    for line in lines:
        want = "until 2026-12-01T18:59:29.750Z" if "default/ddb" in line else UNTIL
        assert f" {want} scenario " in line, line
    check_corefile(out)


def test_a_scenario_without_an_end_is_refused() -> None:
    with pytest.raises(CorefileError, match="default/ddb has no end"):
        compile_corefile(BASE, [dataclasses.replace(DDB, until=None)])


def test_injected_sets_the_end_from_the_injection_time() -> None:
    assert DDB.injected(END - 60.0).until == END


@pytest.mark.parametrize(("ts", "text"), [
    (END, "2026-12-01T19:00:00Z"),
    (END + 0.5, "2026-12-01T19:00:00.500Z"),
    (END + 0.0004, "2026-12-01T19:00:00Z"),  # milliseconds, like status.endAt
    (END + 0.9996, "2026-12-01T19:00:01Z"),
    (END + 0.123456, "2026-12-01T19:00:00.123Z"),
])
def test_format_until(ts: float, text: str) -> None:
    assert format_until(ts) == text


@pytest.mark.parametrize("ts", [float("nan"), float("inf"), -1.0, 1e12])
def test_format_until_refuses_what_the_plugin_would(ts: float) -> None:
    with pytest.raises(CorefileError):
        format_until(ts)


def test_input_order_never_changes_output() -> None:
    outputs = {compile_corefile(LOCAL, p) for p in itertools.permutations([DDB, WIDE, OTHER])}
    assert len(outputs) == 1


def test_compile_is_idempotent_on_live_corefile() -> None:
    live = compile_corefile(LOCAL, [DDB, WIDE])
    assert compile_corefile(live, [DDB, WIDE]) == live
    assert compile_corefile(live, []) == LOCAL


def test_duplicate_scenario_is_an_error() -> None:
    with pytest.raises(CorefileError, match="default/ddb given twice"):
        compile_corefile(BASE, [DDB, DDB])


def test_base_without_markers_says_how_to_add_them() -> None:
    with pytest.raises(CorefileError) as info:
        compile_corefile(".:53 {\n    errors\n}\n", [DDB])
    assert BEGIN_MARKER in str(info.value) and END_MARKER in str(info.value)
    assert "add these two lines" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f".:53 {{\n    {BEGIN_MARKER}\n}}\n", "without an END marker"),
        (f".:53 {{\n    {END_MARKER}\n}}\n", "without a BEGIN marker"),
        (f".:53 {{\n{BEGIN_MARKER}\n{BEGIN_MARKER}\n{END_MARKER}\n}}\n", "inside the section"),
        (f"{BEGIN_MARKER}\n{END_MARKER}\n.:53 {{\n}}\n", "inside a server block"),
        (f".:53 {{\n {BEGIN_MARKER}\n x {{\n {END_MARKER}\n }}\n}}\n", "different blocks"),
        (".:53 {\n    errors\n", "never closed"),
        (".:53 {\n}\n}\n", "closes no block"),
        ('.:53 {\n    template "a\n}\n', "quote"),
        (
            f".:53 {{\n {BEGIN_MARKER}\n forward . 1.1.1.1\n {END_MARKER}\n}}\n",
            "owned by the compiler",
        ),
        (
            f".:53 {{\n {BEGIN_MARKER}\n chaoslab {{\n }}\n chaoslab {{\n }}\n {END_MARKER}\n}}\n",
            "one chaoslab block",
        ),
    ],
)
def test_check_corefile_rejects(text: str, message: str) -> None:
    with pytest.raises(CorefileError, match=message):
        check_corefile(text)


def test_check_corefile_accepts_quoted_and_commented_braces() -> None:
    check_corefile(
        '.:53 {\n    template ANY ANY a {\n        answer "{{ .Name }} 5 IN A 1.2.3.4"\n    }\n}\n'
    )
    check_corefile(".:53 {\n    errors # } not a brace\n}\n")
    check_corefile(KIND_LAB)
    check_corefile(compile_corefile(KIND_LAB, [DDB, WIDE]))


def test_strip_faults_without_markers_is_identity() -> None:
    assert strip_faults(".:53 {\n}\n") == ".:53 {\n}\n"


@pytest.mark.parametrize(
    "fault",
    [
        Fault("bad name", Mode.NXDOMAIN),
        Fault("a.b", "explode"),  # type: ignore[arg-type]
        Fault("a.b", Mode.NXDOMAIN, probability=0.0),
        Fault("a.b", Mode.NXDOMAIN, probability=float("nan")),
        Fault("a.b", Mode.DELAY),
        Fault("a.b", Mode.DELAY, delay=1e-12),
        Fault("a.b", Mode.DELAY, delay=31.0),
        Fault("a.b", Mode.NXDOMAIN, delay=1.0),
        Fault("a.b", Mode.REDIRECT, redirect_to="1.2.3.4 }"),
        Fault("a.b", Mode.SERVFAIL, redirect_to="1.2.3.4"),
    ],
)
def test_fault_line_refuses_unsafe_values(fault: Fault) -> None:
    """Defence in depth: hand-built values that skipped validation never become text."""
    with pytest.raises(CorefileError):
        fault_line(fault, "default/x", END)


def test_fault_line_refuses_bad_scenario_key() -> None:
    with pytest.raises(CorefileError):
        fault_line(Fault("a.b", Mode.NXDOMAIN), "default/x }", END)
