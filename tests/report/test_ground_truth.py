"""The report's numbers against a cascade whose every instant the test wrote (synthetic_lab.py),
measured through the real Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import synthetic_lab as lab

from chaoslab_report.build import build_report
from chaoslab_report.model import Report

TOLERANCE = 1.0  # seconds: one 1 s scrape interval (the analysis promises half of it)


def test_first_impact_and_blast_radius(synthetic_report: Report, synthetic_lab) -> None:
    sc = synthetic_report.scenarios[0]
    t0 = synthetic_lab.t0
    for truth in lab.TRUTH:
        impact = sc.impacts[truth.key]
        if truth.impact is None:
            assert not impact.degraded, f"{truth.key} must not degrade: {impact}"
            assert impact.min_availability == pytest.approx(1.0)
        else:
            assert impact.degraded, f"{truth.key} must degrade"
            assert impact.first_impact_at == pytest.approx(t0 + truth.impact, abs=TOLERANCE), \
                truth.key
            assert impact.min_availability == pytest.approx(1 - truth.bad, abs=0.08), truth.key
    degraded = {t.key for t in lab.TRUTH if t.impact is not None}
    assert set(sc.to_json()["blast_radius"]["degraded"]) == degraded
    first = sc.to_json()["first_impact"][0]
    assert first["tier"] in {"service:iam.us-east-1", "workflow:signin.us-east-1",
                             "workflow:signin.us-west-2"}


def test_time_to_recovery(synthetic_report: Report, synthetic_lab) -> None:
    sc = synthetic_report.scenarios[0]
    for truth in lab.TRUTH:
        if truth.recover is None:
            continue
        impact = sc.impacts[truth.key]
        assert impact.recovery_after_revert_s == pytest.approx(
            truth.recover - lab.REVERT, abs=TOLERANCE), truth.key
    slowest = max(t.recover or 0.0 for t in lab.TRUTH) - lab.REVERT
    assert sc.time_to_recovery_s == pytest.approx(slowest, abs=TOLERANCE)


def test_amplification_and_budget(synthetic_report: Report) -> None:
    sc = synthetic_report.scenarios[0]
    amp = {a.tier.key: a for a in sc.amplification}["service:dynamodb.us-east-1"]
    assert amp.peak_attempts_per_intended == pytest.approx(lab.IAM_ATTEMPTS_IN_FAULT, rel=0.05)
    customers = 40.0
    storm = (customers + lab.STORM_RECEIVED) / lab.IAM_TO_DYNAMODB
    assert amp.peak_received_per_intended == pytest.approx(storm, rel=0.07)
    assert amp.baseline_received_per_intended == pytest.approx(
        (customers + lab.IAM_TO_DYNAMODB) / lab.IAM_TO_DYNAMODB, rel=0.07)
    assert sc.dns_faults_injected["nodata"] == pytest.approx(
        100.0 * (lab.REVERT - lab.INJECT), rel=0.15)
    signin = sc.impacts["workflow:signin.us-east-1"]
    # Judged over the impact window: the injection until the slowest tier is back + hold.
    back = max(t.recover or 0.0 for t in lab.TRUTH)
    window = back + lab.HOLD - lab.INJECT
    assert sc.eval_end - sc.window.injected_at == pytest.approx(window, abs=TOLERANCE)
    bad = 0.7 * 10.0 * (21.0 - 10.0)
    assert signin.burn_rate == pytest.approx(bad / (10.0 * window) / 0.01, rel=0.12)


def test_outputs(synthetic_report: Report) -> None:
    report = synthetic_report
    for name in report.files.values():
        assert (Path(report.out_dir) / name).stat().st_size > 1000, name
    data = report.to_json()
    assert data["schema"] == "chaoslab.report/v1"
    assert {"timeline", "dependency_graph", "amplification", "json", "html"} <= set(report.files)
    text = " ".join(report.summary)
    assert "dynamodb.us-east-1.aws.internal DNS returned NODATA" in text
    assert "IAM (us-east-1) degraded" in text
    assert "DynamoDB (us-east-1)" in text  # named among the tiers that stayed up
    json.dumps(data, allow_nan=False)  # strict JSON: no NaN leaks


def test_timeline_from_operator_metric(synthetic_lab, tmp_path: Path) -> None:
    synthetic_lab.wait_for(lab.END)
    t0 = synthetic_lab.t0
    report = build_report(synthetic_lab.prometheus, None, tmp_path, start=t0 - 2,
                          end=t0 + lab.END, hold=lab.HOLD)
    (sc,) = report.scenarios
    assert sc.window.key == "/".join(lab.SCENARIO)
    assert sc.window.injected_at == pytest.approx(t0 + lab.INJECT, abs=TOLERANCE)
    assert sc.window.reverted_at == pytest.approx(t0 + lab.REVERT, abs=TOLERANCE)
    assert sc.impacts["service:iam.us-east-1"].degraded
    assert not sc.impacts["service:dynamodb.us-east-1"].degraded
