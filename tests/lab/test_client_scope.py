"""Faults for chosen clients on the real local lab: `scenarios/lambda-loses-iam.yaml`.

Every service process resolves from its own loopback address and has a Pod object with
its chart labels and that address, so the scenario's podSelector (`chaoslab.io/service:
lambda`) faults Lambda's lookups of IAM and not CloudWatch's. Checked four ways against
ground truth: the game-day report's verdict (invoke degrades, metrics does not; Lambda's
IAM calls fail in DNS, CloudWatch's never), DNS queries sent from each process's address,
the services' own `dependency_calls_total{dependency="iam",outcome="dns_error"}` by
service in Prometheus, and a Pod object added during the scenario joining the live rule
and leaving it when deleted; after the delete every process resolves again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoslab.experiment import compare, hypotheses
from chaoslab.experiment.runner import RunOptions, run_on_lab, warm_up
from chaoslab.experiment.scenario import ScenarioFile
from chaoslab.local.pods import NAMESPACE, register, unregister
from chaoslab.local.runtime import LabOptions, LocalLab
from chaoslab.local.state import LabState
from chaoslab.testkit.dnsprobe import resolve_from
from chaoslab.toolpaths import REPO_ROOT
from chaoslab_report.prom import Prometheus

pytestmark = pytest.mark.slow

SCENARIO = REPO_ROOT / "scenarios" / "lambda-loses-iam.yaml"
IAM = "iam.aws.internal"
PROFILE = "backoff-jitter"


def _wait(what: str, probe, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalLab, LabState, Path]]:
    root = tmp_path_factory.mktemp("clientscope")
    local = LocalLab(LabOptions(lab_dir=root / "lab", profile=PROFILE, users=20),
                     progress=lambda m: print(f"up: {m}", flush=True))
    try:
        state = local.up()
        yield local, state, root
    finally:
        local.stop()


def _pod_ips(local: LocalLab) -> dict[str, str]:
    """service-region -> pod IP, as the API server has them."""
    assert local.cp is not None
    pods = json.loads(local.cp.kubectl("get", "pods", "-n", NAMESPACE, "-o", "json").stdout)
    return {p["metadata"]["name"]: p["status"].get("podIP", "") for p in pods["items"]}


def _dns_errors(prom: Prometheus, service: str) -> float:
    rows = prom.query(f'sum(chaoslab_service_dependency_calls_total{{service="{service}",'
                      'region="us-east-1",dependency="iam",outcome="dns_error"}) or vector(0)')
    return rows[0][1] if rows else 0.0


def test_lambda_loses_iam_and_cloudwatch_does_not(
        lab: tuple[LocalLab, LabState, Path]) -> None:
    local, state, root = lab
    assert local.cp is not None
    ips = _pod_ips(local)
    lam, cw = ips["lambda-us-east-1"], ips["cloudwatch-us-east-1"]
    assert lam.startswith("127.0.0.") and cw.startswith("127.0.0.") and lam != cw
    port = int(state.dns.rsplit(":", 1)[1])
    prom = Prometheus(state.prometheus, timeout=5)
    opts = RunOptions(out=root, warmup=10.0, warmup_timeout=120.0, observe=10.0)
    scenario = ScenarioFile.load(SCENARIO)

    # 1. The report's ground truth: a shortened run of the same file, judged. First, from
    # the warm-up on, so the report's window holds this run alone.
    since = warm_up(state, opts)
    short = scenario.modified(duration=20.0)
    run = run_on_lab(state, short, "lambda-loses-iam", root / "run", opts,
                     progress=lambda m: print(m, flush=True), since=since)
    row = compare.row(PROFILE, run.report)
    verdict = hypotheses.evaluate("lambda-loses-iam", hypotheses.Evidence(
        PROFILE, run.report, row, run.probes))
    assert verdict is not None
    print(verdict.describe())
    assert verdict.held, verdict.describe() + "\n\nreport:\n" + "\n".join(run.report.summary)

    # 2. Live: the rule holds Lambda's address; queries from each process's address.
    # (Under its own name: the run above leaves its finished object behind.)
    manifest = scenario.modified(name="lambda-loses-iam-live").write(root / "live")
    local.cp.kubectl("apply", "-f", str(manifest))
    try:
        _wait("Lambda's lookups of IAM fail",
              lambda: resolve_from(lam, IAM, port) == "SERVFAIL", 30)
        assert resolve_from(cw, IAM, port).startswith("A:")
        assert resolve_from("127.0.0.1", IAM, port).startswith("A:")
        lam0, cw0 = _dns_errors(prom, "lambda"), _dns_errors(prom, "cloudwatch")
        _wait("Lambda's dns_error on IAM in Prometheus",
              lambda: _dns_errors(prom, "lambda") > lam0, 60)
        assert _dns_errors(prom, "cloudwatch") == cw0

        # A Pod object added during the scenario with matching labels joins the rule...
        register(local.cp.kubectl, "lambda-us-east-1-extra",
                 {"chaoslab.io/service": "lambda", "chaoslab.io/region": "us-east-1"},
                 "127.0.0.240")
        _wait("the new pod is faulted", lambda: resolve_from(
            "127.0.0.240", IAM, port) == "SERVFAIL", 20)
        # ... and leaves it when it goes.
        unregister(local.cp.kubectl, "lambda-us-east-1-extra")
        _wait("the deleted pod resolves again", lambda: resolve_from(
            "127.0.0.240", IAM, port).startswith("A:"), 20)
        assert resolve_from(lam, IAM, port) == "SERVFAIL"
    finally:
        unregister(local.cp.kubectl, "lambda-us-east-1-extra")
        local.cp.kubectl("delete", "-f", str(manifest), "--ignore-not-found", "--timeout=60s")
    # 3. After the delete both resolve.
    _wait("both resolve after the delete", lambda: all(
        resolve_from(ip, IAM, port).startswith("A:") for ip in (lam, cw)), 20)
