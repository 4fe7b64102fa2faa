"""OutageScenario validation: the rules of docs/CONTRACTS.md, with the offending field named."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chaoslab.testkit.scenarios import outage
from chaoslab_dns.model import Fault, Mode, OnError, Scenario, StopCondition
from chaoslab_dns.validate import ScenarioError, parse_scenario, parse_spec

MANIFEST: dict[str, Any] = outage(
    "ddb-empty-answer",
    namespace="gameday",
    faults=[
        {"target": "DynamoDB.us-east-1.aws.internal.", "mode": "nodata"},
        {"target": "*.us-west-2.aws.internal", "mode": "delay", "delay": "800ms",
         "probability": 0.5},
        {"target": "iam.aws.internal", "mode": "redirect", "redirectTo": "192.0.2.10"},
    ],
    startAfter="30s",
    duration="2m",
    stopConditions=[{"query": "sum(rate(x[1m]))", "above": 0.5, "for": "30s"}],
)


def manifest(**spec_changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(MANIFEST)
    doc["spec"].update(spec_changes)
    return doc


def with_fault(**fault: Any) -> dict[str, Any]:
    return manifest(faults=[fault])


def test_parse_full_manifest() -> None:
    assert parse_scenario(MANIFEST) == Scenario(
        namespace="gameday",
        name="ddb-empty-answer",
        faults=(
            Fault("dynamodb.us-east-1.aws.internal", Mode.NODATA),
            Fault("*.us-west-2.aws.internal", Mode.DELAY, probability=0.5, delay=0.8),
            Fault("iam.aws.internal", Mode.REDIRECT, redirect_to="192.0.2.10"),
        ),
        start_after=30.0,
        duration=120.0,
        stop_conditions=(StopCondition("sum(rate(x[1m]))", 0.5, 30.0),),
    )


def test_defaults() -> None:
    doc = manifest(faults=[{"target": "a.b", "mode": "timeout"}])
    del doc["metadata"]["namespace"], doc["spec"]["startAfter"], doc["spec"]["stopConditions"]
    scenario = parse_scenario(doc)
    assert (scenario.namespace, scenario.start_after, scenario.stop_conditions) == (
        "default",
        0.0,
        (),
    )
    assert scenario.faults[0].probability == 1.0
    assert scenario.on_error is OnError.ABORT  # fail closed unless told otherwise


def test_on_error() -> None:
    assert parse_scenario(manifest(onError="continue")).on_error is OnError.CONTINUE
    assert parse_scenario(manifest(onError="abort")).on_error is OnError.ABORT
    for bad in ("ignore", "Abort", 1, True):
        with pytest.raises(ScenarioError) as info:
            parse_scenario(manifest(onError=bad))
        assert info.value.field == "spec.onError"
        assert "want 'abort'" in info.value.message and "'continue'" in info.value.message


def test_parse_spec_direct() -> None:
    scenario = parse_spec(MANIFEST["spec"], "ns", "name")
    assert scenario.key == "ns/name"


def test_sixteen_faults_allowed() -> None:
    faults = [{"target": f"s{i}.aws.internal", "mode": "nxdomain"} for i in range(16)]
    assert len(parse_scenario(manifest(faults=faults)).faults) == 16


@pytest.mark.parametrize(
    ("doc", "field", "text"),
    [
        (manifest(faults=[]), "spec.faults", "1 to 16"),
        (manifest(faults=[{"target": "a.b", "mode": "nxdomain"}] * 17), "spec.faults", "got 17"),
        (manifest(faults="a.b"), "spec.faults", "must be a list"),
        (manifest(faults=None), "spec.faults", "is required"),
        (with_fault(mode="nxdomain"), "spec.faults[0].target", "is required"),
        (with_fault(target="a.b"), "spec.faults[0].mode", "is required"),
        (with_fault(target="a b", mode="nxdomain"), "spec.faults[0].target", "'a b'"),
        (with_fault(target="a_b.c", mode="nxdomain"), "spec.faults[0].target", "'a_b'"),
        (with_fault(target="-a.b", mode="nxdomain"), "spec.faults[0].target", "RFC 1123"),
        (with_fault(target="a-.b", mode="nxdomain"), "spec.faults[0].target", "RFC 1123"),
        (with_fault(target="a..b", mode="nxdomain"), "spec.faults[0].target", "RFC 1123"),
        (with_fault(target="*", mode="nxdomain"), "spec.faults[0].target", "invalid DNS name"),
        (with_fault(target="*.", mode="nxdomain"), "spec.faults[0].target", "invalid DNS name"),
        (with_fault(target="a.*.b", mode="nxdomain"), "spec.faults[0].target", "'*'"),
        (with_fault(target="x" * 64 + ".b", mode="nxdomain"), "spec.faults[0].target", "RFC 1123"),
        (
            with_fault(target="abcdefg." * 32 + "com", mode="nxdomain"),
            "spec.faults[0].target",
            "1..253",
        ),
        (with_fault(target="\u212a.b", mode="nxdomain"), "spec.faults[0].target", "ASCII"),
        (with_fault(target=42, mode="nxdomain"), "spec.faults[0].target", "string"),
        (with_fault(target="a.b", mode="NXDOMAIN"), "spec.faults[0].mode", "'NXDOMAIN'"),
        (with_fault(target="a.b", mode="explode"), "spec.faults[0].mode", "nxdomain, servfail"),
        (
            with_fault(target="a.b", mode="delay"),
            "spec.faults[0].delay",
            "required with mode delay",
        ),
        (with_fault(target="a.b", mode="delay", delay="0s"), "spec.faults[0].delay", "'0s'"),
        (
            with_fault(target="a.b", mode="delay", delay="31s"),
            "spec.faults[0].delay",
            "at most 30s",
        ),
        (with_fault(target="a.b", mode="delay", delay="soon"), "spec.faults[0].delay", "'soon'"),
        (with_fault(target="a.b", mode="delay", delay=5), "spec.faults[0].delay", "5"),
        (
            with_fault(target="a.b", mode="nxdomain", delay="1s"),
            "spec.faults[0].delay",
            "only allowed",
        ),
        (with_fault(target="a.b", mode="redirect"), "spec.faults[0].redirectTo", "required"),
        *(
            (with_fault(target="a.b", mode="redirect", redirectTo=bad),
             "spec.faults[0].redirectTo", "IPv4")
            for bad in ("2001:db8::1", "192.0.2.010", "1.2.3.4 ")
        ),
        (
            with_fault(target="a.b", mode="servfail", redirectTo="1.2.3.4"),
            "spec.faults[0].redirectTo",
            "only",
        ),
        (
            with_fault(target="a.b", mode="nxdomain", probability=0),
            "spec.faults[0].probability",
            "(0, 1]",
        ),
        (
            with_fault(target="a.b", mode="nxdomain", probability=1.01),
            "spec.faults[0].probability",
            "(0, 1]",
        ),
        (
            with_fault(target="a.b", mode="nxdomain", probability=-0.5),
            "spec.faults[0].probability",
            "(0, 1]",
        ),
        (
            with_fault(target="a.b", mode="nxdomain", probability=float("nan")),
            "spec.faults[0].probability",
            "finite",
        ),
        (
            with_fault(target="a.b", mode="nxdomain", probability="0.5"),
            "spec.faults[0].probability",
            "number",
        ),
        (
            with_fault(target="a.b", mode="nxdomain", probability=True),
            "spec.faults[0].probability",
            "number",
        ),
        (
            with_fault(target="a.b", mode="nxdomain", colour="red"),
            "spec.faults[0].colour",
            "unknown field",
        ),
        (manifest(faults=["a.b"]), "spec.faults[0]", "mapping"),
        (manifest(duration=None), "spec.duration", "required"),
        (manifest(duration="0s"), "spec.duration", "more than 0s"),
        (manifest(duration="24h1s"), "spec.duration", "at most 24h"),
        (manifest(duration="2 minutes"), "spec.duration", "invalid duration"),
        (manifest(startAfter="-1s"), "spec.startAfter", "invalid duration"),
        (
            manifest(stopConditions=[{"query": "", "above": 1}]),
            "spec.stopConditions[0].query",
            "non-empty",
        ),
        (
            manifest(stopConditions=[{"query": "up\nx", "above": 1}]),
            "spec.stopConditions[0].query",
            "single line",
        ),
        (manifest(stopConditions=[{"query": "up"}]), "spec.stopConditions[0].above", "required"),
        (
            manifest(stopConditions=[{"query": "up", "above": "x"}]),
            "spec.stopConditions[0].above",
            "number",
        ),
        (
            manifest(stopConditions=[{"query": "up", "above": 1, "for": "x"}]),
            "spec.stopConditions[0].for",
            "'x'",
        ),
        (manifest(stopConditions={"query": "up"}), "spec.stopConditions", "list"),
        (manifest(extra=1), "spec.extra", "unknown field"),
    ],
)
def test_rejects_with_field(doc: dict[str, Any], field: str, text: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(doc)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert text in str(info.value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"apiVersion": "chaoslab.io/v1"}, "apiVersion"),
        ({"kind": "DNSChaos"}, "kind"),
        ({"metadata": None}, "metadata"),
        ({"metadata": {"namespace": "x"}}, "metadata.name"),
        ({"metadata": {"name": "Bad_Name"}}, "metadata.name"),
        ({"metadata": {"name": "ok", "namespace": "a.b"}}, "metadata.namespace"),
        ({"metadata": {"name": "ok", "namespace": "x" * 64}}, "metadata.namespace"),
        ({"spec": None}, "spec"),
        ({"spec": []}, "spec"),
        ({"extra": 1}, "manifest.extra"),
    ],
)
def test_rejects_envelope(change: dict[str, Any], field: str) -> None:
    doc = copy.deepcopy(MANIFEST)
    doc.update(change)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(doc)
    assert info.value.field == field


def test_rejects_non_mapping_document() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(["not", "a", "mapping"])
    assert info.value.field == "manifest"


def test_status_is_ignored() -> None:
    doc = copy.deepcopy(MANIFEST)
    doc["status"] = {"phase": "Active"}
    assert parse_scenario(doc) == parse_scenario(MANIFEST)


def test_error_is_value_error() -> None:
    assert issubclass(ScenarioError, ValueError)
