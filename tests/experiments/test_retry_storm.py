"""`chaoslab experiment` on the real local lab: the retry storm outlives its trigger under
naive clients and heals under jittered backoff with a retry budget.

Short durations so it fits the suite (a 10 s fault, 35 s of observation, two profiles:
about 3 minutes on 2 cores); the full-size comparison is the README's command.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaoslab.procs import processes_mentioning
from chaoslab.toolpaths import REPO_ROOT

pytestmark = pytest.mark.slow

CHAOSLAB = str(Path(sys.executable).parent / "chaoslab")
FAULT_S = 10.0


def test_naive_storm_is_metastable_and_resilient_recovers(tmp_path: Path) -> None:
    out = tmp_path / "storm"
    proc = subprocess.run(
        [CHAOSLAB, "experiment", "--scenario", str(REPO_ROOT / "scenarios/retry-storm.yaml"),
         "--profiles", "naive,resilient", "--fault-duration", f"{FAULT_S:g}s",
         "--warmup", "15", "--observe", "35", "--out", str(out)],
        capture_output=True, text=True, timeout=480)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    # Progress is reported phase by phase, for each profile.
    for profile in ("naive", "resilient"):
        for phase in ("up:", "warm-up:", "fault:", "observe:", "report:", "down:"):
            assert f"[{profile}] {phase}" in log, f"no {phase} line for {profile}"
    for name in ("comparison.md", "comparison.json", "comparison.png"):
        assert (out / name).stat().st_size > 0, name
    data = json.loads((out / "comparison.json").read_text())
    rows = {r["profile"]: r for r in data["profiles"]}
    naive, resilient = rows["naive"], rows["resilient"]
    evidence = json.dumps(rows, indent=1)

    # naive: the affected tiers stay below the SLO for >= 3x the fault after the restore.
    assert naive["fault_s"] == pytest.approx(FAULT_S, abs=1.5)
    assert naive["recovered_by"] != "itself", evidence
    assert naive["below_slo_s"] >= 3 * naive["fault_s"], evidence
    assert naive["metastable"], evidence
    assert "service:iam.us-east-1" in naive["degraded"], evidence
    # resilient: back within 30 s of the DNS restore, without help.
    assert resilient["recovered_by"] == "itself", evidence
    assert resilient["recovery_s"] is not None and resilient["recovery_s"] <= 30.0, evidence
    # The storm is made of retries: naive makes several attempts per intended call.
    assert naive["retry_amplification"] >= 3.0, evidence
    assert all(v["held"] for v in data["verdicts"]), data["verdicts"]
    # One game-day report per profile, from chaoslab_report.
    for profile in rows:
        report = json.loads((out / profile / "report" / "report.json").read_text())
        assert report["schema"] == "chaoslab.report/v1"

    # The saved data answers again without a lab, here against a looser SLO.
    again = subprocess.run([CHAOSLAB, "experiment", "--reanalyse", "--slo", "0.95",
                            "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert again.returncode in (0, 3), again.stdout + again.stderr
    redone = json.loads((out / "comparison.json").read_text())
    assert redone["slo"] == 0.95
    assert [r["profile"] for r in redone["profiles"]] == ["naive", "resilient"]


def test_ctrl_c_stops_the_lab(tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [CHAOSLAB, "experiment", "--scenario", str(REPO_ROOT / "scenarios/retry-storm.yaml"),
         "--profiles", "naive", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        deadline = time.monotonic() + 180
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if "warm-up:" in line:
                break
            assert time.monotonic() < deadline, "".join(seen)
        assert processes_mentioning(str(out)), "the lab's processes should be running"
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
        seen.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = "".join(seen)
    assert proc.returncode == 130, log[-3000:]
    assert "down: stopping the lab" in log
    assert not processes_mentioning(str(out)), "processes left behind"
    assert not (out / "naive" / "lab" / "state.json").exists()
