"""Declared hypotheses at admission, against the real Prometheus and the real operator.

A query Prometheus cannot parse (or one returning a range vector) fails the scenario with
nothing injected and a message naming the hypothesis; good queries are accepted and the
HypothesesChecked condition says they parsed. With Prometheus unreachable the check is not
silently skipped: the scenario is accepted (the report judges hypotheses fail closed) and
the condition and a Warning event say the queries were not checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from oplab import BASE_ANSWER, OpLab, wait_for

from chaoslab.controlplane import ControlPlane
from chaoslab.procs import free_port
from chaoslab.testkit import prometheus
from chaoslab.testkit.scenarios import outage_yaml

DYNAMO = "dynamodb.us-east-1.aws.internal"


def manifest(name: str, hypotheses: list[dict[str, Any]]) -> str:
    return outage_yaml(name, faults=[{"target": DYNAMO, "mode": "nxdomain"}], duration="3s",
                       hypotheses=hypotheses)


def condition(lab: OpLab, name: str, type_: str) -> dict[str, Any] | None:
    conds = lab.status(name).get("conditions") or []
    return next((c for c in conds if c.get("type") == type_), None)


@pytest.fixture(scope="module")
def prom_lab(module_cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[OpLab]:
    workdir = tmp_path_factory.mktemp("hyplab")
    prom = prometheus.start(workdir / "prometheus")
    lab = OpLab(module_cp, workdir / "lab").start(operator=False)
    lab.start_operator("--prometheus", prom.url)
    try:
        yield lab
    finally:
        lab.stop()
        prom.stop()


def test_unparsable_query_fails_naming_the_hypothesis(prom_lab: OpLab) -> None:
    lab = prom_lab
    bad = [{"name": "fine", "query": "vector(1)", "during": {"min": 1}},
           {"name": "west sign-in unaffected", "query": "sum(rate(foo[1m]",
            "during": {"min": 0.99}}]
    assert lab.apply(manifest("badquery", bad)).returncode == 0  # the CRD cannot parse PromQL
    lab.wait_phase("badquery", {"Failed"}, timeout=20)
    status = lab.status("badquery")
    message = status["message"]
    assert "spec.hypotheses[1]" in message and "'west sign-in unaffected'" in message, message
    assert "nothing injected" in message and status["reason"] == "HypothesisInvalid"
    assert status.get("injectedAt") is None
    assert lab.resolve(DYNAMO) == BASE_ANSWER and lab.configmap() == lab.base
    lab.delete("badquery")


def test_range_vector_is_refused(prom_lab: OpLab) -> None:
    lab = prom_lab
    hyp = [{"name": "raw counter", "query": "up[1m]", "after": {"max": 1}}]
    assert lab.apply(manifest("rangequery", hyp)).returncode == 0
    lab.wait_phase("rangequery", {"Failed"}, timeout=20)
    message = lab.status("rangequery")["message"]
    assert "spec.hypotheses[0] ('raw counter')" in message and "range vector" in message
    lab.delete("rangequery")


def test_good_queries_are_accepted_and_said_parsed(prom_lab: OpLab) -> None:
    lab = prom_lab
    hyp = [{"name": "up", "query": "vector(1)", "during": {"min": 1}},
           {"name": "none yet", "query": "sum(chaoslab_never_seen_metric)",  # no data is fine
            "after": {"max": 0, "within": "5s"}}]
    assert lab.apply(manifest("goodquery", hyp)).returncode == 0
    lab.wait_phase("goodquery", {"Active", "Completed"}, timeout=20)
    cond = wait_for("HypothesesChecked", lambda: condition(lab, "goodquery", "HypothesesChecked"),
                    10)
    assert cond["status"] == "True" and cond["reason"] == "Parsed", cond
    lab.wait_phase("goodquery", {"Completed"}, timeout=20)
    lab.delete("goodquery")


def test_unreachable_prometheus_is_noted_not_passed(prom_lab: OpLab) -> None:
    lab = prom_lab
    lab.kill_operator()
    lab.start_operator("--prometheus", f"http://127.0.0.1:{free_port()}")  # nothing listens
    hyp = [{"name": "back", "query": "vector(1)", "after": {"min": 1}}]
    assert lab.apply(manifest("unchecked", hyp)).returncode == 0
    lab.wait_phase("unchecked", {"Active", "Completed"}, timeout=20)
    cond = wait_for("HypothesesChecked", lambda: condition(lab, "unchecked", "HypothesesChecked"),
                    10)
    assert cond["status"] == "False" and cond["reason"] == "PrometheusUnreachable", cond
    assert "not checked" in cond["message"] and "spec.hypotheses[0] ('back')" in cond["message"]
    wait_for("a Warning event", lambda: any("HypothesesUnchecked" in e
                                            for e in lab.events("unchecked")), 10)
    lab.wait_phase("unchecked", {"Completed"}, timeout=20)
    lab.delete("unchecked")
