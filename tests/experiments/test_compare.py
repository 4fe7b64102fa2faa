"""The comparison's figures and verdicts on game days whose truth the test wrote."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from game_day_data import END, INJECT, REVERT, T0, cascade

from chaoslab.experiment import compare, hypotheses
from chaoslab.experiment.command import DEFAULT_PROFILES, PROFILE_SETS, expand_profiles
from chaoslab_report.analysis import Tier
from chaoslab_report.paths import failure_path
from chaoslab_report.timeline import Fault
from chaoslab_services.common.config import available_profiles

NODATA = (Fault("dynamodb.us-east-1.aws.internal", "nodata"),)


def test_a_tier_that_never_comes_back_is_metastable() -> None:
    report = cascade(recover_at=None).report(faults=NODATA)
    row = compare.row("naive", report)
    assert row.recovery_s is None and row.recovered_by == ""
    assert row.fault_s == pytest.approx(REVERT - INJECT)
    assert row.below_slo_s == pytest.approx(END - REVERT, abs=1.5)
    assert row.metastable
    assert "service:iam.us-east-1" in row.degraded
    assert "service:dynamodb.us-east-1" not in row.degraded


def test_a_quick_recovery_is_timed_from_the_restore() -> None:
    report = cascade(recover_at=REVERT + 4).report(faults=NODATA)
    row = compare.row("resilient", report)
    assert row.recovered_by == "itself"
    assert row.recovery_s == pytest.approx(4, abs=1.5)
    assert not row.metastable
    assert row.below_slo_s == row.recovery_s


def test_customer_error_shares_and_budget() -> None:
    # signin 4/s + invoke 6/s fail for 10 s; items 5/s never fail: 15 runs/s in all.
    report = cascade(recover_at=REVERT).report(faults=NODATA)
    row = compare.row("x", report)
    assert row.peak_customer_errors == pytest.approx(10 / 15, rel=0.05)
    span = END - INJECT
    assert row.customer_errors == pytest.approx(10 * 10 / (15 * span), rel=0.1)
    assert row.budget_burn == pytest.approx(row.customer_errors / 0.01, rel=1e-6)
    failed = 10 * 10
    assert row.budget_month_used == pytest.approx(failed / (0.01 * 15 * 30 * 86400), rel=0.1)


def test_retry_amplification_is_the_reports_peak() -> None:
    report = cascade(recover_at=None, iam_attempts=5.0).report(faults=NODATA)
    row = compare.row("naive", report)
    assert row.retry_amplification == pytest.approx(5.0, rel=0.05)
    assert row.amplified_tier in ("service:iam.us-east-1", "service:dynamodb.us-east-1")


def test_a_load_cut_is_not_a_recovery_by_itself() -> None:
    cut = REVERT + 40
    report = cascade(recover_at=cut + 6).report(faults=NODATA)
    row = compare.row("naive", report, relief_at=T0 + cut, relief_users=2)
    assert row.recovered_by == "load cut"
    assert row.below_slo_s == pytest.approx(40)
    assert row.metastable
    assert row.relief_recovery_s == pytest.approx(6, abs=1.5)
    assert "after cutting to 2 customers" in compare.recovery_text(row)


def test_the_failover_path_runs_through_global_iam() -> None:
    report = cascade(recover_at=REVERT + 2, customer_region="us-west-2").report(faults=NODATA)
    sc = report.scenarios[0]
    path = failure_path(report, sc, Tier("workflow", "signin", "us-west-2"))
    assert [t.key for t in path.tiers] == [
        "workflow:signin.us-west-2", "service:signin.us-east-1", "service:iam.us-east-1",
        "service:dynamodb.us-east-1"]
    assert path.reaches_dns
    assert path.describe().endswith("DynamoDB (us-east-1): dns_error")
    invoke = failure_path(report, sc, Tier("workflow", "invoke", "us-west-2"))
    assert [t.key for t in invoke.tiers][-2:] == ["service:iam.us-east-1",
                                                  "service:dynamodb.us-east-1"]


def test_retry_storm_verdicts() -> None:
    stuck = cascade(recover_at=None).report(faults=NODATA)
    quick = cascade(recover_at=REVERT + 4).report(faults=NODATA)
    naive = hypotheses.evaluate("retry-storm", hypotheses.Evidence(
        "naive", stuck, compare.row("naive", stuck)))
    resilient = hypotheses.evaluate("retry-storm", hypotheses.Evidence(
        "resilient", quick, compare.row("resilient", quick)))
    wrong = hypotheses.evaluate("retry-storm", hypotheses.Evidence(
        "resilient", stuck, compare.row("resilient", stuck)))
    assert naive is not None and naive.held, naive
    assert resilient is not None and resilient.held, resilient
    assert wrong is not None and not wrong.held
    assert hypotheses.evaluate("retry-storm", hypotheses.Evidence(
        "backoff-jitter", stuck, compare.row("b", stuck))) is None  # no claim about it
    assert hypotheses.evaluate("someone-elses-scenario", hypotheses.Evidence(
        "naive", stuck, compare.row("naive", stuck))) is None
    # The library's other hypotheses are about the lab's default clients only.
    assert hypotheses.evaluate("us-east-1-dynamodb-dns", hypotheses.Evidence(
        "resilient-stale", quick, compare.row("resilient-stale", quick))) is None
    flagship = hypotheses.evaluate("us-east-1-dynamodb-dns", hypotheses.Evidence(
        "backoff-jitter", quick, compare.row("backoff-jitter", quick)))
    assert flagship is not None and not flagship.held  # only IAM degraded here, not CloudWatch


def test_markdown_table_has_a_row_per_profile() -> None:
    rows = [compare.row("naive", cascade(None).report(faults=NODATA)),
            compare.row("resilient", cascade(REVERT + 4).report(faults=NODATA))]
    c = compare.compare("retry-storm", "naive stays down", "nodata on x, 10 s", rows,
                        slo=0.99, hold=10, command="chaoslab experiment --out x")
    text = compare.markdown(c)
    lines = [ln for ln in text.splitlines() if ln.startswith("| naive")
             or ln.startswith("| resilient")]
    assert len(lines) == 2
    assert "**yes**" in lines[0] and "none in" in lines[0]
    assert "| 4 s |" in lines[1] or "| 3 s |" in lines[1] or "| 5 s |" in lines[1]
    assert "chaoslab experiment --out x" in text
    data = c.to_json()
    assert [p["profile"] for p in data["profiles"]] == ["naive", "resilient"]
    assert all(not (isinstance(v, float) and math.isnan(v))
               for p in data["profiles"] for v in p.values())


def test_a_profile_that_never_degraded_is_unaffected_not_stuck() -> None:
    # DNS fails for 10 s but every tier keeps serving (serve-stale): nothing to recover.
    report = cascade(recover_at=INJECT).report(faults=NODATA)
    row = compare.row("resilient-stale", report)
    assert row.degraded == ()
    assert row.recovered_by == "unaffected" and row.recovery_s == 0.0
    assert not row.metastable
    verdict = hypotheses.evaluate("retry-storm", hypotheses.Evidence(
        "resilient-stale", report, row))
    assert verdict is not None and verdict.held, verdict


def test_the_plot_is_drawn(tmp_path: Path) -> None:
    from chaoslab.experiment import plot

    stuck = cascade(None).report(faults=NODATA)
    cut = cascade(REVERT + 46).report(faults=NODATA)
    quick = cascade(REVERT + 4).report(faults=NODATA)
    rows = [compare.row("naive", stuck), compare.row("naive-cut", cut, relief_at=T0 + REVERT + 40,
                                                     relief_users=2),
            compare.row("resilient", quick)]
    c = compare.compare("retry-storm", "", "nodata", rows, slo=0.99, hold=10)
    out = plot.draw(c, [stuck, cut, quick], tmp_path / "comparison.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_profile_gets_a_metastable_verdict_line() -> None:
    # The four outcomes a comparison can print: stuck until the load cut, stuck for the
    # whole window, healed by itself, never degraded; and the summary naming the stuck.
    cut = REVERT + 40
    rows = [compare.row("legacy", cascade(cut + 6).report(faults=NODATA),
                        relief_at=T0 + cut, relief_users=2),
            compare.row("standard", cascade(None).report(faults=NODATA)),
            compare.row("adaptive", cascade(REVERT + 4).report(faults=NODATA)),
            compare.row("sdk-2026", cascade(INJECT).report(faults=NODATA))]
    c = compare.compare("retry-storm", "", "nodata on x, 10 s", rows, slo=0.99, hold=10)
    legacy, standard, adaptive, sdk = (compare.verdict_text(r) for r in rows)
    assert legacy.startswith("**legacy**: **metastable**: below the SLO for 40 s")
    assert "30 s)" in legacy and "cutting the load to 2 customers" in legacy
    assert standard.startswith("**standard**: **metastable**")
    assert "not back by the end of the observation" in standard
    assert adaptive.startswith("**adaptive**: not metastable: recovered by itself")
    assert sdk == "**sdk-2026**: not metastable: no tier fell below the SLO"
    assert compare.metastable_summary(c) == (
        "The fault became a metastable failure under 2 of 4 profiles: legacy, standard.")
    text = compare.markdown(c)
    assert compare.metastable_summary(c) in text
    assert all(f"- {compare.verdict_text(r)}" in text for r in rows)
    healed = compare.compare("retry-storm", "", "x", rows[2:], slo=0.99, hold=10)
    assert compare.metastable_summary(healed) == (
        "The fault became a metastable failure under none of the 2 profiles.")


def test_a_window_too_short_to_tell_is_not_called_metastable() -> None:
    # Cut 5 s after the restore of a 10 s fault: still down, but not for 3x the fault.
    cut = REVERT + 5
    row = compare.row("x", cascade(cut + 6).report(faults=NODATA), relief_at=T0 + cut,
                      relief_users=2)
    assert not row.metastable
    assert compare.verdict_text(row).startswith("**x**: not judged metastable")


def test_profile_sets_expand_in_order_each_profile_once() -> None:
    assert expand_profiles("sdk") == ["legacy", "standard", "adaptive", "sdk-2026"]
    assert expand_profiles("policies") == DEFAULT_PROFILES.split(",")
    assert expand_profiles(" naive , sdk,legacy,, x.yaml") == [
        "naive", "legacy", "standard", "adaptive", "sdk-2026", "x.yaml"]
    assert {p for names in PROFILE_SETS.values() for p in names} <= set(available_profiles())
