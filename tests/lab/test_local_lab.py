"""The local lab end to end: `chaoslab up --local`, a scenario by kubectl, `chaoslab down`.

Run twice in a row from this one process tree: the second `up` must find nothing left of
the first (process, port, data directory), which is what a user running game day after
game day relies on.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import requests

from chaoslab.procs import processes_mentioning
from chaoslab.toolpaths import tool

pytestmark = pytest.mark.slow

CHAOSLAB = str(Path(sys.executable).parent / "chaoslab")
SCENARIO = """
apiVersion: chaoslab.io/v1alpha1
kind: OutageScenario
metadata: {name: lab-smoke, namespace: default}
spec:
  faults:
    - target: dynamodb.us-east-1.aws.internal
      mode: nxdomain
  duration: 2m
"""


def _query(dns_addr: str, name: str) -> dns.message.Message:
    host, port = dns_addr.split(":")
    return dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), host, port=int(port),
                         timeout=2)


def _wait(what: str, probe, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except Exception as exc:  # keep polling; report the last failure
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def _ports(state: dict) -> set[int]:
    addrs = [state["dns"], state["prometheus"], state["locust"], *state["services"].values(),
             *state["http"].values()]
    return {int(a.rsplit(":", 1)[1]) for a in addrs}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _locust_failures(locust_url: str) -> int:
    stats = requests.get(f"{locust_url}/stats/requests", timeout=5).json()
    return sum(int(row.get("num_failures", 0)) for row in stats["stats"])


def test_up_scenario_down_twice(tmp_path: Path) -> None:
    for round_ in range(2):
        _one_round(tmp_path / "lab", round_)


def _one_round(lab_dir: Path, round_: int) -> None:
    kubectl = str(tool("kubectl"))
    up = subprocess.run([CHAOSLAB, "up", "--local", "--lab-dir", str(lab_dir), "--users", "4"],
                        capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, f"round {round_}: {up.stdout}\n{up.stderr}"
    state = json.loads((lab_dir / "state.json").read_text())
    try:
        for key in ("kubeconfig", "dns", "prometheus", "locust", "services"):
            assert state[key], key
        assert "dynamodb.us-east-1" in state["services"] and "iam" in state["services"]
        status = subprocess.run([CHAOSLAB, "status", "--lab-dir", str(lab_dir)],
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr

        base = _query(state["dns"], "dynamodb.us-east-1.aws.internal")
        assert base.rcode() == dns.rcode.NOERROR and base.answer
        env = {**os.environ, "KUBECONFIG": state["kubeconfig"]}
        subprocess.run([kubectl, "apply", "-f", "-"], input=SCENARIO, env=env, check=True,
                       capture_output=True, text=True, timeout=30)
        _wait("NXDOMAIN from the lab's DNS", lambda: _query(
            state["dns"], "dynamodb.us-east-1.aws.internal").rcode() == dns.rcode.NXDOMAIN)
        # An untargeted name in the same zone is untouched.
        assert _query(state["dns"], "dynamodb.us-west-2.aws.internal").answer

        prom = state["prometheus"]

        def iam_sees_nxdomain() -> bool:
            r = requests.get(f"{prom}/api/v1/query", timeout=5, params={"query":
                'sum(chaoslab_service_dependency_calls_total{dependency="dynamodb.us-east-1",'
                'cause="nxdomain"})'}).json()
            return bool(r["data"]["result"]) and float(r["data"]["result"][0]["value"][1]) > 0

        _wait("Prometheus to record nxdomain on the IAM->DynamoDB edge", iam_sees_nxdomain,
              timeout=60)
        before = _locust_failures(state["locust"])
        _wait("Locust's UI to count failed customer calls",
              lambda: _locust_failures(state["locust"]) > before, timeout=60)

        subprocess.run([kubectl, "delete", "outagescenario", "lab-smoke"], env=env,
                       check=True, capture_output=True, text=True, timeout=60)
        _wait("base answers back", lambda: _query(
            state["dns"], "dynamodb.us-east-1.aws.internal").answer == base.answer)
    finally:
        down = subprocess.run([CHAOSLAB, "down", "--lab-dir", str(lab_dir)],
                              capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    leftovers = processes_mentioning(str(lab_dir))
    assert not leftovers, f"round {round_}: processes left behind: {leftovers}"
    open_ports = [p for p in _ports(state) if _listening(p)]
    assert not open_ports, f"round {round_}: ports still listening: {open_ports}"
    remaining = sorted(p.name for p in lab_dir.iterdir())
    assert remaining == ["logs"], f"round {round_}: left in the lab dir: {remaining}"
