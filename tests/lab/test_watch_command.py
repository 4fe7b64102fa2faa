"""`chaoslab watch` as a command, without a lab: what it says when there is nothing to watch,
when Prometheus is not there, how it leaves a real terminal (tmux), and that its figures are
the dashboards' own queries."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chaoslab.procs import free_port
from chaoslab.testkit.tmux import Terminal, wait_screen
from chaoslab.toolpaths import REPO_ROOT
from chaoslab.watch import command, sources
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


def test_a_relative_kubeconfig_is_found_from_any_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "kubeconfig").write_text("apiVersion: v1\n")
    # What `chaoslab up --local` records when started with the default, relative .lab
    (lab / "state.json").write_text(json.dumps({"prometheus": "http://127.0.0.1:1",
                                                "kubeconfig": ".lab/kubeconfig"}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    args = argparse.Namespace(lab_dir=lab, prometheus=None, kubeconfig=None)
    url, kubeconfig, state_file = command.resolve(args)
    assert (url, kubeconfig, state_file) == ("http://127.0.0.1:1", lab / "kubeconfig",
                                             lab / "state.json")
    args.prometheus, args.kubeconfig = "http://127.0.0.1:2", Path("/k")
    assert command.resolve(args)[:2] == ("http://127.0.0.1:2", Path("/k"))


def test_keys_signals_and_resizes_in_a_real_terminal(tmp_path: Path) -> None:
    """Without a lab (Prometheus refused): q, Ctrl-C and SIGTERM each end the watch with
    the terminal given back in canonical mode; a narrower window gets a narrower frame."""
    watch = f"{CHAOSLAB} watch --prometheus http://127.0.0.1:{free_port()}"
    term = Terminal(tmp_path / "tmux.sock", width=100, height=30)
    try:
        for session, how, code in (("q", "q", 0), ("ctrl-c", "C-c", 0), ("term", "", 143)):
            term.run(session, watch)
            wait_screen(term, session, "a frame", lambda s: "is not answering" in s, 30)
            if how:
                term.keys(session, how)
            else:
                os.kill(term.command_pid(session), signal.SIGTERM)
            screen, _ = wait_screen(term, session, f"the exit after {session}",
                                    lambda s: "icanon" in s, 10)
            assert f"watch exited {code}" in screen and "Traceback" not in screen, screen
            assert "-icanon" not in screen, f"{session} left the terminal in cbreak mode"
        term.run("resize", watch)
        wait_screen(term, "resize", "a frame", lambda s: "is not answering" in s, 30)
        term.tmux("resize-window", "-t", "resize", "-x", "40", "-y", "12")
        screen, _ = wait_screen(term, "resize", "a 40-column frame",
                                lambda s: "DNS Chaos Lab" in s and "…" in s, 10)
        assert max(len(line) for line in screen.splitlines()) <= 40, screen
        term.keys("resize", "q")
        wait_screen(term, "resize", "the exit", lambda s: "watch exited 0" in s, 10)
    finally:
        term.close()
