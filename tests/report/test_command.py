"""`chaoslab report`: the command line, and the timeline read from a real OutageScenario on
the local kube-apiserver."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
import synthetic_lab as lab

from chaoslab.testkit.scenarios import outage
from chaoslab.toolpaths import REPO_ROOT, tool
from chaoslab_report.command import generate, parse_when, register, report_for_lab

CRD = REPO_ROOT / "charts" / "chaoslab" / "crds" / "outagescenarios.yaml"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chaoslab")
    register(p.add_subparsers())
    return p


def test_help_and_argument_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["report", "--help"])
    assert exc.value.code == 0
    assert "--scenario NS/NAME" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser().parse_args(["report", "--out", "x", "--slo", "1.5"])
    assert parse_when("90s", now=1000.0) == 910.0
    assert parse_when("1h30m", now=10_000.0) == 4600.0
    assert parse_when("2025-10-20T07:11:00Z", now=0) == 1760944260.0
    with pytest.raises(ValueError, match="'yesterday'"):
        parse_when("yesterday", now=0)


def test_cli_against_prometheus(synthetic_lab, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    synthetic_lab.wait_for(lab.END)
    t0 = synthetic_lab.t0
    args = parser().parse_args([
        "report", "--out", str(tmp_path / "out"), "--prometheus", synthetic_lab.prometheus,
        "--since", f"{t0 - 2:.3f}", "--until", f"{t0 + lab.END:.3f}", "--hold", "5"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "default/flagship" in out and "report written to" in out  # timeline from the metric
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["scenarios"][0]["blast_radius"]["degraded"]


def test_no_lab_state_is_a_clear_error(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["report", "--out", str(tmp_path), "--lab-state",
                                str(tmp_path / "state.json")])
    assert args.func(args) == 2
    assert "chaoslab up --local" in capsys.readouterr().err


def _rfc3339(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds")


def test_timeline_from_an_outage_scenario(control_plane, synthetic_lab, tmp_path: Path) -> None:
    kubectl = [str(tool("kubectl")), f"--kubeconfig={control_plane.kubeconfig}"]

    def run(*args: str, stdin: str | None = None) -> str:
        out = subprocess.run([*kubectl, *args], input=stdin, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    run("apply", "-f", str(CRD))
    run("wait", "--for=condition=Established", "crd/outagescenarios.chaoslab.io",
        "--timeout=60s")
    run("create", "namespace", "report-test")
    run("apply", "-f", "-",
        stdin=json.dumps(outage("flagship", namespace="report-test", duration="10s")))
    t0 = synthetic_lab.t0
    run("patch", "outagescenario", "flagship", "-n", "report-test", "--subresource=status",
        "--type=merge", "-p", json.dumps({"status": {
            "phase": "Completed", "injectedAt": _rfc3339(t0 + lab.INJECT),
            "revertedAt": _rfc3339(t0 + lab.REVERT)}}))

    synthetic_lab.wait_for(lab.END)
    state = argparse.Namespace(prometheus=synthetic_lab.prometheus,
                               kubeconfig=str(control_plane.kubeconfig))
    summary = report_for_lab(state, tmp_path / "lab", scenarios=[("report-test", "flagship")],
                             until=t0 + lab.END, hold=lab.HOLD)
    assert "report-test/flagship: dynamodb.us-east-1.aws.internal DNS returned NODATA" in summary
    report = generate(synthetic_lab.prometheus, tmp_path / "all",
                      kubeconfig=str(control_plane.kubeconfig), since=t0 - 2,
                      until=t0 + lab.END, hold=lab.HOLD)  # every scenario in the window
    # Other tests' scenarios on the shared API server may overlap the window too.
    sc = next(s for s in report.scenarios if s.window.key == "report-test/flagship")
    assert sc.window.key == "report-test/flagship" and sc.window.faults[0].mode == "nodata"
    assert sc.window.injected_at == pytest.approx(t0 + lab.INJECT, abs=0.002)
    assert sc.impacts["service:iam.us-east-1"].degraded
