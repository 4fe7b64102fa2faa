"""The session ledger: every injected scenario recorded in a ConfigMap, with its real times,
kept after `kubectl delete` and across operator restarts (the real operator and API server),
plus the pure bookkeeping of the writer (only changes sent, newest entries kept)."""

from __future__ import annotations

import json
import signal
from typing import Any

from oplab import BASE_ANSWER, OpLab, scenario_yaml, wait_for

from chaoslab_operator import ledger as ledger_mod
from chaoslab_operator.ledger import Ledger
from chaoslab_operator.timeutil import parse_time

DYNAMO = "dynamodb.us-east-1.aws.internal"


def _entries(lab: OpLab) -> dict[str, dict[str, Any]]:
    out = lab.cp.kubectl("get", "configmap", "chaoslab-ledger", "-n", "kube-system", "-o",
                         "json", check=False)
    if out.returncode != 0:
        return {}
    doc = json.loads(out.stdout)
    assert doc["metadata"]["labels"][ledger_mod.LABEL] == "true"
    return {e["name"]: e for e in map(json.loads, (doc.get("data") or {}).values())}


def test_deleted_and_completed_scenarios_stay_in_the_ledger_across_restarts(lab: OpLab) -> None:
    assert lab.apply(scenario_yaml("led-deleted", [{"target": DYNAMO, "mode": "nodata"}],
                                   duration="5m")).returncode == 0
    lab.wait_dns(DYNAMO, "NODATA")
    status = lab.status("led-deleted")
    lab.delete("led-deleted")  # the documented abort, mid-fault
    lab.wait_dns(DYNAMO, BASE_ANSWER)
    entry = _entries(lab)["led-deleted"]
    assert entry["injectedAt"] == status["injectedAt"]
    assert entry["faults"] == [{"target": DYNAMO, "mode": "nodata", "probability": 1.0}]
    assert entry["deleting"] is True and entry["revertedAt"]
    assert parse_time(entry["revertedAt"]) > parse_time(entry["injectedAt"])
    assert lab.get("led-deleted") is None

    # A restarted operator starts from nothing in memory: the record is still there, and a
    # scenario injected before the kill is completed and recorded by the new one.
    assert lab.apply(scenario_yaml("led-restart", [{"target": DYNAMO, "mode": "nxdomain"}],
                                   duration="3s")).returncode == 0
    lab.wait_dns(DYNAMO, "NXDOMAIN")
    lab.kill_operator(signal.SIGKILL)
    lab.start_operator()
    lab.wait_phase("led-restart", "Completed", timeout=20)
    # Completed is written before the ConfigMap; revertedAt once the revert is confirmed.
    done = wait_for("the revert in the status", lambda: (st := lab.status("led-restart")).get(
        "revertedAt") and st, 10)
    entries = wait_for("the completed scenario's revert in the ledger",
                       lambda: (e := _entries(lab)).get("led-restart", {}).get("revertedAt")
                       and e, 10)
    assert entries["led-deleted"] == entry, "a restart must not rewrite a deleted scenario"
    assert entries["led-restart"]["phase"] == "Completed"
    assert entries["led-restart"]["injectedAt"] == done["injectedAt"]
    assert entries["led-restart"]["revertedAt"] == done["revertedAt"]
    lab.delete("led-restart")


def test_a_deleted_ledger_is_created_again(lab: OpLab) -> None:
    lab.cp.kubectl("delete", "configmap", "chaoslab-ledger", "-n", "kube-system",
                   "--ignore-not-found")
    lab.kill_operator(signal.SIGKILL)
    lab.start_operator()
    assert lab.apply(scenario_yaml("led-again", [{"target": DYNAMO, "mode": "refused"}],
                                   duration="2s")).returncode == 0
    lab.wait_phase("led-again", "Completed", timeout=20)
    wait_for("a new ledger holding the scenario",
             lambda: _entries(lab).get("led-again", {}).get("revertedAt"), 10)
    lab.delete("led-again")


class FakeMap:
    """An in-memory ConfigMap's data, counting the writes the Ledger sends."""

    def __init__(self) -> None:
        self.data: dict[str, str] | None = None
        self.patches: list[dict[str, str | None]] = []

    def read(self) -> dict[str, str] | None:
        return None if self.data is None else dict(self.data)

    def patch(self, changes: dict[str, str | None]) -> None:
        if self.data is None:
            raise KeyError("missing")
        self.patches.append(dict(changes))
        for k, v in changes.items():
            if v is None:
                self.data.pop(k, None)
            else:
                self.data[k] = v

    def create(self, data: dict[str, str]) -> None:
        self.data = dict(data)


def test_the_writer_sends_only_changes_and_keeps_the_newest() -> None:
    cm = FakeMap()
    led = Ledger(cm.read, cm.patch, cm.create)
    led.record([("a", {"injectedAt": "2026-01-01T00:00:01.000Z"})])
    assert cm.data is not None and set(cm.data) == {"a"} and not cm.patches
    led.record([("a", {"injectedAt": "2026-01-01T00:00:01.000Z"})])
    assert not cm.patches, "an unchanged entry is not written again"
    old_max, ledger_mod.MAX_ENTRIES = ledger_mod.MAX_ENTRIES, 2
    try:
        led.record([("b", {"injectedAt": "2026-01-01T00:00:02.000Z"}),
                    ("c", {"injectedAt": "2026-01-01T00:00:03.000Z"})])
    finally:
        ledger_mod.MAX_ENTRIES = old_max
    assert set(cm.data) == {"b", "c"}, "the oldest entry makes room"
    # A fresh writer (a restarted operator) reads the map first and rewrites nothing.
    again = Ledger(cm.read, cm.patch, cm.create)
    n = len(cm.patches)
    again.record([("b", {"injectedAt": "2026-01-01T00:00:02.000Z"})])
    assert len(cm.patches) == n
