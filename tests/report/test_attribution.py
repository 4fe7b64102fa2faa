"""Attribution in a session of several scenarios, on hand-written series whose every outage
the test placed: impact windows that outlast the next injection, clean baselines that leave
earlier outages out (or say there is none), shared damage naming both scenarios, and retry
amplification per service-to-service edge with customers' direct calls apart."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from chaoslab_report import analysis as an
from chaoslab_report.build import analyse
from chaoslab_report.model import Collected, Stretch
from chaoslab_report.prom import Series
from chaoslab_report.timeline import Fault, ScenarioWindow

N = 120
DDB = "dynamodb.us-east-1.aws.internal"
RATE = 10.0  # requests a second at every tier


def _cumulative(per_s: list[float]) -> tuple[float, ...]:
    return tuple(itertools.accumulate(per_s))


def _tier(service: str, bad: set[int], region: str = "us-east-1") -> list[Series]:
    """A service tier with RATE calls a second, all failing in the seconds `bad`."""
    times = tuple(float(i) for i in range(N))
    good = [0.0 if i in bad else RATE for i in range(N)]
    fail = [RATE if i in bad else 0.0 for i in range(N)]
    labels = {"service": service, "region": region}
    return [Series({**labels, "code": "OK"}, times, _cumulative(good)),
            Series({**labels, "code": "UNAVAILABLE"}, times, _cumulative(fail))]


def _window(name: str, inj: float, rev: float | None, target: str) -> ScenarioWindow:
    return ScenarioWindow("default", name, inj, rev, phase="Completed",
                          faults=(Fault(target, "nodata"),))


def _report(series: list[Series], windows: list[ScenarioWindow], **extra: list[Series]):  # type: ignore[no-untyped-def]
    return analyse(Collected(0, N - 1, 1.0, {"service_requests": series, **extra}), windows,
                   slo=0.99, hold=5)


def test_a_window_runs_until_its_tiers_are_back_not_until_the_next_injection() -> None:
    # A: 10..20, IAM down until 40 (a slow recovery). B injected at 25, on another tier.
    iam = set(range(11, 40))
    s3 = set(range(26, 30))
    report = _report(_tier("iam", iam) + _tier("s3", s3) + _tier("kms", set()),
                     [_window("a", 10, 20, "dynamodb.us-east-1.aws.internal"),
                      _window("b", 25, 30, "s3.us-east-1.aws.internal")])
    a, b = report.scenarios
    assert a.impacts["service:iam.us-east-1"].recovered_at == pytest.approx(39.5, abs=1)
    assert a.eval_end == pytest.approx(a.tiers_back_at + 5)
    assert a.eval_end > b.window.injected_at, "A's window outlasts B's injection"
    # IAM was hit by A, and still down while B was live: shared, naming A, in B's report.
    assert b.impacts["service:iam.us-east-1"].shared_with == ["default/a"]
    assert a.impacts["service:iam.us-east-1"].shared_with == ["default/b"]
    assert a.impacts["service:s3.us-east-1"].shared_with == ["default/b"]
    assert b.to_json()["blast_radius"]["shared"]["service:iam.us-east-1"] == ["default/a"]
    assert not a.impacts["service:kms.us-east-1"].degraded


def test_the_baseline_is_the_nearest_clean_stretch_and_says_how_long() -> None:
    # A: 20..30, IAM down 21..35, back by 35. B: 60..70 on S3.
    report = _report(_tier("iam", set(range(21, 35))) + _tier("s3", set(range(61, 66))),
                     [_window("a", 20, 30, "dynamodb.us-east-1.aws.internal"),
                      _window("b", 60, 70, "s3.us-east-1.aws.internal")])
    a, b = report.scenarios
    assert a.baseline is not None and a.baseline.end == 20 and a.baseline.start <= 1
    assert b.baseline is not None
    # A's last failures were in (33, 34]: its tiers were back at 33.5 (the bin's middle).
    assert b.baseline.start == pytest.approx(33.5), "after A's tiers were back"
    assert b.baseline.end == 60
    iam = b.impacts["service:iam.us-east-1"]
    assert iam.baseline_availability == 1.0, "A's outage is not in B's baseline"
    assert not iam.degraded
    data = b.to_json()
    assert data["baseline"]["seconds"] == pytest.approx(26.5)
    assert "s clean stretch just before the injection" in data["baseline_note"]
    assert set(data["blast_radius"]["degraded"]) == {"service:s3.us-east-1"}


def test_no_clean_stretch_means_no_baseline_said_so() -> None:
    # A is live from the start of the data; B is injected while A is live.
    report = _report(_tier("iam", set(range(1, 50))),
                     [_window("a", 0, 45, "dynamodb.us-east-1.aws.internal"),
                      _window("b", 10, 20, "kms.us-east-1.aws.internal")])
    for sc in report.scenarios:
        assert sc.baseline is None
        assert sc.to_json()["baseline"] is None
        assert "no baseline" in sc.to_json()["baseline_note"]
        assert sc.impacts["service:iam.us-east-1"].baseline_availability is None
    assert any(line.startswith("Baseline: no clean stretch") for line in report.summary)


def test_overlapping_scenarios_share_their_damage_in_both_reports() -> None:
    # C 20..50 hits IAM from 21; D 30..40 hits KMS from 31. IAM and KMS are down together.
    report = _report(_tier("iam", set(range(21, 52))) + _tier("kms", set(range(31, 42))),
                     [_window("c", 20, 50, "dynamodb.us-east-1.aws.internal"),
                      _window("d", 30, 40, "kms.us-east-1.aws.internal")])
    c, d = report.scenarios
    assert c.shared() == {"service:iam.us-east-1": ["default/d"],
                          "service:kms.us-east-1": ["default/d"]}
    assert d.shared() == {"service:iam.us-east-1": ["default/c"],
                          "service:kms.us-east-1": ["default/c"]}
    assert any("shared with default/d" in line for line in report.summary)
    # IAM was already down from C when D went in: said so, not "degraded 0.5 s after" D.
    assert d.impacts["service:iam.us-east-1"].degraded_at_injection
    assert not c.impacts["service:iam.us-east-1"].degraded_at_injection
    assert any(line.startswith("Already below the SLO when it was injected: IAM (us-east-1)")
               for line in report.summary)
    # D's baseline: the clean stretch before C (the nearest one), not the 10 s of C's outage.
    assert d.baseline is not None and d.baseline.end == 20
    assert "ending 10 s before the injection" in d.to_json()["baseline_note"]


def test_amplification_is_per_service_edge_with_customers_apart() -> None:
    times = tuple(float(i) for i in range(N))
    fault = set(range(41, 61))  # counter increments in (40, 41] ... (59, 60]
    # IAM means 10 calls/s to DynamoDB; during the fault it makes 3 attempts for each.
    intended = [10.0] * N
    attempts = [30.0 if i in fault else 10.0 for i in range(N)]
    # DynamoDB receives IAM's attempts plus 50 customer calls a second (the items workflow).
    received_ok = [a + 50.0 for a in attempts]
    dep = {"service": "iam", "region": "us-east-1", "dependency": "dynamodb.us-east-1"}
    series = [Series({"service": "dynamodb", "region": "us-east-1", "code": "OK"}, times,
                     _cumulative(received_ok))]
    workflow = [Series({"workflow": "items", "region": "us-east-1", "result": "ok"}, times,
                       _cumulative([50.0] * N))]
    report = _report(series, [_window("a", 40, 60, "dynamodb.us-east-1.aws.internal")],
                     dependency_calls=[Series({**dep, "outcome": "ok"}, times,
                                              _cumulative(intended))],
                     dependency_attempts=[Series(dep, times, _cumulative(attempts))],
                     workflow_runs=workflow)
    (sc,) = report.scenarios
    (edge,) = sc.edge_amplification
    assert (edge.client.key, edge.dependency.key) == ("service:iam.us-east-1",
                                                      "service:dynamodb.us-east-1")
    assert edge.baseline_attempts_per_intended == pytest.approx(1.0)
    assert edge.peak_attempts_per_intended == pytest.approx(3.0)
    door = next(a for a in sc.amplification if a.tier.key == "service:dynamodb.us-east-1")
    assert door.customer_calls_per_s == pytest.approx(50.0)
    assert door.baseline_customer_calls_per_s == pytest.approx(50.0, rel=0.05)
    text = " ".join(report.summary)
    assert "IAM (us-east-1) made up to 3.0 attempts per intended call to DynamoDB" in text
    assert "1.00 before the fault" in text
    assert "Customers' direct calls, shown apart: DynamoDB (us-east-1)" in text
    assert "customers' direct calls included" not in text


def test_clean_stretch_edges() -> None:
    assert an.clean_stretch(100, [], 0) == Stretch(0, 100)
    assert an.clean_stretch(100, [(10, 98)], 0) == Stretch(0, 10), "the 2 s gap is too short"
    assert an.clean_stretch(100, [(0, 97)], 0) is None
    assert an.clean_stretch(100, [(50, 150)], 0) == Stretch(0, 50)


def test_the_default_report_is_the_latest_session_not_the_ledgers_history() -> None:
    from chaoslab_report.timeline import latest_session

    yesterday = [_window("old", 0, 60, "x"), _window("old2", 100, 160, "x")]
    today = [_window("a", 90_000, 90_060, "x"), _window("b", 92_000, None, "x"),
             _window("c", 91_000, 91_030, "x")]
    assert [w.name for w in latest_session(yesterday + today)] == ["a", "c", "b"]
    # A scenario still live bridges any gap.
    assert len(latest_session([_window("live", 0, None, "x"), *today])) == 4
    assert latest_session([]) == []


def test_the_html_says_why_a_scenario_was_aborted_and_what_times_count_from(
        tmp_path: Path) -> None:
    from html import escape as html_escape

    from chaoslab_report.build import write
    from chaoslab_report.timeline import StopCondition

    why = "stop condition 0 breached: 'errors' = 0.95 > 0.9 for 30s (limit 30s); reverted"
    aborted = ScenarioWindow(
        "default", "guarded", 20, 30, phase="Aborted", reason="StopConditionBreached",
        message=why, stop_conditions=(StopCondition("errors", 0.9, "30s"),), deleted=True,
        faults=(Fault("dynamodb.us-east-1.aws.internal", "nodata"),))
    report = write(_report(_tier("iam", set(range(21, 35))), [aborted]), tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert html_escape(why) in html
    assert "errors &gt; 0.9 for 30s" in html  # the stop condition itself
    assert "Aborted (deleted with kubectl delete)" in html
    assert "first impact (after injection)" in html and "+0.5 s" in html
    assert "recovered (after revert)" in html
    assert any(line == f"Aborted: {why}." for line in report.summary)
    data = report.to_json()["scenarios"][0]
    assert data["reason"] == "StopConditionBreached" and data["deleted"] is True
    assert data["stop_conditions"] == [{"query": "errors", "above": 0.9, "for": "30s"}]


def _dns_faults(key: str, first: int, last: int) -> Series:
    """CoreDNS's fault counter for scenario `key`: born at `first`, 5 faults a second (NaN on
    the grid before it existed, as Prometheus's range query leaves it)."""
    values = [math.nan] * first + list(_cumulative([5.0] * (last - first)))
    values += [values[-1]] * (N - last)
    return Series({"mode": "nodata", "scenario": key}, tuple(float(i) for i in range(N)),
                  tuple(values))


def test_time_to_impact_counts_from_coredns_s_first_faulted_answer() -> None:
    # Injected at 10, but the Corefile reached CoreDNS only at ~22 (a kubelet-synced volume):
    # its counter rises first at 23. IAM fails from 24.
    iam = set(range(24, 40))
    report = _report(_tier("iam", iam), [_window("slow", 10, 40, DDB)],
                     dns_faults=[_dns_faults("default/slow", 23, 40)])
    (sc,) = report.scenarios
    assert sc.dns_effective_at == pytest.approx(22.0)
    assert sc.dns_lag_s == pytest.approx(12.0)
    first = sc.to_json()["first_impact"][0]
    assert first["tier"] == "service:iam.us-east-1"
    assert first["after_injection_s"] == pytest.approx(13.5, abs=0.6)
    assert first["after_dns_fault_s"] == pytest.approx(1.5, abs=0.6)
    lines = "\n".join(report.summary)
    assert "CoreDNS answered its first fault 12.0 s after the injection" in lines, lines
    assert "s after CoreDNS's first faulted answer" in lines


def test_a_prompt_coredns_adds_no_line_and_none_without_its_counter() -> None:
    iam = set(range(11, 20))
    prompt = _report(_tier("iam", iam), [_window("fast", 10, 20, DDB)],
                     dns_faults=[_dns_faults("default/fast", 11, 20)])
    (sc,) = prompt.scenarios
    assert sc.dns_lag_s == pytest.approx(0.0)
    assert "CoreDNS answered its first fault" not in "\n".join(prompt.summary)
    # Another scenario's counter is not this one's evidence.
    other = _report(_tier("iam", iam), [_window("fast", 10, 20, DDB)],
                    dns_faults=[_dns_faults("default/else", 11, 20)])
    assert other.scenarios[0].dns_effective_at is None
    assert other.scenarios[0].to_json()["first_impact"][0]["after_dns_fault_s"] is None


def _edges(chain: list[tuple[str, str, str, str]], fault: set[int]) -> list[Series]:
    """Dependency calls (client, region, dependency, failure outcome), RATE a second,
    failing in the seconds `fault`."""
    times = tuple(float(i) for i in range(N))
    failing = [RATE if i in fault else 0.0 for i in range(N)]
    calls = []
    for client, region, dep, outcome in chain:
        labels = {"service": client, "region": region, "dependency": dep}
        calls += [Series({**labels, "outcome": "ok"}, times,
                         _cumulative([RATE - f for f in failing])),
                  Series({**labels, "outcome": outcome}, times, _cumulative(failing))]
    return calls


def _workflow(name: str, region: str, fault: set[int]) -> list[Series]:
    times = tuple(float(i) for i in range(N))
    bad = [RATE if i in fault else 0.0 for i in range(N)]
    labels = {"workflow": name, "region": region}
    return [Series({**labels, "result": "ok"}, times, _cumulative([RATE - b for b in bad])),
            Series({**labels, "result": "error"}, times, _cumulative(bad))]


def test_a_failover_blocked_by_the_global_control_plane_is_named() -> None:
    """us-west-2's customers fail through global IAM in us-east-1 while us-west-2's own
    DynamoDB serves every call: the summary says the failover was blocked, and by what."""
    fault = set(range(41, 61))
    series = (_tier("lambda", fault, "us-west-2") + _tier("iam", fault)
              + _tier("dynamodb", set(), "us-west-2"))
    calls = _edges([("lambda", "us-west-2", "iam", "rpc_error"),
                    ("iam", "us-east-1", "dynamodb.us-east-1", "dns_error")], fault)
    workflow = _workflow("invoke", "us-west-2", fault)
    report = _report(series, [_window("a", 40, 60, DDB)], dependency_calls=calls,
                     workflow_runs=workflow)
    line = next(x for x in report.summary if x.startswith("Failover to us-west-2"))
    assert line == ("Failover to us-west-2 blocked by the global control plane: its "
                    "customers' invoke down to 0.0%, through IAM (us-east-1), DynamoDB "
                    "(us-east-1), while us-west-2's own DynamoDB (us-west-2) stayed at or "
                    "above the SLO."), line
    # With us-west-2's own services down too it is a regional outage, not a blocked failover.
    down = series[:-2] + _tier("dynamodb", fault, "us-west-2")
    report = _report(down, [_window("a", 40, 60, DDB)], dependency_calls=calls,
                     workflow_runs=workflow)
    assert not [x for x in report.summary if x.startswith("Failover to")]


@pytest.mark.parametrize(("target", "chain"), [
    (DDB, [("signin", "us-east-1", "iam", "rpc_error"),
           ("iam", "us-east-1", "dynamodb.us-east-1", "dns_error")]),
    ("sts.aws.internal", [("signin", "us-east-1", "sts", "dns_error")]),
])
def test_a_us_west_2_sign_in_is_traced_through_the_global_sign_in_endpoint(
        target: str, chain: list[tuple[str, str, str, str]]) -> None:
    """The signin workflow's front door is the global Sign-in tier (us-east-1) for every
    region; from there the path follows whichever global tier failed: IAM down to
    DynamoDB us-east-1, or STS itself."""
    fault = set(range(41, 61))
    tiers = {client for client, *_ in chain} | {dep.split(".")[0] for _, _, dep, _ in chain}
    series = [s for svc in sorted(tiers) for s in _tier(svc, fault if svc != "dynamodb"
                                                        else set())]
    series += _tier("dynamodb", set(), "us-west-2")
    calls = _edges(chain, fault)
    workflow = _workflow("signin", "us-west-2", fault)
    report = _report(series, [_window("a", 40, 60, target)], dependency_calls=calls,
                     workflow_runs=workflow)
    why = next(x for x in report.summary if x.startswith("Why customers: sign-in (us-west-2)"))
    hops = " → ".join({"iam": "IAM", "sts": "STS", "dynamodb.us-east-1": "DynamoDB"}[dep]
                      + " (us-east-1)" for _, _, dep, _ in chain)
    assert why == ("Why customers: sign-in (us-west-2) failed: customers: sign-in (us-west-2) → "
                   f"Sign-in (us-east-1) → {hops}: dns_error."), why
