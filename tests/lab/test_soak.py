"""The 3-minute soak (benchmarks/soak.py) in the suite: a short game day that must stay healthy.

Short as it is, it covers every path the long soak does -- scenarios expiring and deleted
early, two operator SIGKILLs and restarts under 100 customers -- and fails on a leaked
fault, a component that died, or RSS growth over 50 %.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chaoslab.procs import processes_mentioning, stop_pid

pytestmark = pytest.mark.slow

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


def test_three_minute_soak(tmp_path: Path) -> None:
    lab_dir = tmp_path / "soak"
    soak = subprocess.Popen([sys.executable, str(SOAK), "--minutes", "2.5", "--every", "30",
                             "--warmup", "20", "--lab-dir", str(lab_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = soak.communicate(timeout=420)
    finally:  # interrupted or timed out: the soak stops its lab on SIGINT, as on Ctrl-C
        if soak.poll() is None:
            soak.send_signal(signal.SIGINT)
            try:
                soak.wait(90)
            finally:
                for pid, _cmd in [(soak.pid, ""), *processes_mentioning(str(lab_dir))]:
                    stop_pid(pid)
    assert soak.returncode == 0, out[-4000:]
    assert "== start" in out and "== end" in out and "soak: ok" in out
    assert out.count("SIGKILL operator") == 2 and out.count("operator back as pid") == 2
    reverted = next(line for line in out.splitlines() if line.startswith("faults reverted"))
    done, total = reverted.split(": ")[1].split()[0].split("/")
    assert int(total) >= 4 and done == total, reverted
    assert not processes_mentioning(str(lab_dir))
