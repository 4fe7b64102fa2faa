"""Hypothesis admission without a cluster: refuse what Prometheus refused, note what it could
not check, and say in the status which it was (the live test is test_hypotheses_admission)."""

from __future__ import annotations

from typing import Any

from chaoslab.testkit.scenarios import outage
from chaoslab_dns.validate import parse_scenario
from chaoslab_operator import plan as p
from chaoslab_operator.admission import admit_hypotheses
from chaoslab_operator.plan import (
    HYPOTHESES_CHECKED,
    QUERY_FAILED,
    QUERY_INVALID,
    UNREACHABLE,
    Notice,
    Observed,
    Phase,
    Reading,
    Refusal,
    Status,
)

T0 = 1_760_944_080.0


def manifest(hypotheses: list[dict[str, Any]]) -> dict[str, Any]:
    return outage("h", meta={"generation": 1}, duration="10s", hypotheses=hypotheses)


TWO = [{"name": "first", "query": "vector(1)", "during": {"min": 1}},
       {"name": "second", "query": "up[1m]", "after": {"max": 0}}]
SCENARIO = parse_scenario(manifest(TWO))


def test_a_refused_query_fails_naming_the_hypothesis() -> None:
    verdict = admit_hypotheses(SCENARIO, [
        Reading(value=1.0),
        Reading(error="Prometheus refused the query: bad_data: parse error", reason=QUERY_INVALID),
    ])
    assert isinstance(verdict, Refusal) and verdict.reason == "HypothesisInvalid"
    assert "spec.hypotheses[1] ('second')" in verdict.message and "parse error" in verdict.message


def test_no_data_is_fine_and_unreachable_is_noted() -> None:
    assert admit_hypotheses(SCENARIO, [Reading(value=None), Reading(value=0.0)]) is None
    notice = admit_hypotheses(SCENARIO, [
        Reading(error="Prometheus http://x unreachable: refused", reason=UNREACHABLE),
        Reading(error="Prometheus could not evaluate it: timeout", reason=QUERY_FAILED),
    ])
    assert isinstance(notice, Notice) and notice.reason == UNREACHABLE
    assert "not checked" in notice.message and "('first')" in notice.message
    assert "('second')" in notice.message


def test_plan_accepts_with_the_condition_saying_which() -> None:
    obs = Observed(namespace="default", name="h", manifest=manifest(TWO), status=Status())
    noted = p.decide(T0, obs, lambda _: Notice(UNREACHABLE, "queries not checked"))
    cond = noted.status.condition(HYPOTHESES_CHECKED)
    assert noted.status.phase is not Phase.FAILED and noted.status.accepted_at == T0
    assert cond is not None and (cond.status, cond.reason) == ("False", UNREACHABLE)
    assert [e.reason for e in noted.events if e.type == "Warning"] == ["HypothesesUnchecked"]

    parsed = p.decide(T0, obs, lambda _: None)
    cond = parsed.status.condition(HYPOTHESES_CHECKED)
    assert cond is not None and (cond.status, cond.reason) == ("True", "Parsed")

    refused = p.decide(T0, obs, lambda _: Refusal("HypothesisInvalid", "spec.hypotheses[1]"))
    assert refused.status.phase is Phase.FAILED and "nothing injected" in refused.status.message


def test_no_hypotheses_no_condition() -> None:
    m = manifest([])
    m["spec"].pop("hypotheses")
    obs = Observed(namespace="default", name="h", manifest=m, status=Status())
    assert p.decide(T0, obs, lambda _: None).status.condition(HYPOTHESES_CHECKED) is None
