"""`chaoslab watch` as a command, without a lab: what it says when there is nothing to watch,
when Prometheus is not there, and that its figures are the dashboards' own queries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from chaoslab.procs import free_port
from chaoslab.toolpaths import REPO_ROOT
from chaoslab.watch import sources
from chaoslab_report import dashboards

CHAOSLAB = str(Path(sys.executable).parent / "chaoslab")


def _watch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHAOSLAB, "watch", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def test_no_lab_exits_2_and_says_how_to_start_one(tmp_path: Path) -> None:
    out = _watch(cwd=tmp_path)
    assert out.returncode == 2, out
    assert "no lab is running" in out.stderr and "chaoslab up --local" in out.stderr
    assert out.stdout == ""
    assert _watch("--lab-dir", str(tmp_path / "nowhere")).returncode == 2


def test_once_with_prometheus_down_prints_the_frame_and_exits_1(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    (tmp_path / "state.json").write_text(json.dumps({
        "lab": "local", "prometheus": f"http://127.0.0.1:{port}", "kubeconfig": ""}))
    out = _watch("--once", "--lab-dir", str(tmp_path), "--width", "120")
    assert out.returncode == 1, out
    lines = out.stdout.splitlines()
    assert lines[1] == (f"! Prometheus is not answering (http://127.0.0.1:{port}): "
                        "connection refused")
    assert lines[2] == "  no figures until it answers"
    assert "\x1b[" not in out.stdout  # no colour when not asked for, off a terminal


def test_help_names_the_sources_and_keys() -> None:
    out = subprocess.run([CHAOSLAB, "watch", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0
    for text in ("--once", "--prometheus", "--kubeconfig", "--lab-dir", "q quits",
                 "state.json", "dashboards"):
        assert text in out.stdout, text
    top = subprocess.run([CHAOSLAB, "--help"], capture_output=True, text=True, timeout=60)
    assert "watch" in top.stdout


def test_every_figure_is_a_committed_dashboard_query() -> None:
    boards = dashboards.load_boards(REPO_ROOT / "charts" / "chaoslab" / "dashboards")
    committed = {expr for _, expr in dashboards.expressions(boards)}
    exprs = sources.expressions()
    assert set(exprs) == {*sources.PANELS, "active"}
    missing = {name: e for name, e in exprs.items() if e not in committed}
    assert not missing, f"not what the dashboards run: {missing}"


def test_scenario_objects_read_as_the_operator_writes_them() -> None:
    obj = {"metadata": {"namespace": "default", "name": "slow"},
           "spec": {"faults": [{"target": "*.aws.internal", "mode": "delay", "delay": "800ms",
                                "probability": 0.5},
                               {"target": "iam.aws.internal", "mode": "nxdomain"}]},
           "status": {"phase": "Aborted", "message": "stop condition 0 breached",
                      "injectedAt": "2026-12-01T10:00:00Z",
                      "revertedAt": "2026-12-01T10:00:30.5Z"}}
    sc = sources.scenario_from_object(obj)
    assert (sc.key, sc.phase, sc.message) == ("default/slow", "Aborted",
                                              "stop condition 0 breached")
    assert sc.faults == ("delay 800ms 50% *.aws.internal", "nxdomain iam.aws.internal")
    assert sc.ended_at is not None and sc.injected_at is not None
    assert sc.ended_at - sc.injected_at == 30.5
    fresh = sources.scenario_from_object({"metadata": {"namespace": "n", "name": "x"}})
    assert fresh.phase == "Pending" and fresh.faults == ()


def test_a_lab_stopped_under_the_watch_is_noted(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{}")
    src = sources.Sources(f"http://127.0.0.1:{free_port()}", None, state_file=state)
    assert src.snapshot().notes == ()
    state.unlink()
    snap = src.snapshot()
    assert snap.notes and "chaoslab up --local" in snap.notes[0]
    assert snap.prometheus_error == "connection refused"
