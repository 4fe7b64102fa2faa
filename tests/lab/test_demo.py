"""`chaoslab demo` (what `make demo` runs), end to end on the real local lab, shortened.

The flagship scenario with a 20 s fault, from a file outside the repository; the demo must
start the lab, inject, revert, mitigate EC2's collapse once it has outlived the DNS fix by
15 s, write the report that tells that story, and leave nothing running.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from chaoslab.local.demo import FLAGSHIP
from chaoslab.procs import processes_mentioning

CHAOSLAB = str(Path(sys.executable).parent / "chaoslab")


def test_demo_injects_reverts_and_reports(tmp_path: Path) -> None:
    manifest = yaml.safe_load(FLAGSHIP.read_text())
    manifest["metadata"]["name"] = "demo-short"
    manifest["spec"]["duration"] = "20s"
    scenario = tmp_path / "demo-short.yaml"
    scenario.write_text(yaml.safe_dump(manifest))
    out, lab_dir = tmp_path / "report", tmp_path / "lab"
    run = subprocess.run(
        [CHAOSLAB, "demo", "--scenario", str(scenario), "--warmup", "5", "--recovery", "10",
         "--mitigate-after", "15", "--out", str(out), "--lab-dir", str(lab_dir)],
        capture_output=True, text=True, timeout=420)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "DNS was restored" in run.stdout, run.stdout[-3000:]

    report = json.loads((out / "report.json").read_text())
    (sc,) = [s for s in report["scenarios"] if s["name"] == "demo-short"]
    assert sc["phase"] == "Completed"
    assert 15 <= sc["reverted_at"] - sc["injected_at"] <= 30
    assert sc["dns_faults_injected"].get("nodata", 0) > 0  # CoreDNS really answered NODATA
    assert "service:iam.us-east-1" in sc["blast_radius"]["degraded"]
    assert "service:dynamodb.us-west-2" in sc["blast_radius"]["not_degraded"]
    assert (out / "report.html").stat().st_size > 0

    # The failure that outlives the DNS fix: DWFM's leases lapsed during the 20 s fault
    # (8 s leases), its 200-host backlog keeps launches failing until the throttle goes on.
    assert "mitigation: EC2 us-east-1's DWFM holds" in run.stdout, run.stdout[-3000:]
    (mitigation,) = sc["mitigations"]
    assert mitigation["tier"] == "service:ec2.us-east-1"
    assert mitigation["at"] - sc["reverted_at"] >= 14  # the demo waited its 15 s
    launch = sc["tiers"]["workflow:launch.us-east-1"]
    assert launch["degraded"] and launch["recovered_at"] is not None
    assert launch["recovered_at"] >= mitigation["at"] - 1  # back only with the throttle
    assert launch["recovery_after_revert_s"] >= 14
    assert any(line.startswith("Mitigation: DWFM's incoming-work throttle switched on for "
                               "EC2 (us-east-1)") for line in report["summary"])
    # The failover blocked by the global control plane: us-west-2's customers fail through
    # IAM in us-east-1 while us-west-2's own DynamoDB and EC2 serve.
    assert sc["tiers"]["workflow:signin.us-west-2"]["degraded"]
    assert "service:ec2.us-west-2" in sc["blast_radius"]["not_degraded"]
    assert any(line.startswith("Failover to us-west-2 blocked by the global control plane")
               for line in report["summary"]), report["summary"]

    assert not processes_mentioning(lab_dir), "the demo left processes behind"
    assert not (lab_dir / "state.json").exists()


def test_demo_refuses_a_bad_scenario_before_starting_anything(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(yaml.safe_dump({
        "apiVersion": "chaoslab.io/v1alpha1", "kind": "OutageScenario",
        "metadata": {"name": "bad"},
        "spec": {"faults": [{"target": "x.aws.internal {\n forward . 1.1.1.1",
                             "mode": "nodata"}], "duration": "1m"}}))
    run = subprocess.run([CHAOSLAB, "demo", "--scenario", str(scenario),
                          "--lab-dir", str(tmp_path / "lab")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "spec.faults[0].target" in run.stderr, run.stderr
    assert not (tmp_path / "lab").exists()
