"""Hostile input: nothing a user types may reach the Corefile except the expected tokens.

Hypothesis throws strings built from Corefile metacharacters (braces, quotes, comments,
newlines, semicolons, backslashes, unicode look-alikes) at every field the compiler writes.
Each input is either rejected with the right field named, or accepted and compiled into a
Corefile whose marked section consists only of the plugin's grammar, with the rest of the
file byte-identical to the base.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from chaoslab.testkit.scenarios import outage
from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import BEGIN_MARKER, END_MARKER, compile_corefile, strip_faults
from chaoslab_dns.validate import ScenarioError, parse_scenario

BASE = local_corefile(5353, 9153, {"dynamodb.us-east-1.aws.internal": "127.0.0.1"})

METACHARS = [*"{}#;\"'\\\n\r\t $`()|&<>*.:/-_", "\u2028", "\x00", "\u212a", "\u0130"]
# Fragments that are valid on their own, so mixtures often come close to passing.
FRAGMENTS = [
    "a",
    "b.c",
    "ddb",
    ".",
    "*.",
    "-",
    "1",
    "192.0.2.10",
    "800ms",
    "1s",
    "{$HOME}",
    "import",
]
hostile_text = st.lists(
    st.sampled_from(METACHARS) | st.sampled_from(FRAGMENTS) | st.characters(), max_size=12
).map("".join)
hostile_value = st.one_of(
    hostile_text,
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(hostile_text, max_size=2),
)

LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
FAULT_LINE = re.compile(
    rf"fault (?:\*\.)?{LABEL}(?:\.{LABEL})* "
    r"(?:nxdomain|servfail|refused|nodata|timeout|delay|truncate|redirect)"
    r"(?: probability [0-9.e-]+)?"
    r"(?: delay (?:[0-9]+(?:h|m|s|ms|us|ns))+)?"
    r"(?: redirect (?:[0-9]{1,3}\.){3}[0-9]{1,3})?"
    r" until [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3})?Z"
    rf" scenario {LABEL}/[a-z0-9.-]+"
)


def manifest(fault: dict[str, Any], name: Any = "x", namespace: Any = "default") -> dict[str, Any]:
    return outage(name, namespace=namespace, faults=[fault])


def assert_safe(doc: dict[str, Any], field: str) -> None:
    try:
        scenario = parse_scenario(doc)
    except ScenarioError as exc:
        assert exc.field == field, (exc.field, str(exc))
        assert str(exc).startswith(field + ": ")
        return
    out = compile_corefile(BASE, [scenario.injected(1_796_151_600.0)])
    assert strip_faults(out) == BASE
    section = out.split(BEGIN_MARKER, 1)[1].split(END_MARKER, 1)[0]
    lines = [ln.strip() for ln in section.strip().split("\n")]
    assert lines[0] == "chaoslab {" and lines[-1] == "}"
    for line in lines[1:-1]:
        assert FAULT_LINE.fullmatch(line), line


@settings(max_examples=300)
@given(hostile_value)
@example("dynamodb.us-east-1.aws.internal }\n forward . 8.8.8.8 {")
@example("a.b # comment")
@example("a.b\nimport /etc/passwd")
@example("*.a.b")
@example("A.B.")
@example("\u212a.example")
def test_target(value: Any) -> None:
    assert_safe(manifest({"target": value, "mode": "nxdomain"}), "spec.faults[0].target")


@settings(max_examples=150)
@given(hostile_value)
@example("nxdomain }")
def test_mode(value: Any) -> None:
    assert_safe(manifest({"target": "a.b", "mode": value}), "spec.faults[0].mode")


@settings(max_examples=200)
@given(hostile_value)
@example("1.2.3.4 }")
@example("1.2.3.4\n}")
@example("\u0661.2.3.4")  # an Arabic-Indic digit
def test_redirect(value: Any) -> None:
    fault = {"target": "a.b", "mode": "redirect", "redirectTo": value}
    assert_safe(manifest(fault), "spec.faults[0].redirectTo")


@settings(max_examples=200)
@given(hostile_value | st.from_regex(r"[0-9]{1,3}(ms|s|us|ns)", fullmatch=True))
@example("1s }")
@example("1s\n")
def test_delay(value: Any) -> None:
    fault = {"target": "a.b", "mode": "delay", "delay": value}
    assert_safe(manifest(fault), "spec.faults[0].delay")


@settings(max_examples=150)
@given(hostile_value | st.floats(min_value=1e-300, max_value=1.0))
@example(5e-324)
def test_probability(value: Any) -> None:
    fault = {"target": "a.b", "mode": "nxdomain", "probability": value}
    assert_safe(manifest(fault), "spec.faults[0].probability")


@settings(max_examples=150)
@given(hostile_value)
@example("x } forward")
def test_name(value: Any) -> None:
    assert_safe(manifest({"target": "a.b", "mode": "nxdomain"}, name=value), "metadata.name")


@settings(max_examples=150)
@given(hostile_value.filter(lambda v: v is not None))
@example("ns/evil")
def test_namespace(value: Any) -> None:
    doc = manifest({"target": "a.b", "mode": "nxdomain"}, namespace=value)
    assert_safe(doc, "metadata.namespace")
