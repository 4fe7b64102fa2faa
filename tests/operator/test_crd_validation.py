"""Malformed scenarios are refused by the API server at `kubectl apply`, naming the field,
and never reach the ConfigMap (the operator is running the whole time)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from oplab import OpLab

OK_FAULT = {"target": "dynamodb.us-east-1.aws.internal", "mode": "nodata"}


def manifest(spec: dict[str, Any], name: str = "bad") -> str:
    return yaml.safe_dump({
        "apiVersion": "chaoslab.io/v1alpha1", "kind": "OutageScenario",
        "metadata": {"name": name, "namespace": "default"}, "spec": spec,
    })


def fault(**kw: Any) -> dict[str, Any]:
    return {"spec": {"faults": [{**OK_FAULT, **kw}], "duration": "1m"}}


def spec(**kw: Any) -> dict[str, Any]:
    return {"spec": {"faults": [OK_FAULT], "duration": "1m", **kw}}


def phased(*phases: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"spec": {"phases": list(phases), **kw}}


def phase(**kw: Any) -> dict[str, Any]:
    return {"faults": [OK_FAULT], "duration": "1m", **kw}


SCHEDULE = {"faults": [OK_FAULT], "duration": "1m"}
T = "spec.faults[0].target"
MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("unknown mode", fault(mode="explode"), "spec.faults[0].mode"),
    ("bad duration", spec(duration="2 minutes"), "spec.duration"),
    ("duration with sign", spec(duration="-5m"), "spec.duration"),
    ("zero duration", spec(duration="0s"), "spec.duration"),
    ("duration over 24h", spec(duration="25h"), "spec.duration"),
    ("missing duration", {"spec": {"faults": [OK_FAULT]}}, "spec.duration"),
    ("negative startAfter", spec(startAfter="-1s"), "spec.startAfter"),
    ("startAfter over 24h", spec(startAfter="48h"), "spec.startAfter"),
    ("target opens a block", fault(target="a.aws.internal {"), T),
    ("target closes a block", fault(target="a.aws.internal}"), T),
    ("target with newline", fault(target="a.aws.internal\nfault x nxdomain"), T),
    ("target with comment", fault(target="a.aws.internal#x"), T),
    ("target with space", fault(target="a.aws.internal nxdomain"), T),
    ("target over 253 chars", fault(target=".".join(["a" * 60] * 5)), T),
    ("label over 63 chars", fault(target="a" * 64 + ".aws.internal"), T),
    ("target with empty label", fault(target="a..aws.internal"), T),
    ("bare wildcard", fault(target="*"), T),
    ("wildcard inside", fault(target="a.*.aws.internal"), T),
    ("missing target", {"spec": {"faults": [{"mode": "nodata"}], "duration": "1m"}}, T),
    ("negative probability", fault(probability=-0.5), "spec.faults[0].probability"),
    ("zero probability", fault(probability=0), "spec.faults[0].probability"),
    ("probability above 1", fault(probability=1.5), "spec.faults[0].probability"),
    ("delay without mode delay", fault(delay="1s"), "spec.faults[0].delay"),
    ("mode delay without delay", fault(mode="delay"), "spec.faults[0].delay"),
    ("delay over 30s", fault(mode="delay", delay="45s"), "spec.faults[0].delay"),
    ("delay not a duration", fault(mode="delay", delay="soon"), "spec.faults[0].delay"),
    ("redirect without redirectTo", fault(mode="redirect"), "spec.faults[0].redirectTo"),
    ("redirectTo without redirect", fault(redirectTo="192.0.2.1"), "spec.faults[0].redirectTo"),
    ("bad IPv4", fault(mode="redirect", redirectTo="300.1.1.1"), "spec.faults[0].redirectTo"),
    ("IPv6 redirect", fault(mode="redirect", redirectTo="::1"), "spec.faults[0].redirectTo"),
    ("too many faults", {"spec": {"faults": [OK_FAULT] * 17, "duration": "1m"}}, "spec.faults"),
    ("no faults", {"spec": {"faults": [], "duration": "1m"}}, "spec.faults"),
    ("unknown fault field", fault(ttl=5), "spec.faults[0].ttl"),
    ("stop condition without for",
     spec(stopConditions=[{"query": "up", "above": 1}]), "spec.stopConditions[0].for"),
    ("stop condition empty query",
     spec(stopConditions=[{"query": "", "above": 1, "for": "1s"}]),
     "spec.stopConditions[0].query"),
    ("unknown onError", spec(onError="ignore"), "spec.onError"),
    ("stop condition above not a number",
     spec(stopConditions=[{"query": "up", "above": "lots", "for": "1s"}]),
     "spec.stopConditions[0].above"),
    # spec.hypotheses: a name, a query, exactly one window, a bound, a Go duration.
    ("hypothesis without query", spec(hypotheses=[{"name": "h", "during": {"min": 1}}]),
     "spec.hypotheses[0].query"),
    ("hypothesis without name", spec(hypotheses=[{"query": "up", "during": {"min": 1}}]),
     "spec.hypotheses[0].name"),
    ("hypothesis without min or max",
     spec(hypotheses=[{"name": "h", "query": "up", "during": {}}]), "spec.hypotheses[0].during"),
    ("hypothesis after without min or max",
     spec(hypotheses=[{"name": "h", "query": "up", "after": {"within": "30s"}}]),
     "spec.hypotheses[0].after"),
    ("hypothesis with bad within",
     spec(hypotheses=[{"name": "h", "query": "up", "after": {"min": 1, "within": "half a min"}}]),
     "spec.hypotheses[0].after.within"),
    ("hypothesis within over 1h",
     spec(hypotheses=[{"name": "h", "query": "up", "after": {"min": 1, "within": "2h"}}]),
     "spec.hypotheses[0].after.within"),
    ("hypothesis without a window", spec(hypotheses=[{"name": "h", "query": "up"}]),
     "spec.hypotheses[0]"),
    ("hypothesis with both windows",
     spec(hypotheses=[{"name": "h", "query": "up", "during": {"min": 1}, "after": {"min": 1}}]),
     "spec.hypotheses[0]"),
    ("hypothesis min above max",
     spec(hypotheses=[{"name": "h", "query": "up", "during": {"min": 2, "max": 1}}]),
     "spec.hypotheses[0].during"),
    ("hypothesis bound not a number",
     spec(hypotheses=[{"name": "h", "query": "up", "during": {"min": "high"}}]),
     "spec.hypotheses[0].during.min"),
    ("hypothesis names repeated",
     spec(hypotheses=[{"name": "h", "query": "up", "during": {"min": 1}}] * 2),
     "spec.hypotheses"),
    ("unknown hypothesis field",
     spec(hypotheses=[{"name": "h", "query": "up", "during": {"min": 1}, "for": "1m"}]),
     "spec.hypotheses[0].for"),
    # spec.phases and spec.schedule (issue 16).
    ("phases beside faults", spec(phases=[phase()]), "spec"),
    ("duration beside phases", phased(phase(), duration="1m"), "spec.duration"),
    ("neither faults nor phases", {"spec": {"duration": "1m"}}, "spec"),
    ("no phases", phased(), "spec.phases"),
    ("nine phases", phased(*[phase()] * 9), "spec.phases"),
    ("phase without duration", phased({"faults": [OK_FAULT]}), "spec.phases[0].duration"),
    ("phase without faults", phased({"duration": "1m"}), "spec.phases[0].faults"),
    ("phase over 24h", phased(phase(duration="25h")), "spec.phases[0].duration"),
    ("phase under 1s", phased(phase(duration="500ms")), "spec.phases[0].duration"),
    ("phase gap over 24h", phased(phase(startAfter="25h")), "spec.phases[0].startAfter"),
    ("phases over 24h in all", phased(phase(duration="13h"), phase(duration="12h")),
     "spec.phases"),
    ("phase fault bad mode", phased({"faults": [{**OK_FAULT, "mode": "boom"}], "duration": "1m"}),
     "spec.phases[0].faults[0].mode"),
    ("phase names repeated", phased(phase(name="a"), phase(name="a")), "spec.phases"),
    ("cron of four fields", {"spec": {**SCHEDULE, "schedule": {"cron": "* * * *"}}},
     "spec.schedule.cron"),
    ("schedule without cron", {"spec": {**SCHEDULE, "schedule": {"suspend": True}}},
     "spec.schedule.cron"),
    ("unknown policy", {"spec": {**SCHEDULE, "schedule": {"cron": "* * * * *",
                                                          "concurrencyPolicy": "Replace"}}},
     "spec.schedule.concurrencyPolicy"),
    ("history 0", {"spec": {**SCHEDULE, "schedule": {"cron": "* * * * *", "historyLimit": 0}}},
     "spec.schedule.historyLimit"),
]


# What a person meets: the problem named, the value quoted (a trailing space visible).
READABLE: list[tuple[str, dict[str, Any], str]] = [
    ("trailing space", fault(target="dynamodb.us-east-1.aws.internal "),
     'has white space at its start or end: "dynamodb.us-east-1.aws.internal " (remove it)'),
    ("not a name", fault(target="dynamodb..aws.internal"),
     '"dynamodb..aws.internal" is not a DNS name: want labels of letters, digits and inner '
     "hyphens"),
    ("duration in words", spec(duration="2 minutes"),
     'must be a Go duration such as 800ms, 90s, 2m or 1h30m, got "2 minutes"'),
    ("duration too long", spec(duration="25h"), 'must be more than 0s and at most 24h, got "25h"'),
    ("bad IPv4", fault(mode="redirect", redirectTo="300.1.1.1"),
     'must be an IPv4 address such as 127.0.0.9, got "300.1.1.1"'),
    ("hypothesis without a bound", spec(hypotheses=[{"name": "h", "query": "up", "during": {}}]),
     "needs a bound: min, max or both"),
    ("hypothesis without a window", spec(hypotheses=[{"name": "h", "query": "up"}]),
     "needs exactly one window: during"),
    ("hypothesis bad within",
     spec(hypotheses=[{"name": "h", "query": "up", "after": {"min": 1, "within": "soon"}}]),
     'must be a Go duration such as 800ms, 90s, 2m or 1h30m, got "soon"'),
    ("phases and faults", spec(phases=[phase()]), "give either faults (with duration) or phases"),
    ("phases with duration", phased(phase(), duration="1m"),
     "duration cannot be given with phases: each phase has its own duration"),
    ("phase too short", phased(phase(duration="500ms")),
     'a phase lasts from 1s to 24h, got "500ms"'),
    ("phases too long", phased(phase(duration="13h"), phase(startAfter="1h", duration="11h")),
     "the phases with their gaps (startAfter) must last at most 24h in all"),
    ("cron in words", {"spec": {**SCHEDULE, "schedule": {"cron": "every minute"}}},
     'must be five cron fields (minute hour day-of-month month day-of-week, in UTC)'),
]


@pytest.fixture(scope="module")
def pristine(lab: OpLab) -> tuple[str, str]:
    return lab.configmap(), lab.configmap_version()


@pytest.mark.parametrize(("case", "body", "field"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_rejected_at_apply_naming_the_field(
    lab: OpLab, pristine: tuple[str, str], case: str, body: dict[str, Any], field: str
) -> None:
    result = lab.apply(manifest(body["spec"]))
    assert result.returncode != 0, f"{case}: accepted"
    assert field in result.stderr, f"{case}: {result.stderr}"
    assert lab.get("bad") is None


@pytest.mark.parametrize(("case", "body", "says"), READABLE, ids=[r[0] for r in READABLE])
def test_messages_name_the_mistake_readably(
    lab: OpLab, pristine: tuple[str, str], case: str, body: dict[str, Any], says: str
) -> None:
    result = lab.apply(manifest(body["spec"]))
    assert result.returncode != 0, f"{case}: accepted"
    assert says in result.stderr, result.stderr
    assert "should match" not in result.stderr, result.stderr  # no bare regex dump
    assert 'Invalid value: "string"' not in result.stderr, result.stderr


def test_valid_edge_cases_are_accepted(lab: OpLab) -> None:
    valid = [
        fault(target="*.us-east-1.aws.internal"),
        fault(probability=0.01),
        fault(mode="delay", delay="30s"),
        fault(mode="delay", delay="1.5s"),
        fault(mode="redirect", redirectTo="192.0.2.10"),
        fault(target="a" * 63 + ".aws.internal"),
        spec(duration="24h", startAfter="0"),
        spec(stopConditions=[{"query": 'sum(rate(x{a="b"}[1m]))', "above": 0.5, "for": "0s"}]),
        {"spec": {"faults": [OK_FAULT] * 16, "duration": "1h30m"}},
        spec(onError="continue"),
        fault(target="DynamoDB.us-east-1.aws.internal"),  # lower-cased by the operator
        fault(target="dynamodb.us-east-1.aws.internal."),
        spec(onError="abort"),
        spec(hypotheses=[
            {"name": "west sign-in unaffected", "query": "vector(1)", "during": {"min": 0.99}},
            {"name": "back within 30 s", "query": "scalar(vector(1))",
             "after": {"min": 0.99, "max": 1, "within": "30s"}},
            {"name": "p99 bounded", "query": "vector(0.2)", "after": {"max": 0.5}},
        ]),
        phased(phase(name="empty", duration="12h"), phase(startAfter="6h", duration="6h")),
        phased(*[phase(duration="1s")] * 8),
        {"spec": {**SCHEDULE, "schedule": {"cron": "*/15 9-17 * * mon-fri",
                                           "concurrencyPolicy": "Allow", "suspend": True,
                                           "historyLimit": 20}}},
        {"spec": {"phases": [phase()], "schedule": {"cron": "0 0 1 1 *"}}},
    ]
    for body in valid:
        result = lab.cp.kubectl("apply", "--dry-run=server", "-f", "-",
                                input=manifest(body["spec"], "good"), check=False)
        assert result.returncode == 0, f"{body}: {result.stderr}"


def test_configmap_never_changed(lab: OpLab, pristine: tuple[str, str]) -> None:
    text, version = pristine
    assert lab.configmap() == text == lab.base
    assert lab.configmap_version() == version
    assert lab.scenarios() == []
