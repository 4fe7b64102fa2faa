"""`chaoslab watch` in a real terminal (tmux) against a real local lab.

Ground truth the test creates: a lab started with `chaoslab up --local`, an OutageScenario
applied with kubectl that empties DynamoDB us-east-1's DNS answer (IAM depends on it, KMS
does not), the lab's own Prometheus frozen with SIGSTOP and thawed again. The screen is read
back with `tmux capture-pane`, as a person would read it: the scenario and its phase, IAM
DEGRADED and KMS not, DNS faults answered, the silent Prometheus named in the view; then
Ctrl-C and `q` each end the watch with exit status 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoslab.testkit.tmux import ENV, Terminal, wait_screen
from chaoslab.toolpaths import tool

pytestmark = pytest.mark.slow

CHAOSLAB = str(Path(sys.executable).parent / "chaoslab")
SCENARIO = """
apiVersion: chaoslab.io/v1alpha1
kind: OutageScenario
metadata: {name: watch-nodata, namespace: default}
spec:
  faults:
    - target: dynamodb.us-east-1.aws.internal
      mode: nodata
  duration: 3m
"""
def line_of(screen: str, start: str) -> str:
    return next((ln for ln in screen.splitlines() if ln.strip().startswith(start)), "")


def faults_per_second(screen: str) -> float:
    m = re.search(r"DNS faults answered\s+([\d.]+)(k?)/s", screen)
    return float(m[1]) * (1000 if m[2] else 1) if m else 0.0


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The process stopped (SIGSTOP) for the block, and continued whatever happens."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_watch_in_tmux_against_a_real_lab(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    up = subprocess.run([CHAOSLAB, "up", "--local", "--lab-dir", str(lab_dir), "--users", "8"],
                        capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    term = Terminal(tmp_path / "tmux.sock")
    try:
        state = json.loads((lab_dir / "state.json").read_text())
        # What `up` prints can be pasted anywhere: the kubeconfig path is absolute.
        exported = re.search(r"export KUBECONFIG=(\S+)", up.stdout)
        assert exported and Path(exported[1]).is_absolute(), up.stdout
        assert Path(exported[1]).samefile(lab_dir / "kubeconfig")

        # --once: one frame from the same sources, for scripts.
        def once() -> subprocess.CompletedProcess[str]:
            return subprocess.run([CHAOSLAB, "watch", "--once", "--lab-dir", str(lab_dir),
                                   "--width", "140"], capture_output=True, text=True,
                                  timeout=60, env=ENV)

        deadline = time.monotonic() + 60
        frame = once()
        while "iam us-east-1" not in frame.stdout and time.monotonic() < deadline:
            time.sleep(1)
            frame = once()
        assert frame.returncode == 0, frame.stdout + frame.stderr
        assert "iam us-east-1" in frame.stdout and "Scenarios  none live" in frame.stdout, \
            frame.stdout

        session = "watch"
        term.run(session, f"{CHAOSLAB} watch --lab-dir {lab_dir}")
        wait_screen(term, session, "the watch's frame",
                    lambda s: "DNS Chaos Lab · watch" in s and "kms us-east-1" in s, 30)

        subprocess.run([str(tool("kubectl")), "--kubeconfig", state["kubeconfig"], "apply",
                        "-f", "-"], input=SCENARIO, capture_output=True, text=True,
                       check=True, timeout=30)
        applied = time.monotonic()
        screen, _ = wait_screen(
            term, session, "the scenario Active with IAM degraded",
            lambda s: " Active " in line_of(s, "default/watch-nodata")
            and "DEGRADED" in line_of(s, "iam us-east-1") and faults_per_second(s) > 0, 20)
        seen_after = time.monotonic() - applied
        print(f"scenario and degraded tier on screen {seen_after:.1f}s after kubectl apply:")
        print(screen)
        assert "nodata dynamodb.us-east-1.aws.internal" in line_of(screen, "default/watch-nodata")
        assert "DEGRADED" not in line_of(screen, "kms us-east-1"), screen
        assert re.search(r"nodata [\d.]+k?/s", line_of(screen, "DNS faults answered")), screen

        # Prometheus stops answering: the view says so and keeps the cluster's scenarios.
        with frozen(state["pids"]["prometheus"]):
            screen, _ = wait_screen(term, session, "the silent Prometheus",
                                    lambda s: "Prometheus is not answering" in s, 20)
            assert "figures below are from" in screen and "default/watch-nodata" in screen
        wait_screen(term, session, "Prometheus back",
                    lambda s: "not answering" not in s and "iam us-east-1" in s, 30)

        term.keys(session, "C-c")
        screen, _ = wait_screen(term, session, "the exit status after Ctrl-C",
                                   lambda s: "watch exited" in s, 10)
        assert "watch exited 0" in screen and "Traceback" not in screen, screen
        assert "DNS Chaos Lab" not in screen  # the alternate screen is gone, the shell's back
        assert "-icanon" not in wait_screen(term, session, "stty", lambda s: "icanon" in s, 5)[0]

        term.run("quit", f"{CHAOSLAB} watch --lab-dir {lab_dir}")
        wait_screen(term, "quit", "the second watch", lambda s: "default/watch-nodata" in s, 30)
        term.keys("quit", "q")
        screen, _ = wait_screen(term, "quit", "the exit status after q",
                                lambda s: "watch exited" in s, 10)
        assert "watch exited 0" in screen, screen
    finally:
        term.close()
        down = subprocess.run([CHAOSLAB, "down", "--lab-dir", str(lab_dir)],
                              capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
