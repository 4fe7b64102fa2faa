"""Stopping the lab is quiet: no ERROR line or traceback in any component's log.

A game day's logs are read afterwards for what went wrong; shutdown noise (an asyncio
InvalidStateError from the operator, a gevent traceback from Locust) hides the real errors
and teaches people to ignore them. Two ways a lab stops: `chaoslab down` of a lab under
load with a live fault, and Ctrl-C of `chaoslab demo` while its customers run. On the way,
`chaoslab abort --all` must name the scenario whose fault it found live.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from test_local_lab import _query, _wait

from chaoslab.procs import processes_mentioning
from chaoslab.toolpaths import tool

pytestmark = pytest.mark.slow

CHAOSLAB = str(Path(sys.executable).parent / "chaoslab")
DYNAMO = "dynamodb.us-east-1.aws.internal"
SCENARIO = """
apiVersion: chaoslab.io/v1alpha1
kind: OutageScenario
metadata: {{name: {name}, namespace: default}}
spec:
  faults:
    - target: {target}
      mode: {mode}
  duration: 5m
"""


def noisy_lines(logs: Path) -> list[str]:
    """Every line of every log that says ERROR or carries a traceback."""
    found = []
    for log in sorted(logs.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if "ERROR" in line or "Traceback" in line or '"level": "error"' in line:
                found.append(f"{log.name}: {line[:300]}")
    return found


def kubectl_apply(kubeconfig: str, text: str) -> None:
    subprocess.run([str(tool("kubectl")), "apply", "-f", "-"], input=text, check=True,
                   env={**os.environ, "KUBECONFIG": kubeconfig}, capture_output=True,
                   text=True, timeout=30)


def test_down_under_load_with_a_live_fault_is_quiet(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    up = subprocess.run([CHAOSLAB, "up", "--local", "--lab-dir", str(lab_dir)],
                        capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    state = json.loads((lab_dir / "state.json").read_text())
    try:
        kubectl_apply(state["kubeconfig"], SCENARIO.format(name="kill-me", target=DYNAMO,
                                                           mode="nxdomain"))
        _wait("the fault live in DNS",
              lambda: _query(state["dns"], DYNAMO).rcode() == 3, timeout=30)  # NXDOMAIN
        abort = subprocess.run([CHAOSLAB, "abort", "--all", "--kubeconfig",
                                state["kubeconfig"]], capture_output=True, text=True,
                               timeout=60)
        assert abort.returncode == 0, abort.stderr
        assert "reverted default/kill-me: 1 fault rule(s)" in abort.stdout, abort.stdout
        assert f"fault {DYNAMO} nxdomain" in abort.stdout
        assert "already pristine" not in abort.stdout
        _wait("the base answer back", lambda: bool(_query(state["dns"], DYNAMO).answer))

        # Stop with a fault live, customers failing and the operator mid-reconcile.
        kubectl_apply(state["kubeconfig"], SCENARIO.format(name="left-on", target=DYNAMO,
                                                           mode="servfail"))
        _wait("the second fault live",
              lambda: _query(state["dns"], DYNAMO).rcode() == 2, timeout=30)  # SERVFAIL
        _wait("Locust counting calls", lambda: requests.get(
            f"{state['locust']}/stats/requests", timeout=5).json()["total_rps"] > 0)
        time.sleep(3)
    finally:
        down = subprocess.run([CHAOSLAB, "down", "--lab-dir", str(lab_dir)],
                              capture_output=True, text=True, timeout=180)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not processes_mentioning(str(lab_dir))
    assert len(list((lab_dir / "logs").glob("*.log"))) >= 10
    assert not noisy_lines(lab_dir / "logs"), "\n".join(noisy_lines(lab_dir / "logs"))


def test_ctrl_c_of_the_demo_is_quiet(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    out = tmp_path / "demo.out"
    with out.open("wb") as sink:
        demo = subprocess.Popen(
            [CHAOSLAB, "demo", "--lab-dir", str(lab_dir), "--out", str(tmp_path / "report"),
             "--warmup", "600"], stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group, as a terminal's job is
    try:
        def locust_serving() -> bool:
            state = json.loads((lab_dir / "state.json").read_text())
            return "locust" in state["pids"] and requests.get(
                f"{state['locust']}/stats/requests", timeout=5).json()["total_rps"] > 0

        _wait("the demo's customers running", locust_serving, timeout=300)
        time.sleep(3)
        os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        code = demo.wait(180)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
            subprocess.run([CHAOSLAB, "down", "--lab-dir", str(lab_dir)],
                           capture_output=True, timeout=180)
    text = out.read_text(errors="replace")
    assert code == 130, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert not processes_mentioning(str(lab_dir))
    assert not noisy_lines(lab_dir / "logs"), "\n".join(noisy_lines(lab_dir / "logs"))
