"""A real game-day session on the local lab, and its report checked against what the test did.

The session, as a team runs one: scenario A applied and aborted with `kubectl delete` while
its fault is live; B applied alone later and left to complete, the operator SIGKILLed and
restarted while B is live; C and D overlapping. The
ground truth is the test's own: each scenario's status read while it existed (injectedAt,
revertedAt), the instants around the delete, and the lab's dependency graph (the catalog),
which says which tiers B's target can possibly feed. Then `chaoslab report` (the real
command, after A is long gone from the API) must list all four with those times, keep A's
outage out of B's blast radius and baseline, and mark the tiers hit while C and D were both
live as shared, naming the other.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from chaoslab.toolpaths import tool
from chaoslab_services import catalog

pytestmark = pytest.mark.slow

CHAOSLAB = str(Path(sys.executable).parent / "chaoslab")
TOLERANCE = 1.0  # seconds: the report's times against the statuses (one scrape interval)
SLO = 0.99
WORKFLOW_DOORS = {"signin": "iam", "invoke": "lambda", "metrics": "cloudwatch",
                  "items": "dynamodb"}
EAST, WEST = "dynamodb.us-east-1.aws.internal", "dynamodb.us-west-2.aws.internal"


def _scenario(name: str, target: str, duration: str) -> str:
    return f"""
apiVersion: chaoslab.io/v1alpha1
kind: OutageScenario
metadata: {{name: {name}, namespace: default}}
spec:
  faults: [{{target: {target}, mode: nodata}}]
  duration: {duration}
"""


def _fed_by(endpoint: str, regions: tuple[str, ...] = catalog.REGIONS) -> set[str]:
    """Tier keys a failing endpoint can reach, per the catalog: the endpoint's own service,
    every service that calls it (transitively), and the customers whose front door is one."""
    callers = {endpoint}
    grew = True
    while grew:
        grew = False
        for e in catalog.PROCESSES:
            key = catalog.endpoint_key(e.service, e.region)
            deps = set(catalog.dependencies(e.service, e.region))
            if key not in callers and (deps & callers or ("sts" in deps and "iam" in callers)):
                callers.add(key)
                grew = True
    tiers = set()
    for key in callers:
        entry = catalog.BY_KEY[key]
        tiers.add(f"service:{entry.service}.{entry.region}")
    for workflow, door in WORKFLOW_DOORS.items():
        for region in regions:
            if catalog.endpoint_key(door, region) in callers:
                tiers.add(f"workflow:{workflow}.{region}")
    return tiers


def _fed_by_is_the_catalog() -> None:
    """The helper's own ground truth, so a mistake in it cannot pass the test silently."""
    west = _fed_by("dynamodb.us-west-2")
    assert {"service:lambda.us-west-2", "service:cloudwatch.us-west-2",
            "workflow:items.us-west-2"} <= west
    assert not any(t.endswith("us-east-1") for t in west), west
    assert "service:iam.us-east-1" in _fed_by("dynamodb.us-east-1")


class Session:
    def __init__(self, lab_dir: Path) -> None:
        self.state = json.loads((lab_dir / "state.json").read_text())
        self.env = {**os.environ, "KUBECONFIG": str(Path(self.state["kubeconfig"]).resolve())}

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run([str(tool("kubectl")), *args], input=stdin, env=self.env,
                             capture_output=True, text=True, timeout=90)
        assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
        return out.stdout

    def status(self, name: str) -> dict:
        return json.loads(self.kubectl("get", "outagescenario", name, "-o", "json")).get(
            "status") or {}

    def wait(self, what: str, probe, timeout: float) -> object:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")

    def scalar(self, query: str) -> float:
        result = requests.get(f"{self.state['prometheus']}/api/v1/query",
                              params={"query": query}, timeout=5).json()["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    def reverted(self, name: str, timeout: float) -> dict:
        """The status once Completed and its revert confirmed (revertedAt comes after the
        phase: the operator writes its intent first, then the Corefile, then what it did)."""
        def done() -> dict | None:
            st = self.status(name)
            return st if st.get("phase") == "Completed" and st.get("revertedAt") else None

        return self.wait(f"{name} completed and reverted", done, timeout)  # type: ignore[return-value]

    def apply(self, name: str, target: str, duration: str) -> dict:
        self.kubectl("apply", "-f", "-", stdin=_scenario(name, target, duration))
        return self.wait(f"{name} injected", lambda: self.status(name).get("injectedAt")
                         and self.status(name), 30)  # type: ignore[return-value]


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent that is gone (`up` exited long ago)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def restart_operator(s: Session, log: Path) -> subprocess.Popen[bytes]:
    """SIGKILL the lab's operator and start the very same command again (what a crash and
    a Deployment's restart do): nothing of the old one's memory survives."""
    pid = int(s.state["pids"]["operator"])
    argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    env = dict(kv.split("=", 1) for kv in
               Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0") if "=" in kv)
    os.kill(pid, signal.SIGKILL)
    s.wait("the operator gone", lambda: not _alive(pid), 10)
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://{s.state['http']['operator']}/healthz"

    def healthy() -> bool:
        assert proc.poll() is None, f"the restarted operator exited: see {log}"
        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    s.wait("the restarted operator healthy", healthy, 30)
    return proc


def _t(text: str) -> float:
    from chaoslab_report.timeline import parse_time

    value = parse_time(text)
    assert value is not None, text
    return value


def test_a_session_of_four_scenarios_is_reported_as_it_happened(tmp_path: Path) -> None:
    _fed_by_is_the_catalog()
    lab_dir = tmp_path / "lab"
    up = subprocess.run([CHAOSLAB, "up", "--local", "--lab-dir", str(lab_dir), "--users", "16",
                         "--customer-region", "us-east-1,us-west-2"],
                        capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    operator: subprocess.Popen[bytes] | None = None
    try:
        s = Session(lab_dir)
        s.wait("steady customer traffic in both regions", lambda: all(
            s.scalar(f'sum(rate(chaoslab_loadtest_requests_total{{region="{r}"}}[5s]))') > 1
            for r in catalog.REGIONS), 90)
        time.sleep(12)  # a clean baseline before the first scenario
        truth: dict[str, dict] = {}

        # A: aborted the documented way, with kubectl delete, while its fault is live.
        truth["a"] = dict(s.apply("a", EAST, "5m"))
        time.sleep(10)
        before_delete = time.time()
        s.kubectl("delete", "outagescenario", "a", "--wait=true")
        after_delete = time.time()
        assert "NotFound" in subprocess.run(
            [str(tool("kubectl")), "get", "outagescenario", "a"], env=s.env,
            capture_output=True, text=True, timeout=30).stderr
        time.sleep(35)  # A's tiers recover; then a clean stretch before B

        # B: alone, left to complete; the operator is killed and restarted while B is live,
        # so B's revert is recorded by an operator that never saw A (nor B's injection).
        s.apply("b", WEST, "20s")
        operator = restart_operator(s, lab_dir / "logs" / "operator-restarted.log")
        truth["b"] = s.reverted("b", 40)
        time.sleep(30)

        # C and D: overlapping.
        s.apply("c", EAST, "25s")
        time.sleep(8)
        s.apply("d", WEST, "12s")
        for name in ("c", "d"):
            truth[name] = s.reverted(name, 40)
        time.sleep(25)  # recovery after C, observed

        out = tmp_path / "report"
        rep = subprocess.run([CHAOSLAB, "report", "--out", str(out), "--lab-state",
                              str(lab_dir / "state.json"), "--slo", str(SLO)],
                             capture_output=True, text=True, timeout=120)
        assert rep.returncode == 0, rep.stdout + rep.stderr
        report = json.loads((out / "report.json").read_text())
        html = (out / "report.html").read_text()
    finally:
        if operator is not None:  # ours now, not the lab's: stopped by its pid
            operator.terminate()
            operator.wait(15)
        down = subprocess.run([CHAOSLAB, "down", "--lab-dir", str(lab_dir)],
                              capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stdout + down.stderr

    print("\n".join(report["summary"]))  # what a reader of a failed run wants first
    by_name = {sc["name"]: sc for sc in report["scenarios"]}
    # Every scenario of the session, the deleted one included, with its real times.
    assert sorted(by_name) == ["a", "b", "c", "d"], sorted(by_name)
    for name, st in truth.items():
        sc = by_name[name]
        assert abs(sc["injected_at"] - _t(st["injectedAt"])) <= TOLERANCE, name
        if name != "a":
            assert abs(sc["reverted_at"] - _t(st["revertedAt"])) <= TOLERANCE, name
            assert sc["phase"] == "Completed", name
    a = by_name["a"]
    assert a["deleted"] is True and a["faults"] == [
        {"target": EAST, "mode": "nodata", "probability": 1.0}]
    assert before_delete - TOLERANCE <= a["reverted_at"] <= after_delete + TOLERANCE, (
        before_delete, a["reverted_at"], after_delete)
    assert "deleted with kubectl delete" in html

    # A's outage is A's: it hit IAM and the sign-in customers (ground truth of the catalog
    # and of the flagship test), and none of it is credited to B.
    assert {"service:iam.us-east-1", "workflow:signin.us-east-1"} <= set(
        a["blast_radius"]["degraded"]), a["blast_radius"]
    b = by_name["b"]
    b_degraded = set(b["blast_radius"]["degraded"])
    feeds = _fed_by("dynamodb.us-west-2")
    assert b_degraded, "dynamodb.us-west-2 answering NODATA degraded nothing"
    assert b_degraded <= feeds, f"B credited with tiers it cannot feed: {b_degraded - feeds}"
    assert not b["blast_radius"]["shared"], b["blast_radius"]

    # B's baseline is a clean stretch after A's outage, and says how long it was.
    base = b["baseline"]
    assert base is not None, b["baseline_note"]
    assert base["start"] >= a["reverted_at"], (base, a["reverted_at"])
    assert base["end"] <= b["injected_at"] + 1e-6
    assert base["seconds"] == pytest.approx(base["end"] - base["start"], abs=0.01)
    assert str(round(base["seconds"])) in b["baseline_note"]
    for tier in ("service:iam.us-east-1", "workflow:signin.us-east-1"):
        assert b["tiers"][tier]["baseline_availability"] >= SLO, (tier, b["tiers"][tier])
    # A's own baseline is the stretch before it, never after the report's data starts.
    assert a["baseline"] is not None and a["baseline"]["end"] <= a["injected_at"] + 1e-6

    # C and D overlapped: what was hit while both were live is shared, naming the other.
    c, d = by_name["c"], by_name["d"]
    assert c["impact_window"]["end"] > d["injected_at"]
    c_shared, d_shared = c["blast_radius"]["shared"], d["blast_radius"]["shared"]
    assert c_shared and all("default/d" in v for v in c_shared.values()), c_shared
    assert d_shared and all("default/c" in v for v in d_shared.values()), d_shared
    assert set(d["blast_radius"]["degraded"]) == set(d_shared), "all of D's damage overlaps C"
    # D was injected while C was live: its baseline is the clean stretch before C.
    assert d["baseline"] is not None and d["baseline"]["end"] <= c["injected_at"] + 1e-6
    assert "before the injection" in d["baseline_note"]
    # Relative times say what they count from.
    assert "after injection" in html or "after the injection" in html
