"""The judge of declared hypotheses against hand-made series: held/failed, values, evidence.

Pure functions, so every case states its ground truth: the series a test writes and the
verdict that follows from the hypothesis's definition (every evaluation in the window within
the bounds; no data, several series or no window fail closed).
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import synthetic_lab as lab

from chaoslab.procs import free_port
from chaoslab_dns.model import Hypothesis, Window
from chaoslab_dns.validate import ScenarioError, parse_hypotheses
from chaoslab_report.hypotheses import NotInjected, judge, judge_declared, junit_xml, summary_lines
from chaoslab_report.prom import Series

T0 = 1_760_000_000.0  # grid-aligned
INJECT, REVERT, END = T0 + 10, T0 + 20, T0 + 40  # faults live 10..20, window to 40


def series(values: dict[int, float], labels: dict[str, str] | None = None) -> Series:
    """A series on the 1 s grid T0..T0+40: `values` by offset, NaN elsewhere."""
    times = tuple(T0 + i for i in range(41))
    return Series(labels or {}, times, tuple(values.get(i, math.nan) for i in range(41)))


def steady(level: float, dip: dict[int, float] | None = None) -> Series:
    return series({**dict.fromkeys(range(41), level), **(dip or {})})


DURING = Hypothesis("west sign-in unaffected", "q", Window.DURING, min=0.99)
AFTER = Hypothesis("back within 5 s", "q", Window.AFTER, min=0.99, within=5.0)


def test_during_holds_when_every_evaluation_meets_the_bound() -> None:
    # A dip outside the fault window is none of `during`'s business.
    v = judge("default/a", DURING, [steady(1.0, {5: 0.2, 30: 0.5})], INJECT, REVERT, END)
    assert v.held, v.reason
    assert v.evaluations == 11  # 10..20 inclusive
    assert (v.min_seen, v.max_seen) == (1.0, 1.0)
    assert v.violation_count == 0 and v.violations == ()
    assert (v.judged_from, v.judged_until) == (INJECT, REVERT)


def test_during_fails_with_the_violating_evaluations_as_evidence() -> None:
    v = judge("default/a", DURING, [steady(1.0, {12: 0.5, 13: 0.98, 25: 0.1})],
              INJECT, REVERT, END)
    assert not v.held
    assert [e.at - T0 for e in v.violations] == [12, 13]
    assert [e.value for e in v.violations] == [0.5, 0.98]
    assert v.violation_count == 2 and (v.min_seen, v.max_seen) == (0.5, 1.0)
    assert "2 of 11 evaluations" in v.reason and ">= 0.99" in v.reason


def test_bound_is_inclusive_and_max_works() -> None:
    at_bound = Hypothesis("p99 under 500 ms", "q", Window.DURING, max=0.5)
    assert judge("d/a", at_bound, [steady(0.5)], INJECT, REVERT, END).held
    v = judge("d/a", at_bound, [steady(0.2, {15: 0.51})], INJECT, REVERT, END)
    assert not v.held and v.max_seen == 0.51 and v.violations[0].at == T0 + 15
    band = Hypothesis("band", "q", Window.DURING, min=0.1, max=0.3)
    assert judge("d/a", band, [steady(0.2)], INJECT, REVERT, END).held
    assert not judge("d/a", band, [steady(0.2, {11: 0.05})], INJECT, REVERT, END).held


def test_after_judges_from_revert_plus_within_to_the_window_end() -> None:
    # Still down for 4 s after the revert (inside `within`), then fine: held.
    slow = steady(1.0, {i: 0.0 for i in range(10, 25)})
    v = judge("d/a", AFTER, [slow], INJECT, REVERT, END)
    assert v.held, v.reason
    assert (v.judged_from, v.judged_until) == (REVERT + 5, END) and v.evaluations == 16
    # Down one second longer: the evaluation at revert+5 fails.
    v = judge("d/a", AFTER, [steady(1.0, {i: 0.0 for i in range(10, 26)})], INJECT, REVERT, END)
    assert not v.held and [e.at for e in v.violations] == [REVERT + 5]


def test_no_data_fails_closed() -> None:
    gap = series({i: 1.0 for i in range(41) if i != 14})
    v = judge("d/a", DURING, [gap], INJECT, REVERT, END)
    assert not v.held and v.violations[0].value is None and "no data" in v.reason
    empty = judge("d/a", DURING, [], INJECT, REVERT, END)
    assert not empty.held and empty.violation_count == 11 and empty.min_seen is None


def test_several_series_fail_naming_them() -> None:
    two = [series(dict.fromkeys(range(41), 1.0), {"region": r}) for r in ("a", "b")]
    v = judge("d/a", DURING, two, INJECT, REVERT, END)
    assert not v.held and "2 series" in v.reason and "region='a'" in v.reason


def test_after_without_a_revert_or_past_the_window_fails() -> None:
    v = judge("d/a", AFTER, [steady(1.0)], INJECT, None, END)
    assert not v.held and "never reverted" in v.reason
    late = Hypothesis("later", "q", Window.AFTER, min=0.5, within=30.0)
    v = judge("d/a", late, [steady(1.0)], INJECT, REVERT, END)
    assert not v.held and "extend it" in v.reason


def test_during_of_a_scenario_still_live_runs_to_the_window_end() -> None:
    v = judge("d/a", DURING, [steady(1.0, {35: 0.0})], INJECT, None, END)
    assert not v.held and v.judged_until == END and v.violations[0].at == T0 + 35


def test_a_query_error_is_a_failure_with_the_error() -> None:
    v = judge("d/a", DURING, "bad_data: parse error", INJECT, REVERT, END)
    assert not v.held and "parse error" in v.reason


def test_junit_has_one_testcase_per_hypothesis_and_a_failure_with_evidence() -> None:
    held = judge("default/a", DURING, [steady(1.0)], INJECT, REVERT, END)
    failed = judge("default/b", AFTER, [steady(0.0)], INJECT, REVERT, END)
    root = ET.fromstring(junit_xml([held, failed]))
    cases = root.findall(".//testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("default/a", DURING.name), ("default/b", AFTER.name)]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None and "16 of 16" in (failure.get("message") or "")
    assert failure.text and "query: q" in failure.text and ": 0" in failure.text
    assert root.get("failures") == "1" and root.get("tests") == "2"


def test_summary_says_when_there_are_none() -> None:
    assert "none declared" in summary_lines([])[0]


@pytest.mark.parametrize(("raw", "field"), [
    ([{"name": "x", "during": {"min": 1}}], "spec.hypotheses[0].query"),
    ([{"name": "x", "query": "up", "during": {}}], "spec.hypotheses[0].during"),
    ([{"name": "x", "query": "up"}], "spec.hypotheses[0]"),
    ([{"name": "x", "query": "up", "during": {"min": 1}, "after": {"min": 1}}],
     "spec.hypotheses[0]"),
    ([{"name": "x", "query": "up", "after": {"min": 1, "within": "soon"}}],
     "spec.hypotheses[0].after.within"),
    ([{"name": "x", "query": "up", "during": {"min": 2, "max": 1}}], "spec.hypotheses[0].during"),
    ([{"name": "x", "query": "up", "during": {"min": 1}}] * 2, "spec.hypotheses[1].name"),
])
def test_malformed_hypotheses_are_refused_naming_the_field(raw: object, field: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_hypotheses(raw)
    assert err.value.field == field


def test_parsed_hypothesis_values() -> None:
    (h,) = parse_hypotheses([{"name": "x", "query": "up", "after": {"max": 3, "within": "30s"}}])
    assert (h.window, h.min, h.max, h.within) == (Window.AFTER, None, 3.0, 30.0)


def _cli(argv: list[str]) -> int:
    import argparse

    from chaoslab_report.command import register

    p = argparse.ArgumentParser(prog="chaoslab")
    register(p.add_subparsers())
    args = p.parse_args(argv)
    return int(args.func(args))


def test_check_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _cli(["report", "--check"])  # no --out
    assert exc.value.code == 2
    out = str(tmp_path / "out")
    assert _cli(["report", "--out", out, "--check", "--scenario", "no-slash"]) == 2
    assert "NAMESPACE/NAME" in capsys.readouterr().err
    assert _cli(["report", "--out", out, "--check", "--lab-state",
                 str(tmp_path / "none.json")]) == 2
    # Nothing to judge because nothing could be read is not a pass.
    assert _cli(["report", "--out", out, "--check", "--since", "5m",
                 "--prometheus", f"http://127.0.0.1:{free_port()}"]) == 2
    assert "unreachable" in capsys.readouterr().err
    assert not (tmp_path / "out" / "junit.xml").exists()


def test_check_with_none_declared_says_so_and_exits_0(
        synthetic_lab: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    synthetic_lab.wait_for(lab.END)
    t0 = synthetic_lab.t0
    code = _cli(["report", "--out", str(tmp_path), "--prometheus", synthetic_lab.prometheus,
                 "--since", f"{t0 - 2:.3f}", "--until", f"{t0 + lab.END:.3f}", "--check"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no hypotheses declared" in out and "junit.xml" in out
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.get("tests") == "0" and not root.findall(".//testcase")
    assert json.loads((tmp_path / "report.json").read_text())["hypotheses"] == []


def test_a_scenario_that_never_injected_fails_each_of_its_hypotheses() -> None:
    refused = NotInjected((DURING, AFTER), "Failed: spec.hypotheses[1] ...; nothing injected")
    prom: Any = None  # no window: nothing is queried
    verdicts = judge_declared(prom, [], {"default/refused": refused}, T0, END, 1.0)
    assert [(v.scenario, v.name, v.held) for v in verdicts] == [
        ("default/refused", DURING.name, False), ("default/refused", AFTER.name, False)]
    assert "never injected (Failed: spec.hypotheses[1]" in verdicts[0].reason


def test_a_block_scalar_query_is_accepted_but_not_other_control_characters() -> None:
    (h,) = parse_hypotheses([{"name": "x", "query": "sum(rate(a[5s]))\n  / sum(rate(b[5s]))\n",
                              "during": {"min": 0}}])
    assert "\n" in h.query
    with pytest.raises(ScenarioError) as err:
        parse_hypotheses([{"name": "x", "query": "up\x00", "during": {"min": 0}}])
    assert err.value.field == "spec.hypotheses[0].query"
