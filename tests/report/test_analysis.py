"""The pure analysis on hand-written series: counters with resets, late and failed scrapes,
transitions dated to the middle of their bin, timelines from the operator's gauge."""

from __future__ import annotations

import math

import pytest

from chaoslab_report import analysis as an
from chaoslab_report.build import analyse
from chaoslab_report.model import Collected, Edge, Tier
from chaoslab_report.prom import Series
from chaoslab_report.timeline import Fault, ScenarioWindow, from_active_metric, from_object

NAN = math.nan


def test_spans_follow_real_scrapes() -> None:
    values = [10, 12, 12, NAN, 20, 3, NAN]
    stamps = [0.5, 1.5, 1.5, NAN, 4.5, 5.5, 6.5]  # a repeated scrape, a failed one, a reset
    inc, start, end = an.spans(values, stamps, 1.0)
    assert inc == [0, 2, 0, 0, 8, 3, 0]
    assert (start[1], end[1]) == (0.5, 1.5)
    assert math.isnan(end[2]) and math.isnan(end[3])
    assert (start[4], end[4]) == (1.5, 4.5)  # the gap's increase spans the whole gap
    assert (start[5], end[5]) == (4.5, 5.5)


def test_series_born_inside_the_window_counts_from_zero() -> None:
    assert an.increments([NAN, NAN, 4, 6]) == [0, 0, 4, 2]
    assert an.increments([5, 6]) == [0, 1]  # existed before the window: a baseline


def test_first_breach_and_recovery_use_bin_middles() -> None:
    bins = [(0, 1, 1.0), (1, 2, 1.0), (2, 3, 0.5), (3, 6, 0.2), (6, 7, 0.9), (7, 8, 1.0),
            (8, 9, 1.0), (9, 10, 1.0), (10, 11, 1.0)]
    assert an.first_breach(bins, after=1.2, before=20, slo=0.99) == (2, 3)
    assert an.recovery(bins, after=4.0, slo=0.99, hold=3) == 6.5
    assert an.recovery(bins, after=4.0, slo=0.99, hold=5) is None  # not enough data after
    assert an.recovery(bins, after=7.0, slo=0.99, hold=3) == 7.0  # fine at the revert


def _series(labels: dict[str, str], values: list[float]) -> Series:
    return Series(labels, tuple(float(i) for i in range(len(values))), tuple(values))


def test_analyse_a_small_cascade() -> None:
    n = 30
    ok = [float(10 * i) for i in range(n)]
    iam_bad = [0.0] * 10 + [float(8 * (i - 9)) for i in range(10, 20)] + [88.0] * 10
    data = Collected(0, n - 1, 1.0, {
        "service_requests": [
            _series({"service": "iam", "region": "us-east-1", "code": "OK"}, ok),
            _series({"service": "iam", "region": "us-east-1", "code": "UNAVAILABLE"}, iam_bad),
            _series({"service": "dynamodb", "region": "us-east-1", "code": "OK"}, ok),
            _series({"service": "dynamodb", "region": "us-east-1", "code": "NOT_FOUND"}, ok),
        ],
        "dependency_calls": [_series({"service": "iam", "region": "us-east-1",
                                      "dependency": "dynamodb.us-east-1", "outcome": "ok"}, ok)],
    })
    window = ScenarioWindow("default", "t", 8.2, 18.0,
                            faults=(Fault("dynamodb.us-east-1.aws.internal", "nodata"),))
    report = analyse(data, [window], slo=0.99, hold=3)
    sc = report.scenarios[0]
    iam = sc.impacts["service:iam.us-east-1"]
    assert iam.degraded and iam.first_impact_at == pytest.approx(9.5)
    assert iam.recovered_at == pytest.approx(19.5)  # last errors in (19, 20]
    assert iam.recovery_after_revert_s == pytest.approx(1.5)
    assert not sc.impacts["service:dynamodb.us-east-1"].degraded  # NOT_FOUND is the caller's
    assert any("IAM (us-east-1) degraded" in line for line in report.summary)
    assert [e.dependency.key for e in report.edges] == ["service:dynamodb.us-east-1"]


def test_timeline_from_the_gauge_skips_failed_scrapes() -> None:
    values = [0, 0, 1, 1, NAN, 1, 0, NAN]
    stamps = [0.4, 1.4, 2.4, 3.4, NAN, 5.4, 6.4, 7.4]  # the scrape at 4 failed; 7: deleted
    s = Series({"namespace": "ns", "name": "a", "instance": "op"},
               tuple(float(i) for i in range(8)), tuple(values))
    (w,) = from_active_metric([s], stamps={"op": stamps})
    assert (w.injected_at, w.reverted_at) == (pytest.approx(1.9), pytest.approx(5.9))


def test_scenario_object() -> None:
    w = from_object({
        "metadata": {"namespace": "default", "name": "flagship"},
        "spec": {"faults": [{"target": "dynamodb.us-east-1.aws.internal", "mode": "nodata"}]},
        "status": {"phase": "Completed", "injectedAt": "2025-10-20T07:11:00Z",
                   "revertedAt": "2025-10-20T07:13:00.5+00:00"},
    })
    assert w is not None and w.reverted_at - w.injected_at == pytest.approx(120.5)
    assert w.faults[0].describe() == "dynamodb.us-east-1.aws.internal DNS returned NODATA " \
                                     "(no addresses)"
    assert from_object({"metadata": {}, "spec": {}, "status": {"phase": "Pending"}}) is None


def test_a_month_budget_is_judged_on_baseline_seconds_with_traffic() -> None:
    # 10 s before the load starts, 10 s of 10 good calls/s, then the fault: 5 bad calls/s.
    good = [0.0] * 10 + [10.0] * 10 + [5.0] * 10
    bad = [0.0] * 20 + [5.0] * 10
    n = len(good)
    counts = an.Counts(good, bad, [float(i) for i in range(n)], [i + 1.0 for i in range(n)])
    window = ScenarioWindow("default", "s", injected_at=20.0, reverted_at=30.0)
    imp = an.tier_impact(Tier("service", "iam", "us-east-1"), [float(i) for i in range(n)],
                         counts, window, 30.0, slo=0.999, hold=3, step=1.0)
    budget = (1 - 0.999) * 10.0 * an.MONTH  # failed calls a month allows at 10 calls/s
    assert imp.budget_month_used == pytest.approx(50.0 / budget)


def test_an_edge_names_the_causes_of_one_window_only() -> None:
    edge = Edge(Tier("service", "lambda", "us-east-1"), Tier("service", "iam", "global"))
    edge.add([4.0, 4.0, 0.0, 0.0], True, "dns")  # an earlier scenario
    edge.add([0.0, 0.0, 3.0, 3.0], True, "timeout")
    edge.add([1.0, 1.0, 1.0, 1.0], False, "ok")
    assert edge.causes == {"dns": 8.0, "timeout": 6.0}
    assert edge.causes_between(2, 4) == {"timeout": 6.0}
    assert edge.causes_between(0, 2) == {"dns": 8.0}


def test_a_mitigation_is_read_off_its_gauge_and_named_in_the_summary() -> None:
    """EC2 stays down after the DNS fix until DWFM's throttle goes on (ground truth: the
    gauge's step in (29, 30] and the last errors in (34, 35])."""
    n = 50
    ok = [float(10 * i) for i in range(n)]
    bad = [0.0] * 10 + [float(5 * (i - 9)) for i in range(10, 36)] + [130.0] * (n - 36)
    throttle = [math.nan] * 5 + [0.0] * 25 + [1.0] * (n - 30)
    labels = {"service": "ec2", "region": "us-east-1"}
    data = Collected(0, n - 1, 1.0, {
        "service_requests": [_series({**labels, "code": "OK"}, ok),
                             _series({**labels, "code": "RESOURCE_EXHAUSTED"}, bad)],
        "dwfm_throttle": [_series(labels, throttle),
                          _series({"service": "ec2", "region": "us-west-2"}, [1.0] * n)],
    })
    window = ScenarioWindow("default", "t", 9.0, 18.0,
                            faults=(Fault("dynamodb.us-east-1.aws.internal", "nodata"),))
    sc = analyse(data, [window], slo=0.99, hold=3).scenarios[0]
    ec2 = sc.impacts["service:ec2.us-east-1"]
    assert ec2.recovery_after_revert_s == pytest.approx(16.5)  # the bin's middle
    # us-west-2's throttle was on before the injection: not this game day's mitigation
    assert [(m.tier.key, m.at) for m in sc.mitigations] == [("service:ec2.us-east-1", 29.0)]
    assert sc.to_json()["mitigations"] == [
        {"tier": "service:ec2.us-east-1", "what": "DWFM's incoming-work throttle", "at": 29.0}]
    line = next(x for x in sc_summary(data, window) if x.startswith("Mitigation:"))
    assert "EC2 (us-east-1)" in line and "11.0 s after DNS was restored" in line, line
    assert ("with EC2 (us-east-1) still below the SLO; back after it: EC2 (us-east-1) "
            "5.5 s later") in line, line


def sc_summary(data: Collected, window: ScenarioWindow) -> list[str]:
    return analyse(data, [window], slo=0.99, hold=3).summary
