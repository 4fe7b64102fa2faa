"""``chaoslab corefile --base <a live ConfigMap>``: faults already in the base are named.

Taking the live ConfigMap as the base is the natural thing to do during a game day, and the
compiler empties the marked sections, so the faults in it vanish from the output. That is
right (the operator recompiles from the pristine base too) but must not be silent: the
command warns on stderr, naming each ignored rule and its scenario.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from chaoslab_dns.basefiles import local_corefile

CHAOSLAB = str(Path(sys.executable).parent / "chaoslab")
BASE = local_corefile(5353, 9153, {"dynamodb.us-east-1.aws.internal": "127.0.0.1",
                                   "iam.aws.internal": "127.0.0.1"})
LIVE = """\
apiVersion: chaoslab.io/v1alpha1
kind: OutageScenario
metadata: {name: live-ddb, namespace: gameday}
spec:
  faults: [{target: dynamodb.us-east-1.aws.internal, mode: nodata}]
  duration: 5m
"""
NEW = """\
apiVersion: chaoslab.io/v1alpha1
kind: OutageScenario
metadata: {name: new-iam, namespace: default}
spec:
  faults: [{target: iam.aws.internal, mode: servfail}]
  duration: 1m
"""


def corefile(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHAOSLAB, "corefile", *argv], capture_output=True, text=True,
                          timeout=60)


def test_base_holding_faults_is_warned_about_and_ignored(tmp_path: Path) -> None:
    (tmp_path / "Corefile").write_text(BASE)
    (tmp_path / "live.yaml").write_text(LIVE)
    (tmp_path / "new.yaml").write_text(NEW)
    # What the operator would have written for the live scenario: the "live ConfigMap".
    live = corefile("--base", str(tmp_path / "Corefile"), "--scenario", str(tmp_path / "live.yaml"))
    assert live.returncode == 0 and live.stderr == "", live.stderr
    assert "scenario gameday/live-ddb" in live.stdout
    (tmp_path / "live-configmap").write_text(live.stdout)

    out = corefile("--base", str(tmp_path / "live-configmap"),
                   "--scenario", str(tmp_path / "new.yaml"))
    assert out.returncode == 0, out.stderr
    assert "warning:" in out.stderr and "ignored" in out.stderr
    assert "gameday/live-ddb" in out.stderr
    assert "fault dynamodb.us-east-1.aws.internal nodata" in out.stderr
    # One warning line per rule, not one per server block holding it.
    assert out.stderr.count("  ignored: fault") == 1, out.stderr
    # The output is the pristine base plus the new scenario only.
    assert "gameday/live-ddb" not in out.stdout
    assert "scenario default/new-iam" in out.stdout

    clean = corefile("--base", str(tmp_path / "Corefile"), "--scenario", str(tmp_path / "new.yaml"))
    assert clean.returncode == 0 and clean.stderr == ""
