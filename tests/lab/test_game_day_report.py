"""A short game day on the real local lab, and the report checked against what the test knows.

Ground truth the test controls: when the operator injected and reverted the fault (the
scenario's own status), which tiers depend on DynamoDB us-east-1 (must degrade) and which
do not (must not), and the client policy in force (backoff-jitter), which bounds how long
recovery may take once DNS answers again. Then every PromQL expression of every dashboard
and of the report is run against this lab's Prometheus and must return data.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from chaoslab.local.runtime import LabOptions, LocalLab
from chaoslab.toolpaths import REPO_ROOT, tool
from chaoslab_dns.durations import parse_duration
from chaoslab_report import dashboards, queries
from chaoslab_report.command import report_for_lab

pytestmark = pytest.mark.slow

PROFILE = "backoff-jitter"
FAULT_SECONDS = 20
NOT_IN_THE_LOCAL_LAB = "chaoslab_service_failover_"  # the failover checker's metrics
SCENARIO = f"""
apiVersion: chaoslab.io/v1alpha1
kind: OutageScenario
metadata: {{name: report-ground-truth, namespace: default}}
spec:
  faults:
    - target: dynamodb.us-east-1.aws.internal
      mode: nodata
  duration: {FAULT_SECONDS}s
"""
MUST_DEGRADE = {"service:iam.us-east-1", "service:lambda.us-east-1",
                "service:cloudwatch.us-east-1", "workflow:signin.us-east-1",
                "workflow:invoke.us-east-1"}
MUST_NOT_DEGRADE = {"service:dynamodb.us-west-2", "service:kms.us-east-1",
                    "service:s3.us-east-1", "workflow:items.us-east-1"}


def _recovery_bound() -> float:
    """Seconds recovery may take under the profile: the negative-cache TTL, one attempt
    timeout and the longest backoff, plus two scrape intervals of measurement."""
    profile = yaml.safe_load(
        (REPO_ROOT / "services/chaoslab_services/profiles" / f"{PROFILE}.yaml").read_text())
    d = profile["defaults"]
    return (parse_duration(d["dns_cache"]["negative_ttl"]) + parse_duration(d["timeout"])
            + parse_duration(d["retries"]["max_backoff"]) + 2.0)


def _rfc3339(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    return subprocess.run([str(tool("kubectl")), f"--kubeconfig={kubeconfig}", *args],
                          input=stdin, capture_output=True, text=True, check=True,
                          timeout=30).stdout


def _scalar(prom: str, query: str) -> float:
    result = requests.get(f"{prom}/api/v1/query", params={"query": query},
                          timeout=5).json()["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def _wait(what: str, probe, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_report_matches_ground_truth_on_the_real_lab(tmp_path: Path) -> None:
    # Customers dial the front doors directly: the ground truth here is the cascade through
    # the services (items, DynamoDB called by customers, must not degrade); customers that
    # resolve names are tests/lab/test_lab_settings.py's.
    load = tmp_path / "load.yaml"
    load.write_text("customer_dns: direct\n")
    lab = LocalLab(LabOptions(lab_dir=tmp_path / "lab", users=12, profile=PROFILE,
                              load_config=load),
                   progress=lambda m: print("up:", m))
    state = lab.up()
    try:
        prom = state.prometheus
        _wait("steady customer traffic", lambda: _scalar(
            prom, "sum(rate(chaoslab_loadtest_requests_total[5s]))") > 3, timeout=60)
        time.sleep(10)  # a pre-fault baseline for the report

        _kubectl(state.kubeconfig, "apply", "-f", "-", stdin=SCENARIO)

        def status() -> dict:
            return json.loads(_kubectl(state.kubeconfig, "get", "outagescenario",
                                       "report-ground-truth", "-o", "json")).get("status", {})

        _wait("the scenario to complete", lambda: status().get("phase") == "Completed",
              timeout=FAULT_SECONDS + 60)
        truth = status()
        time.sleep(20)  # recovery, observed under load

        out = tmp_path / "report"
        summary = report_for_lab(state, out, scenarios=[("default", "report-ground-truth")])
        assert "NODATA" in summary
        for name in ("report.html", "report.json", "timeline.png", "dependency_graph.png"):
            assert (out / name).stat().st_size > 0, name
        report = json.loads((out / "report.json").read_text())
        (scenario,) = report["scenarios"]

        assert abs(scenario["injected_at"] - _rfc3339(truth["injectedAt"])) <= 1.0
        assert abs(scenario["reverted_at"] - _rfc3339(truth["revertedAt"])) <= 1.0
        assert scenario["reverted_at"] - scenario["injected_at"] == pytest.approx(
            FAULT_SECONDS, abs=2.0)

        degraded = set(scenario["blast_radius"]["degraded"])
        assert MUST_DEGRADE <= degraded, f"missing from the blast radius: {MUST_DEGRADE - degraded}"
        assert not MUST_NOT_DEGRADE & degraded, f"wrongly degraded: {MUST_NOT_DEGRADE & degraded}"
        for impact in scenario["first_impact"]:
            assert 0 <= impact["after_injection_s"] < 10, impact

        ttr = scenario["time_to_recovery_s"]
        assert ttr is not None, "the report says a tier never recovered"
        assert 0 <= ttr <= _recovery_bound(), (ttr, _recovery_bound())
        assert scenario["dns_faults_injected"].get("nodata", 0) > 0

        # Every dashboard and report expression returns data from this real lab, but for
        # the health-checked failover's: its checker is not part of the local lab
        # (services/README.md, "Health-checked failover") and its own live test,
        # tests/services/test_svc_failover.py, reads its metrics.
        boards = dashboards.load_boards(REPO_ROOT / "charts" / "chaoslab" / "dashboards")
        expressions = [(where, expr) for where, expr in
                       [*dashboards.expressions(boards), *queries.all_expressions().items()]
                       if NOT_IN_THE_LOCAL_LAB not in expr]
        assert len(expressions) > 50
        end = time.time()
        empty = []
        for where, expr in expressions:
            resp = requests.get(f"{prom}/api/v1/query_range", timeout=10, params={
                "query": expr, "start": end - 120, "end": end, "step": "2s"}).json()
            assert resp["status"] == "success", (where, expr, resp)
            if not resp["data"]["result"]:
                empty.append(where)
        assert not empty, f"expressions with no data on the real lab: {empty}"
    finally:
        lab.stop()
