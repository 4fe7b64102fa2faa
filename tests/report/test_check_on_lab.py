"""`chaoslab report --check` as a CI gate, on a real local-lab game day.

Ground truth the test creates: a NODATA fault on dynamodb.us-east-1 for 15 s (the lab's
ground-truth test shows us-east-1 sign-in degrading within seconds of it), with declared
hypotheses whose outcome follows from it: sign-in in us-east-1 "unaffected" must fail;
customers still being served, CoreDNS having answered faults, and the operator's gauge back
at 0 after the revert must hold. The first session (all four) exits 1 with exactly one
junit failure, naming that hypothesis; the second (the three that hold) exits 0. A scenario
refused at admission fails the check (nothing was rehearsed), and a deleted one's
hypotheses are still known (the session ledger).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from chaoslab.local.runtime import LabOptions, LocalLab
from chaoslab.local.state import LabState
from chaoslab.toolpaths import tool
from chaoslab_report.command import declared_hypotheses

pytestmark = pytest.mark.slow

FAULT_S = 15
FAILS = {"name": "us-east-1 sign-in unaffected", "during": {"min": 0.99}, "query": (
    '((sum(rate(chaoslab_loadtest_requests_total{workflow="signin",region="us-east-1",'
    'result="ok"}[5s])) or vector(0)) / (sum(rate(chaoslab_loadtest_requests_total'
    '{workflow="signin",region="us-east-1"}[5s])) > 0)) or vector(1)')}


def holding(name: str) -> list[dict[str, Any]]:
    return [
        {"name": "customers are still served", "during": {"min": 1},
         "query": "sum(rate(chaoslab_loadtest_requests_total[5s])) or vector(0)"},
        {"name": "CoreDNS answered the fault", "after": {"min": 1},
         "query": 'sum(coredns_chaoslab_faults_injected_total{mode="nodata",'
                  f'scenario="default/{name}"}}) or vector(0)'},
        {"name": "the operator says it is over", "after": {"max": 0, "within": "5s"},
         "query": f'max(chaoslab_operator_scenario_active{{name="{name}"}}) or vector(0)'},
    ]


def scenario(name: str, hypotheses: list[dict[str, Any]]) -> str:
    return yaml.safe_dump({
        "apiVersion": "chaoslab.io/v1alpha1", "kind": "OutageScenario",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"faults": [{"target": "dynamodb.us-east-1.aws.internal", "mode": "nodata"}],
                 "duration": f"{FAULT_S}s", "hypotheses": hypotheses}})


def kubectl(state: LabState, *args: str, stdin: str | None = None) -> str:
    return subprocess.run([str(tool("kubectl")), f"--kubeconfig={state.kubeconfig}", *args],
                          input=stdin, capture_output=True, text=True, check=True,
                          timeout=30).stdout


def wait(what: str, probe: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := probe():
            return result
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def run_game_day(state: LabState, name: str, hypotheses: list[dict[str, Any]]) -> dict[str, Any]:
    kubectl(state, "apply", "-f", "-", stdin=scenario(name, hypotheses))

    def status() -> dict[str, Any]:
        out = kubectl(state, "get", "outagescenario", name, "-o", "json")
        return json.loads(out).get("status") or {}

    done = wait(f"{name} completed", lambda: (s := status()).get("phase") == "Completed" and s,
                FAULT_S + 60)
    time.sleep(12)  # the `after` window: past the revert plus 5 s, under load
    return done


def check(state_file: Path, out: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaoslab.cli", "report", "--out", str(out), "--lab-state",
         str(state_file), "--scenario", f"default/{name}", "--check"],
        capture_output=True, text=True, timeout=120)


def test_check_fails_on_one_failed_hypothesis_and_passes_when_all_hold(tmp_path: Path) -> None:
    lab = LocalLab(LabOptions(lab_dir=tmp_path / "lab", users=12),
                   progress=lambda m: print("up:", m))
    state = lab.up()
    try:
        state_file = tmp_path / "state.json"
        state.save(state_file)
        wait("steady customer traffic", lambda: requests.get(
            f"{state.prometheus}/api/v1/query", timeout=5,
            params={"query": "sum(rate(chaoslab_loadtest_requests_total[5s])) > 3"},
        ).json()["data"]["result"], 60)
        time.sleep(8)  # a healthy stretch before the fault

        # Session 1: one hypothesis the fault must break.
        status = run_game_day(state, "check-fails", [FAILS, *holding("check-fails")])
        checked = [c for c in status.get("conditions", []) if c["type"] == "HypothesesChecked"]
        assert checked and checked[0]["status"] == "True", status  # Prometheus parsed them
        out = tmp_path / "fails"
        result = check(state_file, out, "check-fails")
        print(result.stdout, result.stderr)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "check: 1 of 4 hypotheses failed" in result.stdout
        root = ET.parse(out / "junit.xml").getroot()
        cases = root.findall(".//testcase")
        assert len(cases) == 4 and {c.get("classname") for c in cases} == {"default/check-fails"}
        failed = [c for c in cases if c.find("failure") is not None]
        assert [c.get("name") for c in failed] == [FAILS["name"]]
        failure = failed[0].find("failure")
        assert failure is not None and "not >= 0.99" in (failure.get("message") or "")
        assert failure.text and "UTC:" in failure.text  # the violating evaluations
        report = json.loads((out / "report.json").read_text())
        verdicts = {v["name"]: v for v in report["hypotheses"]}
        assert verdicts[FAILS["name"]]["verdict"] == "failed"
        assert verdicts[FAILS["name"]]["min_seen"] < 0.99
        assert verdicts[FAILS["name"]]["violations"]
        assert all(v["verdict"] == "held" for k, v in verdicts.items() if k != FAILS["name"])
        page = (out / "report.html").read_text()
        assert "Hypotheses: 3 held, 1 failed" in page and FAILS["name"] in page

        # Session 2: only what holds.
        wait("sign-in back", lambda: float(requests.get(
            f"{state.prometheus}/api/v1/query", timeout=5, params={"query": FAILS["query"]},
        ).json()["data"]["result"][0]["value"][1]) >= 0.99, 60)
        run_game_day(state, "check-holds", holding("check-holds"))
        out = tmp_path / "holds"
        result = check(state_file, out, "check-holds")
        print(result.stdout, result.stderr)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "check: all 3 hypotheses held" in result.stdout
        root = ET.parse(out / "junit.xml").getroot()
        assert len(root.findall(".//testcase")) == 3 and not root.findall(".//failure")

        # A scenario refused at admission (a query Prometheus cannot parse) rehearsed
        # nothing: --check must not pass it for having nothing to judge.
        since = time.time()
        kubectl(state, "apply", "-f", "-", stdin=scenario("check-refused", [
            {"name": "unparsable", "query": "sum(rate(", "during": {"min": 1}}]))
        wait("check-refused failed", lambda: json.loads(kubectl(
            state, "get", "outagescenario", "check-refused", "-o", "json")).get(
            "status", {}).get("phase") == "Failed", 30)
        out = tmp_path / "refused"
        result = subprocess.run(
            [sys.executable, "-m", "chaoslab.cli", "report", "--out", str(out), "--lab-state",
             str(state_file), "--since", f"{since - 1:.3f}", "--check"],
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 1, result.stdout + result.stderr
        failures = ET.parse(out / "junit.xml").getroot().findall(".//failure")
        assert len(failures) == 1 and "never injected (Failed: spec.hypotheses[0]" in (
            failures[0].get("message") or "")

        # A scenario deleted since (the documented abort) keeps its hypotheses to judge:
        # the operator's session ledger holds them as declared.
        kubectl(state, "delete", "outagescenario", "check-fails", "--wait=true")
        declared = declared_hypotheses(state.kubeconfig)
        live = json.loads(kubectl(state, "get", "outagescenarios", "-A", "-o", "json"))
        assert "check-fails" not in {o["metadata"]["name"] for o in live["items"]}
        kept = declared["default/check-fails"]
        assert not isinstance(kept, str)
        assert [h.name for h in kept] == [FAILS["name"], *(h["name"] for h in
                                                           holding("check-fails"))]
    finally:
        lab.stop()
