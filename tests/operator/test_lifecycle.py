"""End to end: kubectl apply/delete OutageScenarios -> operator -> ConfigMap -> projector ->
real CoreDNS -> what a DNS client sees; the lifecycle, status, Events and metrics."""

from __future__ import annotations

import json
import time

from oplab import BASE_ANSWER, OpLab, scenario_yaml, wait_for

from chaoslab_dns.corefile import compile_corefile
from chaoslab_dns.validate import parse_scenario
from chaoslab_operator.timeutil import parse_time

DYNAMO = "dynamodb.us-east-1.aws.internal"


def test_apply_injects_and_delete_reverts(lab: OpLab) -> None:
    assert lab.configmap() == lab.base
    assert lab.resolve(DYNAMO) == BASE_ANSWER
    t0 = time.monotonic()
    applied = lab.apply(scenario_yaml("dynamo-empty", [{"target": DYNAMO, "mode": "nodata"}]))
    assert applied.returncode == 0, applied.stderr
    lab.wait_dns(DYNAMO, "NODATA")
    assert time.monotonic() - t0 < 3.0  # kubectl apply -> the fault in a real DNS answer
    assert lab.resolve("iam.aws.internal") == BASE_ANSWER  # only the target is hit

    obj = lab.get("dynamo-empty")
    assert obj is not None
    status = obj["status"]
    assert status["phase"] == "Active" and status["faults"] == 1
    assert obj["metadata"]["finalizers"] == ["chaoslab.io/revert-faults"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Accepted"]["status"] == "True"
    wait_for("Injected condition", lambda: any(
        c["type"] == "Injected" and c["status"] == "True"
        for c in lab.status("dynamo-empty").get("conditions", [])), 5)
    # The ConfigMap is exactly the base compiled with this one scenario, its rules ending at
    # the status's endAt.
    injected_at = parse_time(status["injectedAt"])
    assert injected_at is not None
    scenario = parse_scenario(obj).injected(injected_at)
    assert lab.configmap() == compile_corefile(lab.base, [scenario])
    assert f" until {status['endAt'].replace('.000Z', 'Z')} scenario" in lab.configmap()
    wait_for("Injected event", lambda: "Injected" in lab.events("dynamo-empty"), 5)

    code, metrics = lab.http_get("/metrics")
    assert code == 200
    assert "chaoslab_operator_active_scenarios 1.0" in metrics
    assert 'chaoslab_operator_scenario_active{name="dynamo-empty",namespace="default"} 1.0' in (
        metrics
    )
    assert "chaoslab_operator_injections_total" in metrics
    assert lab.http_get("/healthz")[0] == 200

    t0 = time.monotonic()
    lab.delete("dynamo-empty")  # returns once the finalizer is released
    assert lab.configmap() == lab.base  # byte-identical to the pristine one
    lab.wait_dns(DYNAMO, BASE_ANSWER)
    assert time.monotonic() - t0 < 3.0
    assert lab.get("dynamo-empty") is None
    code, metrics = lab.http_get("/metrics")
    assert "chaoslab_operator_active_scenarios 0.0" in metrics


def test_every_mode_as_a_client_sees_it(lab: OpLab) -> None:
    faults = [
        {"target": "dynamodb.us-east-1.aws.internal", "mode": "nxdomain"},
        {"target": "iam.aws.internal", "mode": "servfail"},
        {"target": "sts.aws.internal", "mode": "refused"},
        {"target": "s3.us-east-1.aws.internal", "mode": "timeout"},
        {"target": "kms.us-east-1.aws.internal", "mode": "truncate"},
        {"target": "lambda.us-east-1.aws.internal", "mode": "redirect",
         "redirectTo": "127.0.0.9"},
        {"target": "*.us-west-2.aws.internal", "mode": "delay", "delay": "400ms"},
    ]
    assert lab.apply(scenario_yaml("all-modes", faults)).returncode == 0
    lab.wait_dns("dynamodb.us-east-1.aws.internal", "NXDOMAIN")
    assert lab.resolve("iam.aws.internal") == "SERVFAIL"
    assert lab.resolve("sts.aws.internal") == "REFUSED"
    assert lab.resolve("s3.us-east-1.aws.internal", timeout=0.5) == "TIMEOUT"
    assert lab.resolve("kms.us-east-1.aws.internal") == "TRUNCATED"
    assert lab.resolve("lambda.us-east-1.aws.internal") == "A:127.0.0.9"
    t0 = time.monotonic()
    assert lab.resolve("dynamodb.us-west-2.aws.internal", timeout=2) == BASE_ANSWER
    assert time.monotonic() - t0 >= 0.38
    assert lab.resolve("www.lab.test") == "A:127.0.0.10"  # another zone is untouched
    lab.delete("all-modes")
    assert lab.configmap() == lab.base
    for name in ("iam.aws.internal", "s3.us-east-1.aws.internal",
                 "lambda.us-east-1.aws.internal"):
        lab.wait_dns(name, BASE_ANSWER)


def test_phases_and_times(lab: OpLab) -> None:
    manifest = scenario_yaml(
        "short", [{"target": DYNAMO, "mode": "servfail"}], duration="2s", start_after="1s"
    )
    assert lab.apply(manifest).returncode == 0
    scheduled = lab.wait_phase("short", "Scheduled", timeout=5)
    assert "starts at" in scheduled["message"]
    assert lab.resolve(DYNAMO) == BASE_ANSWER
    lab.wait_phase("short", "Active", timeout=5)
    lab.wait_dns(DYNAMO, "SERVFAIL", timeout=3)
    printed = lab.cp.kubectl("get", "outage", "short").stdout
    assert "PHASE" in printed and "Active" in printed and "FAULTS" in printed
    done = lab.wait_phase("short", "Completed", timeout=8)
    lab.wait_dns(DYNAMO, BASE_ANSWER, timeout=3)
    done = wait_for("revertedAt", lambda: (s := lab.status("short")).get("revertedAt") and s, 5)
    accepted, injected = parse_time(done["acceptedAt"]), parse_time(done["injectedAt"])
    ended, reverted = parse_time(done["endedAt"]), parse_time(done["revertedAt"])
    assert accepted and injected and ended and reverted
    assert 1.0 <= injected - accepted < 2.0
    assert 2.0 <= ended - injected < 3.0
    assert ended <= reverted < ended + 2.0
    assert done["message"].endswith("; reverted")
    assert lab.configmap() == lab.base
    reasons = wait_for("events", lambda: (r := lab.events("short")) and "Reverted" in r and r, 5)
    assert {"Scheduled", "Injected", "Completed", "Reverted"} <= set(reasons)
    # A completed scenario stays Completed; deleting it is immediate.
    lab.delete("short")


def test_hand_edits_inside_markers_are_undone(lab: OpLab) -> None:
    assert lab.apply(scenario_yaml("keep", [{"target": DYNAMO, "mode": "refused"}])).returncode == 0
    lab.wait_dns(DYNAMO, "REFUSED")
    wanted = lab.configmap()
    # Someone "fixes" DNS by hand: the operator puts the active faults back at once.
    lab.cp.kubectl("patch", "configmap", "coredns", "-n", "kube-system", "--type=merge",
                   "-p", json.dumps({"data": {"Corefile": lab.base}}))
    wait_for("faults restored", lambda: lab.configmap() == wanted, 5)
    lab.wait_dns(DYNAMO, "REFUSED")
    lab.delete("keep")
    assert lab.configmap() == lab.base


def test_user_edits_outside_markers_are_kept(lab: OpLab) -> None:
    assert lab.apply(scenario_yaml("edit", [{"target": DYNAMO, "mode": "nodata"}])).returncode == 0
    lab.wait_dns(DYNAMO, "NODATA")
    header = "# edited by the platform team\n"
    edited_base = header + lab.base
    live = lab.configmap()
    lab.cp.kubectl("patch", "configmap", "coredns", "-n", "kube-system", "--type=merge",
                   "-p", json.dumps({"data": {"Corefile": header + live}}))
    lab.delete("edit")
    assert lab.configmap() == edited_base  # the user's line survives, the faults are gone
    lab.cp.kubectl("patch", "configmap", "coredns", "-n", "kube-system", "--type=merge",
                   "-p", json.dumps({"data": {"Corefile": lab.base}}))
    lab.wait_dns(DYNAMO, BASE_ANSWER)


def test_pause_and_resume_keep_the_end(lab: OpLab) -> None:
    """Annotated paused: faults out at once, phase Paused, endAt unchanged; unannotated:
    faults back in, and the scenario still ends at its original end."""
    manifest = scenario_yaml("breather", [{"target": DYNAMO, "mode": "servfail"}],
                             duration="8s")
    assert lab.apply(manifest).returncode == 0
    lab.wait_dns(DYNAMO, "SERVFAIL")
    end_at = lab.status("breather")["endAt"]
    lab.cp.kubectl("annotate", "outagescenario", "breather", "chaoslab.io/paused=true")
    assert lab.wait_dns(DYNAMO, BASE_ANSWER, timeout=3) < 2.0
    status = lab.wait_phase("breather", "Paused", timeout=3)
    assert status["endAt"] == end_at and not status.get("revertedAt")
    assert "still ends at" in status["message"] and lab.configmap() == lab.base
    lab.cp.kubectl("annotate", "outagescenario", "breather", "chaoslab.io/paused-")
    lab.wait_dns(DYNAMO, "SERVFAIL", timeout=3)
    assert lab.wait_phase("breather", "Active", timeout=3)["endAt"] == end_at
    done = lab.wait_phase("breather", "Completed", timeout=10)
    ended, planned = parse_time(done["endedAt"]), parse_time(end_at)
    assert ended is not None and planned is not None and 0 <= ended - planned < 1.0
    wait_for("Paused and Resumed events",
             lambda: {"Paused", "Resumed"} <= set(lab.events("breather")), 5)
    lab.wait_dns(DYNAMO, BASE_ANSWER)
    lab.delete("breather")
