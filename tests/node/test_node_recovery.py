"""`down` after an `up` that was killed half-way: the host comes back as it was.

The `up` process is SIGKILLed (no handler runs, as after an OOM kill or a closed terminal)
once its kubelet is running; everything it started keeps running in its own session, and
`chaoslab node down` must find it all from state.json and the ledger and remove it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import host_footprint

from chaoslab.procs import pid_alive

pytestmark = pytest.mark.timeout(600)


def test_down_after_a_killed_up_leaves_the_host_as_it_was(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    before = host_footprint()
    # A short folder: the kubelet's unix sockets live under it, and a socket's path has at
    # most 107 bytes (this test's own tmp_path under an xdist worker is over it).
    tmp_path = tmp_path_factory.mktemp("rec")
    lab_dir = tmp_path / "lab"
    log = (tmp_path / "up.log").open("w")
    up = subprocess.Popen([sys.executable, "-m", "chaoslab.cli", "node", "up",
                           "--lab-dir", str(lab_dir)], stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)
    state_file = lab_dir / "state.json"
    deadline = time.monotonic() + 300
    pids: dict[str, int] = {}
    try:
        while time.monotonic() < deadline and up.poll() is None:
            if state_file.exists():
                try:
                    pids = json.loads(state_file.read_text()).get("pids", {})
                except ValueError:
                    pids = {}  # caught mid-write
                if "kube-proxy" in pids:
                    break
            time.sleep(0.5)
        assert up.poll() is None, (tmp_path / "up.log").read_text()
        assert "kubelet" in pids, f"the kubelet never started: {pids}"
    finally:
        if up.poll() is None:  # else the assertion above says why it ended
            os.kill(up.pid, signal.SIGKILL)  # the up process only; its children live on
        up.wait(timeout=10)
    assert all(pid_alive(pid) for pid in pids.values()), "components died with up"
    assert host_footprint() != before  # the bridge, rules and sysctls are in place

    down = subprocess.run([sys.executable, "-m", "chaoslab.cli", "node", "down",
                           "--lab-dir", str(lab_dir)], capture_output=True, text=True,
                          timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "the host is as it was" in down.stdout
    for name, pid in pids.items():
        assert not pid_alive(pid), f"{name} (pid {pid}) still running"
    after = host_footprint()
    for key, value in before.items():
        assert after[key] == value, f"{key} differs after down"
