"""Phases and schedules on real components: kube-apiserver, CoreDNS (with the plugin's
`from`/`until`), the projector and the operator (run with a 10 s cron minute).

A three-phase scenario switches on CoreDNS's clock within 1 s of each planned boundary (DNS
answers probed every 20 ms), its status shows each phase, and deleting a phased scenario
mid-phase reverts everything. A schedule ticking every (shortened) minute runs three
times, each run reverted, none overlapping; deleting it deletes its runs."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oplab import BASE_ANSWER, OpLab, create_scenario, wait_for

from chaoslab.controlplane import ControlPlane
from chaoslab.procs import log_tail
from chaoslab_operator.timeutil import parse_time

DDB = "dynamodb.us-east-1.aws.internal"
STS = "sts.aws.internal"
KMS = "kms.us-east-1.aws.internal"
MINUTE_S = 10.0  # the operator's --schedule-minute-seconds here
WITHIN = 1.0  # the acceptance: a phase switches within 1 s of its boundary


@pytest.fixture(scope="module")
def lab(module_cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpLab]:
    oplab = OpLab(module_cp, tmp_path_factory.mktemp("phases")).start(operator=False)
    oplab.start_operator("--schedule-minute-seconds", str(MINUTE_S))
    yield oplab
    oplab.stop()
    print("--- operator log tail ---\n" + log_tail(oplab.workdir / "operator.log", 40))


def scenario(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "chaoslab.io/v1alpha1", "kind": "OutageScenario",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


class Sampler:
    """Polls `probe` every 20 ms in a thread; keeps (time, value) at every change."""

    def __init__(self, probe: Callable[[], Any]) -> None:
        self.probe = probe
        self.changes: list[tuple[float, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last: Any = object()
        while not self._stop.is_set():
            value, at = self.probe(), time.time()
            if value != last:
                self.changes.append((at, value))
                last = value
            self._stop.wait(0.02)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)


def test_three_phases_switch_on_time_and_show_in_status(lab: OpLab) -> None:
    spec = {"phases": [
        {"name": "empty", "duration": "3s", "faults": [{"target": DDB, "mode": "nodata"}]},
        {"name": "degraded", "duration": "3s", "faults": [{"target": DDB, "mode": "servfail"}]},
        {"name": "sts", "startAfter": "2s", "duration": "3s",
         "faults": [{"target": STS, "mode": "nxdomain"}]},
    ]}
    with Sampler(lambda: (lab.resolve(DDB, 0.3), lab.resolve(STS, 0.3))) as dns, \
            Sampler(lambda: lab.status("three").get("currentPhase")) as shown:
        create_scenario(lab, scenario("three", spec))
        done = lab.wait_phase("three", "Completed", timeout=30)
        wait_for("reverted", lambda: lab.status("three").get("revertedAt"), 10)
        lab.wait_dns(STS, BASE_ANSWER, 3)
    windows = [(w["name"], parse_time(w["startAt"]), parse_time(w["endAt"]))
               for w in done["phases"]]
    (_, a1, b1), (_, a2, b2), (_, a3, b3) = windows
    assert a1 == parse_time(done["injectedAt"]) and b1 == a2 and b3 == parse_time(done["endAt"])
    answers = [v for _, v in dns.changes]
    expected = [("NODATA", BASE_ANSWER), ("SERVFAIL", BASE_ANSWER),
                (BASE_ANSWER, BASE_ANSWER), (BASE_ANSWER, "NXDOMAIN"),
                (BASE_ANSWER, BASE_ANSWER)]
    assert answers[-5:] == expected, dns.changes
    switched = [t for t, _ in dns.changes[-4:]]
    lags = [s - b for s, b in zip(switched, (b1, b2, a3, b3), strict=True)]
    print("phase switches after their boundaries (s): "
          + ", ".join(f"{lag:+.3f}" for lag in lags))
    assert all(-0.05 <= lag <= WITHIN for lag in lags), lags
    seen = [v for _, v in shown.changes if v]
    assert seen == ["1/3 empty", "2/3 degraded", "3/3 sts"], shown.changes
    assert lab.configmap() == lab.base
    lab.delete("three")


def test_deleting_mid_phase_reverts_every_phase(lab: OpLab) -> None:
    spec = {"phases": [
        {"name": "first", "duration": "2s", "faults": [{"target": DDB, "mode": "nodata"}]},
        {"name": "second", "duration": "5m", "faults": [{"target": STS, "mode": "refused"}]},
        {"name": "third", "startAfter": "1m", "duration": "5m",
         "faults": [{"target": KMS, "mode": "servfail"}]},
    ]}
    create_scenario(lab, scenario("mid", spec))
    lab.wait_dns(STS, "REFUSED", 10)
    # CoreDNS switched on its own clock; the status follows within a pass.
    st = wait_for("phase 2 in status", lambda: (s := lab.status("mid")).get(
        "currentPhase") == "2/3 second" and s, 5)
    assert parse_time(st["nextAt"]) == parse_time(st["phases"][2]["startAt"])
    table = lab.cp.kubectl("get", "outagescenario", "mid").stdout  # the printer columns
    assert "CURRENT" in table and "NEXT" in table and "2/3 second" in table, table
    assert "from " in lab.configmap()  # the later phases are in the Corefile already
    lab.delete("mid")
    assert lab.configmap() == lab.base
    for name in (DDB, STS, KMS):
        lab.wait_dns(name, BASE_ANSWER, 3)


def test_a_schedule_every_minute_runs_three_times_without_overlap(lab: OpLab) -> None:
    spec = {"faults": [{"target": KMS, "mode": "nodata"}], "duration": "4s",
            "schedule": {"cron": "* * * * *"}}
    with Sampler(lambda: lab.resolve(KMS, 0.3)) as dns:
        create_scenario(lab, scenario("every-minute", spec))

        def three_done() -> list[dict[str, Any]] | None:
            runs = lab.status("every-minute").get("runs") or []
            done = [r for r in runs if r.get("revertedAt")]
            return runs if len(done) >= 3 else None

        runs = wait_for("three runs reverted", three_done, 3 * MINUTE_S + 20, interval=0.2)
    parent = lab.status("every-minute")
    assert parent["phase"] == "Scheduled" and parent.get("nextAt")
    runs = runs[:3]
    ticks = [parse_time(r["scheduledAt"]) or 0.0 for r in runs]
    assert [round(b - a) for a, b in itertools.pairwise(ticks)] == [MINUTE_S] * 2
    spans = [(parse_time(r["injectedAt"]), parse_time(r["revertedAt"])) for r in runs]
    for (_, reverted), (injected, _) in itertools.pairwise(spans):
        assert reverted is not None and injected is not None and reverted < injected
    assert [r["phase"] for r in runs] == ["Completed"] * 3
    faulted = [v for _, v in dns.changes].count("NODATA")
    assert faulted >= 3, dns.changes  # the fault was in DNS once per run (maybe a 4th began)
    names = [r["name"] for r in runs]
    for name in names:
        child = lab.get(name)
        assert child is not None
        assert child["metadata"]["labels"]["chaoslab.io/schedule"] == "every-minute"
    lab.delete("every-minute")
    wait_for("runs deleted", lambda: not any(lab.get(n) for n in names), 20)
    assert lab.configmap() == lab.base
