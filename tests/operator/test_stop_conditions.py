"""Stop conditions against the real Prometheus: a sustained breach aborts and reverts at
once; a short spike does not. They fail closed: a query Prometheus refuses never faults DNS,
no data holds the injection back and then fails it, Prometheus going away aborts an active
scenario after the grace period, and `onError: continue` keeps it running, saying why."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import yaml
from oplab import BASE_ANSWER, OpLab, scenario_yaml, wait_for
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from chaoslab.controlplane import ControlPlane
from chaoslab.procs import Proc, free_port, log_tail
from chaoslab.testkit import prometheus
from chaoslab_operator.timeutil import parse_time
from chaoslab_report.prom import Prometheus

DYNAMO = "dynamodb.us-east-1.aws.internal"
QUERY = "max(chaoslab_test_error_ratio)"
GRACE = 2.0  # the operator's --stop-grace here (30 s by default)


class Signal:
    """A metric the test serves and Prometheus scrapes every second."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.gauge = Gauge("chaoslab_test_error_ratio", "test signal", registry=self.registry)
        self.port = free_port()
        self.server, self.thread = start_http_server(
            self.port, addr="127.0.0.1", registry=self.registry
        )

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def prom_lab(
    module_cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OpLab, Signal, Proc, str]]:
    workdir = tmp_path_factory.mktemp("promlab")
    signal = Signal()
    signal.gauge.set(0)
    prom = prometheus.start(workdir, {"signal": f"127.0.0.1:{signal.port}"})
    url = prom.url
    lab = OpLab(module_cp, workdir / "lab").start(operator=False)
    wait_for("Prometheus has the signal", lambda: Prometheus(url, timeout=2).query(QUERY), 30,
             0.2)
    lab.start_operator("--prometheus", url, "--stop-grace", str(GRACE), stop_check=0.5)
    yield lab, signal, prom.proc, url
    lab.stop()
    prom.stop()
    signal.stop()
    print("--- operator log tail ---\n" + log_tail(lab.workdir / "operator.log", 40))


def test_sustained_breach_aborts_and_reverts(prom_lab: tuple[OpLab, Signal, Proc, str]) -> None:
    lab, signal, _, _ = prom_lab
    stop = [{"query": QUERY, "above": 0.5, "for": "2s"}]
    manifest = scenario_yaml("guarded", [{"target": DYNAMO, "mode": "servfail"}],
                             duration="2m", stop_conditions=stop)
    assert lab.apply(manifest).returncode == 0
    lab.wait_dns(DYNAMO, "SERVFAIL")
    checked = wait_for("stop conditions evaluated", lambda: [
        c for c in lab.status("guarded").get("conditions", [])
        if c["type"] == "StopConditionsChecked" and c["status"] == "True"], 5)
    assert checked[0]["reason"] == "Evaluated"

    # A spike shorter than `for` is not a breach.
    signal.gauge.set(0.9)
    time.sleep(1.2)
    signal.gauge.set(0.1)
    time.sleep(3.0)
    assert lab.phase("guarded") == "Active" and lab.resolve(DYNAMO) == "SERVFAIL"

    # A sustained one aborts within scrape + for + check interval, and reverts at once.
    signal.gauge.set(0.9)
    t0 = time.monotonic()
    aborted = lab.wait_phase("guarded", "Aborted", timeout=10)
    elapsed = time.monotonic() - t0
    assert 2.0 <= elapsed < 6.0, elapsed
    assert aborted["reason"] == "StopConditionBreached"
    assert QUERY in aborted["message"] and "0.9 > 0.5" in aborted["message"]
    lab.wait_dns(DYNAMO, BASE_ANSWER, timeout=3)
    assert lab.configmap() == lab.base
    final = wait_for("revertedAt", lambda: (s := lab.status("guarded")).get("revertedAt") and s, 5)
    reverted, ended = parse_time(final["revertedAt"]), parse_time(final["endedAt"])
    assert reverted is not None and ended is not None and 0 <= reverted - ended < 1.0
    wait_for("Aborted and Reverted events",
             lambda: {"Aborted", "Reverted"} <= set(lab.events("guarded")), 5)
    # Aborted is final: the breach ending does not bring the faults back.
    signal.gauge.set(0)
    time.sleep(1.5)
    assert lab.phase("guarded") == "Aborted" and lab.configmap() == lab.base
    lab.delete("guarded")


def never_faulted(lab: OpLab, name: str, final: str, timeout: float = 10) -> dict[str, object]:
    """Wait for `name` to reach `final`, checking DNS and the ConfigMap all along."""
    version = lab.configmap_version()
    deadline = time.monotonic() + timeout
    while (status := lab.status(name)).get("phase") != final:
        assert time.monotonic() < deadline, f"{name} not {final}: {status}"
        assert lab.resolve(DYNAMO, 0.3) == BASE_ANSWER, f"{name} faulted DNS: {status}"
        time.sleep(0.05)
    assert lab.configmap_version() == version and lab.configmap() == lab.base
    assert not status.get("injectedAt"), status
    return status


@pytest.mark.parametrize(("query", "says"), [
    ("rate(chaoslab_test_error_ratio[1m]", "parse error"),
    ("nosuchfunc(chaoslab_test_error_ratio)", 'unknown function with name "nosuchfunc"'),
    ("chaoslab_test_error_ratio[1m]", "range vector"),
], ids=["parse-error", "unknown-function", "range-vector"])
def test_a_query_prometheus_refuses_never_faults_dns(
    prom_lab: tuple[OpLab, Signal, Proc, str], query: str, says: str,
) -> None:
    lab, _, _, _ = prom_lab
    stop = [{"query": QUERY, "above": 0.5, "for": "0s"}, {"query": query, "above": 1, "for": "0s"}]
    manifest = scenario_yaml("typo", [{"target": DYNAMO, "mode": "servfail"}],
                             duration="1m", stop_conditions=stop)
    assert lab.apply(manifest).returncode == 0
    status = never_faulted(lab, "typo", "Failed")
    message = str(status["message"])
    assert status["reason"] == "StopConditionInvalid", status
    assert says in message, message  # Prometheus's own words
    assert f"stop condition 1 {query!r}" in message and "nothing injected" in message
    conds = {c["type"]: c for c in status["conditions"]}  # type: ignore[union-attr]
    assert conds["StopConditionsChecked"]["reason"] == "QueryInvalid"
    lab.delete("typo")


def test_no_data_holds_the_injection_back_then_fails(
    prom_lab: tuple[OpLab, Signal, Proc, str],
) -> None:
    lab, _, _, _ = prom_lab
    stop = [{"query": "max(chaoslab_test_no_such_metric)", "above": 0.5, "for": "0s"}]
    manifest = scenario_yaml("misspelt", [{"target": DYNAMO, "mode": "servfail"}],
                             duration="1m", stop_conditions=stop)
    assert lab.apply(manifest).returncode == 0
    pending = wait_for("held back", lambda: (s := lab.status("misspelt")).get(
        "reason") == "NoData" and s, 5)
    assert pending["phase"] == "Pending" and "or vector(0)" in pending["message"]
    status = never_faulted(lab, "misspelt", "Failed", timeout=GRACE + 5)
    assert status["reason"] == "StopConditionUnevaluable"
    assert "no data" in str(status["message"])
    lab.delete("misspelt")


def test_prometheus_going_away_aborts_after_the_grace(
    prom_lab: tuple[OpLab, Signal, Proc, str],
) -> None:
    """Runs after every test that needs Prometheus: it stops it for the rest of the module."""
    lab, signal, prometheus, _ = prom_lab
    signal.gauge.set(0)
    stop = [{"query": QUERY, "above": 0.5, "for": "0s"}]
    manifest = scenario_yaml("blind", [{"target": DYNAMO, "mode": "nodata"}],
                             duration="2m", stop_conditions=stop)
    assert lab.apply(manifest).returncode == 0
    lab.wait_dns(DYNAMO, "NODATA")
    # Timed from before the stop: Prometheus may refuse queries while it shuts down, and the
    # grace starts at the operator's first failed evaluation, which is no earlier than this.
    t0 = time.monotonic()
    prometheus.stop()
    cond = wait_for("unreachable reported", lambda: [
        c for c in lab.status("blind").get("conditions", [])
        if c["type"] == "StopConditionsChecked" and c["status"] == "False"], 5)[0]
    assert cond["reason"] == "PrometheusUnreachable" and "unreachable" in cond["message"]
    assert lab.phase("blind") == "Active"  # within the grace
    aborted = lab.wait_phase("blind", "Aborted", timeout=GRACE + 5)
    elapsed = time.monotonic() - t0
    assert GRACE <= elapsed < GRACE + 3, elapsed
    assert aborted["reason"] == "StopConditionUnevaluable"
    assert "could not be evaluated" in aborted["message"] and "onError: abort" in aborted["message"]
    lab.wait_dns(DYNAMO, BASE_ANSWER, timeout=3)
    assert lab.configmap() == lab.base
    lab.delete("blind")


def test_unreachable_before_injection_fails_closed(
    prom_lab: tuple[OpLab, Signal, Proc, str],
) -> None:
    lab, _, prometheus, _ = prom_lab
    assert not prometheus.alive()
    stop = [{"query": QUERY, "above": 0.5, "for": "0s"}]
    manifest = scenario_yaml("closed", [{"target": DYNAMO, "mode": "nodata"}],
                             duration="1m", stop_conditions=stop)
    assert lab.apply(manifest).returncode == 0
    status = never_faulted(lab, "closed", "Failed", timeout=GRACE + 5)
    assert status["reason"] == "StopConditionUnevaluable"
    assert "unreachable" in str(status["message"])
    lab.delete("closed")


def test_on_error_continue_keeps_running_and_says_why(
    prom_lab: tuple[OpLab, Signal, Proc, str],
) -> None:
    lab, _, prometheus, _ = prom_lab
    assert not prometheus.alive()
    doc = yaml.safe_load(scenario_yaml(
        "brave", [{"target": DYNAMO, "mode": "nodata"}], duration=f"{GRACE + 2.5}s",
        stop_conditions=[{"query": QUERY, "above": 0.5, "for": "0s"}]))
    doc["spec"]["onError"] = "continue"
    assert lab.apply(yaml.safe_dump(doc)).returncode == 0
    lab.wait_dns(DYNAMO, "NODATA")
    time.sleep(GRACE + 1)  # past the grace: still running
    status = lab.status("brave")
    assert status["phase"] == "Active", status
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["StopConditionsChecked"]["status"] == "False"
    assert conds["StopConditionsChecked"]["reason"] == "PrometheusUnreachable"
    assert "unreachable" in conds["StopConditionsChecked"]["message"]
    assert lab.resolve(DYNAMO) == "NODATA"
    done = lab.wait_phase("brave", {"Completed", "Aborted"}, timeout=10)
    assert done["phase"] == "Completed"
    lab.wait_dns(DYNAMO, BASE_ANSWER)
    assert lab.configmap() == lab.base
    lab.delete("brave")
