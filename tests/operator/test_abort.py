"""The kill switch `chaoslab abort`: works with the operator up, and restores the pristine
Corefile directly when the operator is down."""

from __future__ import annotations

import subprocess
import sys
import time

from oplab import BASE_ANSWER, OpLab, scenario_yaml, wait_for

DYNAMO = "dynamodb.us-east-1.aws.internal"
IAM = "iam.aws.internal"


def abort(lab: OpLab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaoslab_operator", "abort", "--kubeconfig",
         str(lab.cp.kubeconfig), *args],
        capture_output=True, text=True, timeout=60,
    )


def test_abort_all_with_the_operator_running(lab: OpLab) -> None:
    assert lab.apply(scenario_yaml("a1", [{"target": DYNAMO, "mode": "nodata"}])).returncode == 0
    assert lab.apply(scenario_yaml("a2", [{"target": IAM, "mode": "servfail"}])).returncode == 0
    assert lab.apply(scenario_yaml("a3", [{"target": IAM, "mode": "refused"}],
                                   start_after="10m")).returncode == 0
    lab.wait_dns(DYNAMO, "NODATA")
    lab.wait_dns(IAM, "SERVFAIL")
    lab.wait_phase("a3", "Scheduled")
    result = abort(lab, "--all")
    assert result.returncode == 0, result.stderr
    # Whoever writes the revert first, the kill switch or the operator reacting to the
    # Aborted statuses, the report names what was live (not "already pristine").
    assert "reverted default/a1: 1 fault rule(s)" in result.stdout, result.stdout
    assert "reverted default/a2: 1 fault rule(s)" in result.stdout, result.stdout
    assert f"fault {DYNAMO} nodata" in result.stdout and "default/a3" not in result.stdout.replace(
        "aborted default/a3", "")
    assert "pristine now" in result.stdout and "already pristine" not in result.stdout
    assert lab.configmap() == lab.base
    for name in ("a1", "a2", "a3"):
        status = lab.status(name)
        assert status["phase"] == "Aborted" and status["reason"] == "KillSwitch", status
    assert lab.status("a1").get("revertedAt") and not lab.status("a3").get("injectedAt")
    lab.wait_dns(DYNAMO, BASE_ANSWER)
    lab.wait_dns(IAM, BASE_ANSWER)
    time.sleep(1.5)  # the operator's own passes leave it that way
    assert lab.configmap() == lab.base and lab.phase("a3") == "Aborted"
    for name in ("a1", "a2", "a3"):
        lab.delete(name)


def test_abort_all_with_the_operator_down(lab: OpLab) -> None:
    assert lab.apply(scenario_yaml("d1", [{"target": DYNAMO, "mode": "nxdomain"}])).returncode == 0
    lab.wait_dns(DYNAMO, "NXDOMAIN")
    lab.kill_operator()
    result = abort(lab, "--all", "--delete")
    assert result.returncode == 0, result.stderr
    assert "aborted default/d1" in result.stdout and "deleted default/d1" in result.stdout
    assert lab.configmap() == lab.base  # restored without any operator
    lab.wait_dns(DYNAMO, BASE_ANSWER)
    held = lab.get("d1")
    assert held is not None and held["status"]["phase"] == "Aborted"
    assert held["metadata"].get("deletionTimestamp")  # waiting for the operator's finalizer
    lab.start_operator()
    wait_for("deletion completed", lambda: lab.get("d1") is None, 15)
    assert lab.configmap() == lab.base


def test_abort_named_scenario_and_nothing_to_do(lab: OpLab) -> None:
    assert lab.apply(scenario_yaml("n1", [{"target": DYNAMO, "mode": "refused"}])).returncode == 0
    assert lab.apply(scenario_yaml("n2", [{"target": IAM, "mode": "refused"}])).returncode == 0
    lab.wait_dns(DYNAMO, "REFUSED")
    lab.wait_dns(IAM, "REFUSED")
    result = abort(lab, "n1", "-n", "default")
    assert result.returncode == 0, result.stderr
    lab.wait_dns(DYNAMO, BASE_ANSWER)  # the operator reverted only that one
    assert lab.resolve(IAM) == "REFUSED" and lab.phase("n2") == "Active"
    missing = abort(lab, "nope", "-n", "default")
    assert missing.returncode == 1 and "not found: default/nope" in missing.stderr
    lab.delete("n1")
    lab.delete("n2")
    again = abort(lab, "--all")
    assert again.returncode == 0 and "already pristine" in again.stdout
