"""A phased scenario in the report: each phase a window of its own (pure, hand-written series).

The windows come from the session ledger (or status.phases), clipped to the revert; each
phase gets its faults, CoreDNS's faulted answers and the customers' success within it, in
report.json, the HTML and the summary."""

from __future__ import annotations

from chaoslab_report.build import analyse
from chaoslab_report.model import Collected
from chaoslab_report.prom import Series
from chaoslab_report.render import _scenario
from chaoslab_report.timeline import from_ledger_entry, from_object

DDB, STS = "dynamodb.us-east-1.aws.internal", "sts.aws.internal"


def iso(t: float) -> str:
    return f"2025-10-20T07:00:{t:02.0f}Z"


T0 = from_ledger_entry({"injectedAt": iso(0)}).injected_at  # type: ignore[union-attr]
ENTRY = {
    "namespace": "default", "name": "p", "injectedAt": iso(10), "revertedAt": iso(40),
    "faults": [{"target": DDB, "mode": "nodata"}, {"target": STS, "mode": "servfail"}],
    "phases": [
        {"name": "empty", "startAt": iso(10), "endAt": iso(20),
         "faults": [{"target": DDB, "mode": "nodata"}]},
        {"name": "sts", "startAt": iso(30), "endAt": iso(40),
         "faults": [{"target": STS, "mode": "servfail"}]},
    ],
}


def test_phase_windows_from_the_ledger_are_clipped_to_the_revert() -> None:
    w = from_ledger_entry(ENTRY)
    assert w is not None
    assert [(p.name, p.start - T0, p.end - T0, [f.mode for f in p.faults]) for p in w.phases] \
        == [("empty", 10, 20, ["nodata"]), ("sts", 30, 40, ["servfail"])]
    aborted = from_ledger_entry({**ENTRY, "revertedAt": iso(15)})
    assert aborted is not None
    assert [(p.name, p.end - T0) for p in aborted.phases] == [("empty", 5 + 10)]


def test_phase_windows_from_an_object() -> None:
    w = from_object({
        "metadata": {"namespace": "default", "name": "p"},
        "spec": {"phases": [{"name": "empty", "faults": [{"target": DDB, "mode": "nodata"}],
                             "duration": "10s"}]},
        "status": {"injectedAt": iso(10), "phases": [
            {"name": "empty", "startAt": iso(10), "endAt": iso(20)}]},
    })
    assert w is not None and [f.target for f in w.faults] == [DDB]
    assert [(p.name, p.start - T0, [f.target for f in p.faults]) for p in w.phases] == [
        ("empty", 10, [DDB])]


def series(labels: dict[str, str], per_bin: list[float]) -> Series:
    total, values = 0.0, []
    for v in per_bin:
        total += v
        values.append(total)
    return Series(labels, tuple(T0 + i for i in range(len(values))), tuple(values))


def test_each_phase_is_a_window_of_its_own() -> None:
    n = 50
    # Sign-in fails in the first phase only; invoke in the second only.
    signin_bad = [5.0 if 11 <= i < 21 else 0.0 for i in range(n)]
    invoke_bad = [5.0 if 31 <= i < 41 else 0.0 for i in range(n)]
    wf = {"region": "us-east-1"}
    data = Collected(T0, T0 + n - 1, 1.0, {
        "workflow_runs": [
            series({**wf, "workflow": "signin", "result": "ok"}, [5.0] * n),
            series({**wf, "workflow": "signin", "result": "error"}, signin_bad),
            series({**wf, "workflow": "invoke", "result": "ok"}, [5.0] * n),
            series({**wf, "workflow": "invoke", "result": "error"}, invoke_bad),
        ],
        "dns_faults": [
            series({"mode": "nodata", "scenario": "default/p"},
                   [3.0 if 11 <= i < 21 else 0.0 for i in range(n)]),
            series({"mode": "servfail", "scenario": "default/p"},
                   [2.0 if 31 <= i < 41 else 0.0 for i in range(n)]),
        ],
    })
    w = from_ledger_entry(ENTRY)
    assert w is not None
    sc = analyse(data, [w], slo=0.99, hold=3).scenarios[0]
    first, second = sc.phases
    assert (first.name, first.dns_faults_injected) == ("empty", {"nodata": 30.0})
    assert second.dns_faults_injected == {"servfail": 20.0}
    assert first.customers == {"workflow:signin.us-east-1": 0.5,
                               "workflow:invoke.us-east-1": 1.0}
    assert second.customers == {"workflow:signin.us-east-1": 1.0,
                                "workflow:invoke.us-east-1": 0.5}
    assert [p["name"] for p in sc.to_json()["phases"]] == ["empty", "sts"]
    html = _scenario(sc)
    assert "<h3>Phases</h3>" in html and "07:00:10" in html and "sts.aws.internal → servfail" \
        in html
    report = analyse(data, [w], slo=0.99, hold=3)
    assert any(line.startswith("In 2 phases: empty 07:00:10") for line in report.summary), \
        report.summary
