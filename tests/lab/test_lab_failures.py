"""The local lab fails clearly and cleanly: a missing tool names `make tools`, a component
that dies names its log file, and Ctrl-C during start-up leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaoslab.procs import free_port, pid_alive, processes_mentioning

CHAOSLAB = str(Path(sys.executable).parent / "chaoslab")


def test_missing_tool_names_make_tools(tmp_path: Path) -> None:
    env = {**os.environ, "CHAOSLAB_TOOLS": str(tmp_path / "no-tools")}
    out = subprocess.run([CHAOSLAB, "up", "--local", "--lab-dir", str(tmp_path / "lab")],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode != 0
    assert "make tools" in out.stderr, out.stderr
    assert not processes_mentioning(tmp_path / "lab")


def test_an_unknown_profile_is_refused_before_anything_starts(tmp_path: Path) -> None:
    out = subprocess.run(
        [CHAOSLAB, "up", "--local", "--lab-dir", str(tmp_path / "lab"), "--profile", "typo"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "--profile: unknown profile 'typo'" in out.stderr and "naive" in out.stderr
    assert not (tmp_path / "lab").exists()


def test_a_failing_component_names_its_log(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    policy = tmp_path / "broken-policy.yaml"
    policy.write_text("defaults:\n  timeout: banana\n")
    out = subprocess.run(
        [CHAOSLAB, "up", "--local", "--lab-dir", str(lab_dir), "--profile", str(policy)],
        capture_output=True, text=True, timeout=180)
    assert out.returncode != 0
    # The services refuse the broken policy; the error points at a service's log.
    assert "see " in out.stderr and str(lab_dir / "logs" / "service-") in out.stderr, out.stderr
    assert not processes_mentioning(lab_dir), "a failed start-up left processes behind"
    assert sorted(p.name for p in lab_dir.iterdir()) == ["logs"]


def test_ctrl_c_during_start_up_stops_everything(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    up = subprocess.Popen([CHAOSLAB, "up", "--local", "--lab-dir", str(lab_dir)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    state = lab_dir / "state.json"
    deadline = time.monotonic() + 120
    pids: dict[str, int] = {}
    # Interrupt once the services are being started: a half-started lab.
    while time.monotonic() < deadline and up.poll() is None:
        try:
            pids = json.loads(state.read_text()).get("pids", {})
        except (OSError, ValueError):
            pids = {}
        if any(name.startswith("service-") for name in pids):
            break
        time.sleep(0.1)
    assert up.poll() is None, up.stdout.read() if up.stdout else ""
    up.send_signal(signal.SIGINT)
    output, _ = up.communicate(timeout=120)
    assert up.returncode != 0, output
    assert "interrupted" in output or "stopping" in output, output
    assert pids and not any(pid_alive(p) for p in pids.values()), output
    assert not processes_mentioning(lab_dir), "Ctrl-C left processes behind"


def test_a_port_taken_before_the_component_binds_it_starts_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race CI once lost: a port picked as free, bound by someone else before the child."""
    from chaoslab.local import runtime

    messages: list[str] = []
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", free_port()))
        squatter.listen()
        busy = squatter.getsockname()[1]
        picks = iter([busy])  # the first port the lab picks (a service's) is already bound
        monkeypatch.setattr(runtime, "free_port", lambda: next(picks, None) or free_port())
        lab = runtime.LocalLab(runtime.LabOptions(lab_dir=tmp_path / "lab", load=False),
                               progress=messages.append)
        try:
            state = lab.up()
            assert state.services
            assert f"127.0.0.1:{busy}" not in state.services.values()
        finally:
            lab.stop()
    retried = [m for m in messages if "a port was taken meanwhile" in m]
    assert len(retried) == 1 and "already in use" in retried[0].lower(), messages
    assert not processes_mentioning(tmp_path / "lab")


def test_down_never_kills_a_pid_the_lab_no_longer_owns(tmp_path: Path) -> None:
    """After a reboot or kill -9 the recorded pids may belong to other programs by now."""
    from chaoslab.local import runtime
    from chaoslab.local.state import LabState

    lab_dir = tmp_path / "lab"
    lab_dir.mkdir()
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                              str(lab_dir.resolve())], start_new_session=True)
    try:
        LabState(kubeconfig="", dns="", prometheus="", locust="", services={},
                 pids={"coredns": stranger.pid}).save(lab_dir / "state.json")
        said: list[str] = []
        assert runtime.down(lab_dir, progress=said.append)
        assert stranger.poll() is None, "down killed a process that was not the lab's"
        assert any(f"pid {stranger.pid} is no longer the lab's" in m for m in said), said
        assert any(f"pid {stray.pid}" in m for m in said), said  # named, for the user to judge
        assert not (lab_dir / "state.json").exists()
    finally:
        stranger.kill()
        stray.kill()
        stranger.wait()
        stray.wait()
