"""The planner for phased and scheduled scenarios, without a cluster (pure)."""

from __future__ import annotations

import dataclasses
from typing import Any

from chaoslab_operator import plan as p
from chaoslab_operator.ledger import entry_for
from chaoslab_operator.plan import Observed, Phase, Status
from chaoslab_operator.schedule import SCHEDULE_LABEL, SCHEDULED_AT, child_name, owner_uid
from chaoslab_operator.timeutil import rfc3339

T0 = 1_764_648_000.0  # 2025-12-02T04:00:00Z, a whole minute
DDB = "dynamodb.us-east-1.aws.internal"
PHASES = [
    {"name": "empty", "faults": [{"target": DDB, "mode": "nodata"}], "duration": "10s"},
    {"name": "drain", "faults": [{"target": DDB, "mode": "nodata", "probability": 0.5}],
     "duration": "5s"},
    {"name": "sts", "startAfter": "5s", "duration": "5s",
     "faults": [{"target": "sts.aws.internal", "mode": "servfail"}]},
]


def manifest(spec: dict[str, Any], name: str = "p", uid: str = "uid-p") -> dict[str, Any]:
    return {"apiVersion": "chaoslab.io/v1alpha1", "kind": "OutageScenario",
            "metadata": {"name": name, "namespace": "default", "generation": 1, "uid": uid},
            "spec": spec}


def obs(m: dict[str, Any], status: Status | None = None) -> Observed:
    m = {**m, "metadata": {**m["metadata"], "finalizers": ["chaoslab.io/revert-faults"]}}
    return Observed.from_object({**m, "status": (status or Status()).to_dict()},
                                "chaoslab.io/revert-faults")


def ok(_: object) -> None:
    return None


def run(at: float, o: Observed, others: list[Observed] | None = None,
        minute: float = 60.0) -> p.Decision:
    """One pass at `at`; returns this object's decision (status read back as written)."""
    plan = p.plan(at, [o, *(others or [])], ok, minute_seconds=minute)
    return next(d for d in plan.decisions if d.key == o.key)


def advance(o: Observed, d: p.Decision) -> Observed:
    return dataclasses.replace(o, status=Status.from_dict(d.status.to_dict()))


def test_phases_show_in_status_and_wake_at_each_boundary() -> None:
    o = obs(manifest({"phases": PHASES}))
    d = run(T0, o)
    assert d.active and d.status.phase is Phase.ACTIVE
    assert d.status.end_at == T0 + 25  # gaps count
    assert d.status.phases == (("empty", T0, T0 + 10), ("drain", T0 + 10, T0 + 15),
                               ("sts", T0 + 20, T0 + 25))
    assert d.status.current_phase == "1/3 empty" and d.status.next_at == T0 + 10
    assert d.wake_at == T0 + 10
    assert [e.reason for e in d.events] == ["PhaseStarted"]
    seen = []
    for at in (T0 + 10, T0 + 15, T0 + 20, T0 + 24.9):
        o = advance(o, d)
        d = run(at, o)
        seen.append((d.status.current_phase, d.status.next_at, d.wake_at, d.active))
    assert seen == [
        ("2/3 drain", T0 + 20, T0 + 15, True),
        ("", T0 + 20, T0 + 20, True),  # the gap: still active (its rules are in), no phase
        ("3/3 sts", None, T0 + 25, True),
        ("3/3 sts", None, T0 + 25, True),
    ]
    assert "next phase at" not in d.status.message and "phase 3/3 sts" in d.status.message
    o = advance(o, d)
    d = run(T0 + 25, o)
    assert d.status.phase is Phase.COMPLETED and not d.active
    assert d.status.current_phase == "" and d.status.next_at is None
    assert d.status.phases  # the windows stay: the ledger and the report read them


def test_the_first_phase_shows_at_the_injection_instant() -> None:
    """injectedAt is `now` at millisecond precision, so it may lie a little after `now`."""
    d = run(T0 + 0.0006, obs(manifest({"phases": PHASES})))
    assert d.status.injected_at == T0 + 0.001 and d.status.current_phase == "1/3 empty"


def test_the_compiled_scenario_is_the_same_at_every_pass() -> None:
    """Nothing about the rules changes at a boundary: the Corefile is not rewritten."""
    o = obs(manifest({"phases": PHASES}))
    d0 = run(T0, o)
    d1 = run(T0 + 12, advance(o, d0))
    assert d0.scenario == d1.scenario and d0.scenario is not None
    assert d0.scenario.injected_at == T0 and d0.scenario.until == T0 + 25


def test_the_ledger_records_each_phase_window_with_its_faults() -> None:
    o = obs(manifest({"phases": PHASES}))
    d = run(T0, o)
    entry = entry_for(d, d.status)
    assert entry is not None
    assert [(x["name"], x["startAt"], x["endAt"], [f["target"] for f in x["faults"]])
            for x in entry["phases"]] == [
        ("empty", rfc3339(T0), rfc3339(T0 + 10), [DDB]),
        ("drain", rfc3339(T0 + 10), rfc3339(T0 + 15), [DDB]),
        ("sts", rfc3339(T0 + 20), rfc3339(T0 + 25), ["sts.aws.internal"]),
    ]
    assert [f["target"] for f in entry["faults"]] == [DDB, DDB, "sts.aws.internal"]


SCHEDULED = {"faults": [{"target": DDB, "mode": "nodata"}], "duration": "5s",
             "schedule": {"cron": "* * * * *"}}


def child_of(d: p.Decision, status: Status | None = None) -> Observed:
    (m,) = d.creates
    m = {**m, "metadata": {**m["metadata"], "uid": "uid-" + m["metadata"]["name"]}}
    return obs(m, status)


def test_a_schedule_starts_a_run_at_each_tick_and_never_injects_itself() -> None:
    parent = obs(manifest(SCHEDULED))
    d = run(T0 + 1, parent, minute=15.0)
    assert not d.active and not d.creates and d.status.phase is Phase.SCHEDULED
    assert d.status.next_at == T0 + 15 and d.wake_at == T0 + 15  # a 15 s cron minute
    parent = advance(parent, d)
    d = run(T0 + 15.01, parent, minute=15.0)
    (m,) = d.creates
    assert m["metadata"]["name"] == child_name("p", T0 + 15, 15.0) == f"p-{int((T0 + 15) / 15)}"
    assert m["metadata"]["labels"] == {SCHEDULE_LABEL: "p"}
    assert m["metadata"]["annotations"] == {SCHEDULED_AT: rfc3339(T0 + 15)}
    assert owner_uid(m) == "uid-p" and "schedule" not in m["spec"]
    assert m["spec"]["faults"] == SCHEDULED["faults"]
    assert d.status.last_schedule_at == T0 + 15 and d.status.next_at == T0 + 30
    assert [e.reason for e in d.events] == ["RunStarted"]

    # The child is listed next pass: running, so Forbid skips the next tick.
    parent = advance(parent, d)
    child = child_of(d)
    d = run(T0 + 16, parent, [child], minute=15.0)
    assert not d.creates and [r[0] for r in d.status.runs] == [m["metadata"]["name"]]
    parent = advance(parent, d)
    child_d = run(T0 + 16, child)  # the run itself: an ordinary scenario
    assert child_d.active
    d = run(T0 + 30.01, parent, [advance(child, child_d)], minute=15.0)
    assert not d.creates and [e.reason for e in d.events] == ["RunSkipped"]
    assert d.status.last_schedule_at == T0 + 30


def test_a_restarted_operator_does_not_start_a_tick_twice() -> None:
    """The run exists but the schedule's status lost its tick: the run's annotation counts."""
    parent = obs(manifest(SCHEDULED))
    d = run(T0 + 1, parent, minute=15.0)
    d = run(T0 + 15.01, advance(parent, d), minute=15.0)
    child = child_of(d, Status(phase=Phase.COMPLETED))
    d = run(T0 + 16, parent, [child], minute=15.0)  # parent status without lastScheduleAt
    assert not d.creates


def test_history_keeps_the_last_runs_and_allow_overlaps() -> None:
    spec = {**SCHEDULED, "schedule": {"cron": "* * * * *", "historyLimit": 2,
                                      "concurrencyPolicy": "Allow"}}
    parent = obs(manifest(spec))
    d = run(T0 + 1, parent, minute=15.0)
    parent = advance(parent, d)
    children = []
    for k in range(1, 5):
        d = run(T0 + 15 * k + 0.01, parent, children, minute=15.0)
        assert len(d.creates) == 1  # Allow: a running one does not hold the next back
        parent = advance(parent, d)
        children = [dataclasses.replace(c, status=Status(phase=Phase.COMPLETED))
                    for c in children] + [child_of(d)]
    d = run(T0 + 61, parent, children, minute=15.0)
    assert d.deletes == (children[0].name,)  # 3 finished, 2 kept, and the running one
    assert [r[0] for r in d.status.runs] == [c.name for c in children[1:]]
    assert [r[2] for r in d.status.runs] == ["Completed", "Completed", ""]


def test_a_suspended_schedule_starts_nothing() -> None:
    spec = {**SCHEDULED, "schedule": {"cron": "* * * * *", "suspend": True}}
    parent = obs(manifest(spec))
    d = run(T0 + 1, parent, minute=15.0)
    for k in range(1, 4):
        d = run(T0 + 15 * k + 0.01, advance(parent, d), minute=15.0)
        assert not d.creates and d.status.phase is Phase.SUSPENDED


def test_a_missed_tick_is_not_made_up_for_late() -> None:
    """More than a (cron) minute late, a tick is skipped; of several, only the last counts."""
    spec = {**SCHEDULED, "schedule": {"cron": "*/5 * * * *"}}  # every 75 s at 15 s a minute
    parent = obs(manifest(spec))
    accepted = advance(parent, run(T0 + 1, parent, minute=15.0))
    d = run(T0 + 250, accepted, minute=15.0)  # away for the ticks T0+75, +150, +225
    assert not d.creates and [e.reason for e in d.events] == ["RunMissed"]
    assert d.status.last_schedule_at == T0 + 225 and d.status.next_at == T0 + 300
    d = run(T0 + 236, accepted, minute=15.0)  # 11 s late: still started
    assert len(d.creates) == 1


def test_deleting_a_schedule_deletes_its_runs() -> None:
    parent = obs(manifest(SCHEDULED))
    d = run(T0 + 1, parent, minute=15.0)
    d = run(T0 + 15.01, advance(parent, d), minute=15.0)
    child = child_of(d)
    gone = run(T0 + 16, dataclasses.replace(advance(parent, d), deleting=True), [child])
    assert gone.deletes == (child.name,) and not gone.active
