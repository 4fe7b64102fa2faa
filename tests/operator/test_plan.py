"""The lifecycle planner, without a cluster: (now, scenarios + statuses) -> decisions."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chaoslab.testkit.scenarios import NODATA, outage
from chaoslab_operator import plan as p
from chaoslab_operator.plan import (
    ACCEPTED,
    INJECTED,
    STOP_CHECKED,
    Decision,
    Observed,
    Phase,
    Reading,
    Status,
)
from chaoslab_operator.timeutil import parse_time, rfc3339

T0 = 1_760_944_080.0  # 2025-10-20T07:08:00Z


def manifest(
    name: str = "s1",
    namespace: str = "default",
    duration: str = "10s",
    start_after: str = "0s",
    faults: list[dict[str, Any]] | None = None,
    stop: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    extra = {"stopConditions": stop} if stop else {}
    return outage(name, namespace=namespace, duration=duration, meta={"generation": 1},
                  faults=faults or [{**NODATA, "probability": 1}], startAfter=start_after,
                  **extra)


def observed(m: dict[str, Any] | None = None, status: Status | None = None, **kw: Any) -> Observed:
    m = m or manifest()
    return Observed(
        namespace=m["metadata"]["namespace"], name=m["metadata"]["name"], manifest=m,
        status=status or Status(), **kw,
    )


def ok(_: object) -> None:
    return None


def decide(now: float, obs: Observed, readings: list[Reading] | None = None) -> Decision:
    return p.decide(now, obs, ok, readings)


def roundtrip(st: Status) -> Status:
    """What the next pass reads back from the API server."""
    return Status.from_dict(st.to_dict())


def test_new_scenario_is_accepted_and_injected_at_once() -> None:
    d = decide(T0, observed())
    assert d.active and d.changed
    assert d.status.phase is Phase.ACTIVE
    assert d.status.accepted_at == T0 and d.status.injected_at == T0
    assert d.status.end_at == T0 + 10
    assert d.status.condition(ACCEPTED).status == "True"  # type: ignore[union-attr]
    assert d.wake_at == T0 + 10


def test_injection_waits_for_the_finalizer() -> None:
    d = decide(T0, observed(finalized=False))
    assert not d.active
    assert d.status.phase is Phase.PENDING and d.status.injected_at is None
    assert d.status.reason == "AwaitingFinalizer"


def test_start_after_schedules_then_activates() -> None:
    d = decide(T0, observed(manifest(start_after="5s")))
    assert not d.active and d.status.phase is Phase.SCHEDULED
    assert d.wake_at == T0 + 5
    assert [e.reason for e in d.events] == ["Scheduled"]
    later = decide(T0 + 5, observed(manifest(start_after="5s"), roundtrip(d.status)))
    assert later.active and later.status.phase is Phase.ACTIVE
    assert later.status.injected_at == T0 + 5
    assert not later.events  # Injected is posted once the ConfigMap holds it (confirm)


def test_duration_elapsed_completes() -> None:
    first = decide(T0, observed())
    end = decide(T0 + 10, observed(status=roundtrip(first.status)))
    assert not end.active
    assert end.status.phase is Phase.COMPLETED and end.status.ended_at == T0 + 10
    assert end.status.message.endswith("; reverting")
    status, events = p.confirm(end, injected=False, now=T0 + 10.2)
    assert status.reverted_at == T0 + 10.2 and status.message.endswith("; reverted")
    assert [e.reason for e in events] == ["Reverted"]


def test_a_restart_continues_from_status_alone() -> None:
    """Status written by one operator, read by the next: same decision, nothing to write."""
    first = decide(T0, observed(manifest(duration="1m")))
    injected, _ = p.confirm(first, True, T0)
    again = decide(T0 + 30, observed(manifest(duration="1m"), roundtrip(injected)))
    assert again.active and not again.changed
    assert again.status.injected_at == T0


def test_time_precision_does_not_cause_endless_writes() -> None:
    m = manifest(start_after="1.5s", duration="2.25s")
    now = T0 + 0.123456789
    first = decide(now, observed(m))
    second = decide(now + 0.01, observed(m, roundtrip(first.status)))
    assert not second.changed


@pytest.mark.parametrize("phase", [Phase.COMPLETED, Phase.ABORTED, Phase.FAILED])
def test_final_phases_stay_final(phase: Phase) -> None:
    st = Status(phase=phase, accepted_at=T0, injected_at=T0, observed_generation=1)
    d = decide(T0 + 1, observed(status=st))
    assert not d.active and d.status.phase is phase and not d.changed


def test_deleting_is_never_active() -> None:
    first = decide(T0, observed())
    d = decide(T0 + 1, observed(status=roundtrip(first.status), deleting=True))
    assert not d.active and not d.changed
    status, events = p.confirm(d, injected=False, now=T0 + 1)
    assert status.reverted_at == T0 + 1 and [e.reason for e in events] == ["Reverted"]


def test_invalid_spec_fails_naming_the_field() -> None:
    m = manifest(faults=[{"target": "a.b}", "mode": "nodata"}])
    d = decide(T0, observed(m))
    assert not d.active and d.status.phase is Phase.FAILED
    assert "target" in d.status.message
    assert d.status.condition(ACCEPTED).reason == "InvalidSpec"  # type: ignore[union-attr]
    assert [e.reason for e in d.events] == ["Failed"]


def test_rejected_corefile_fails() -> None:
    d = p.decide(T0, observed(), lambda s: "plugin/chaoslab: boom")
    assert not d.active and d.status.phase is Phase.FAILED
    assert d.status.reason == "InvalidCorefile" and "boom" in d.status.message


def test_failed_scenario_is_retried_after_an_edit() -> None:
    failed = p.decide(T0, observed(), lambda s: "boom").status
    same = decide(T0 + 1, observed(status=roundtrip(failed)))
    assert same.status.phase is Phase.FAILED
    edited = manifest()
    edited["metadata"]["generation"] = 2
    d = decide(T0 + 2, Observed("default", "s1", edited, generation=2, status=roundtrip(failed)))
    assert d.active and d.status.phase is Phase.ACTIVE


STOP = [{"query": "errors", "above": 0.5, "for": "3s"}]


def test_stop_condition_must_last_for_its_duration() -> None:
    m = manifest(duration="1m", stop=STOP)
    first = decide(T0, observed(m), [Reading(1.0)])
    assert first.active and first.status.breaching_since == ((0, T0),)
    assert first.wake_at == T0 + 3
    cond = first.status.condition(STOP_CHECKED)
    assert cond is not None and cond.status == "True"
    mid = decide(T0 + 2, observed(m, roundtrip(first.status)), [Reading(2.0)])
    assert mid.active and mid.status.breaching_since == ((0, T0),)
    end = decide(T0 + 3, observed(m, roundtrip(mid.status)), [Reading(2.0)])
    assert not end.active and end.status.phase is Phase.ABORTED
    assert end.status.reason == "StopConditionBreached" and "'errors'" in end.status.message
    assert [e.reason for e in end.events] == ["Aborted"]


def test_stop_condition_clock_resets_below_threshold_and_on_no_data() -> None:
    m = manifest(duration="1m", stop=STOP)
    first = decide(T0, observed(m), [Reading(1.0)])
    below = decide(T0 + 1, observed(m, roundtrip(first.status)), [Reading(0.5)])
    assert below.active and below.status.breaching_since == ()
    nodata = decide(T0 + 2, observed(m, roundtrip(first.status)), [Reading(None)])
    assert nodata.status.breaching_since == ()


def test_unreachable_prometheus_within_the_grace_is_reported_not_an_abort() -> None:
    m = manifest(duration="1m", stop=STOP)
    first = decide(T0, observed(m), [Reading(1.0)])
    down = decide(T0 + 10, observed(m, roundtrip(first.status)), [Reading(error="refused")])
    assert down.active and down.status.phase is Phase.ACTIVE
    cond = down.status.condition(STOP_CHECKED)
    assert cond is not None and (cond.status, cond.reason) == ("False", "PrometheusUnreachable")
    assert down.status.breaching_since == ((0, T0),)  # the clock is kept, not restarted


def test_plan_orders_the_active_set_and_finds_the_next_wake() -> None:
    a = observed(manifest("b", duration="10s"))
    b = observed(manifest("a", duration="5s"))
    c = observed(manifest("c", start_after="3s"))
    planned = p.plan(T0, [a, b, c], ok)
    assert [s.name for s in planned.active] == ["a", "b"]
    assert planned.wake_at == T0 + 3


def test_confirm_records_injection_once() -> None:
    d = decide(T0, observed())
    status, events = p.confirm(d, injected=True, now=T0 + 0.1)
    assert status.condition(INJECTED).status == "True"  # type: ignore[union-attr]
    assert [e.reason for e in events] == ["Injected"]
    again = decide(T0 + 1, observed(status=roundtrip(status)))
    status2, events2 = p.confirm(again, injected=True, now=T0 + 1)
    assert not p.differs(status2, again.status) and events2 == ()


def test_confirm_reports_an_unavailable_configmap() -> None:
    d = decide(T0, observed())
    status, events = p.confirm(d, injected=False, now=T0, error="ConfigMap kube-system/x gone")
    cond = status.condition(INJECTED)
    assert cond is not None and cond.reason == "ConfigMapUnavailable" and events == ()


def test_status_round_trip_keeps_every_field() -> None:
    st = dataclasses.replace(
        decide(T0, observed(manifest(stop=STOP)), [Reading(1.0)]).status,
        reverted_at=T0 + 4, ended_at=T0 + 3,
    )
    assert roundtrip(st).to_dict() == st.to_dict()
    assert parse_time(rfc3339(T0 + 0.5)) == T0 + 0.5


def test_active_scenarios_carry_their_end_into_the_compiler() -> None:
    """The end every rule carries is status.endAt, the same on every pass and after a restart."""
    m = manifest(start_after="1.5s", duration="2.25s")
    now = T0 + 0.123456789
    first = decide(now, observed(m))
    active = decide(now + 1.6, observed(m, roundtrip(first.status)))
    assert active.active and active.scenario is not None
    injected = roundtrip(active.status)
    end_at = parse_time(rfc3339(injected.end_at or 0))
    assert active.scenario.until == injected.end_at and end_at == injected.end_at
    again = decide(now + 3, observed(m, injected))
    assert again.scenario is not None and again.scenario.until == active.scenario.until
    assert not again.changed
    assert p.plan(now + 3, [observed(m, injected)], ok).active[0].until == injected.end_at


GRACE = p.STOP_CONDITION_GRACE
DOWN = Reading(error="Prometheus http://x unreachable: refused", reason=p.UNREACHABLE)
INVALID = Reading(error="Prometheus refused the query: bad_data: 1:7: parse error: unclosed "
                  "left parenthesis", reason=p.QUERY_INVALID)


def test_injection_waits_for_a_first_evaluation() -> None:
    """Without readings (the pass that only finds who needs them) nothing is injected."""
    d = decide(T0, observed(manifest(stop=STOP)))
    assert not d.active and d.wants_readings and d.needs_stop_readings
    assert d.status.injected_at is None and d.status.phase is Phase.PENDING
    assert p.plan(T0, [observed(manifest(stop=STOP))], ok).needing_stop_readings() == [d]


def test_a_query_prometheus_refuses_fails_before_anything_is_injected() -> None:
    d = decide(T0, observed(manifest(stop=STOP)), [INVALID])
    assert not d.active and d.status.phase is Phase.FAILED
    assert d.status.injected_at is None
    assert d.status.reason == "StopConditionInvalid"
    assert "1:7: parse error: unclosed left parenthesis" in d.status.message
    assert "'errors'" in d.status.message and "nothing injected" in d.status.message
    cond = d.status.condition(STOP_CHECKED)
    assert cond is not None and (cond.status, cond.reason) == ("False", "QueryInvalid")
    status, _ = p.confirm(d, injected=False, now=T0)
    assert status.reverted_at is None  # never injected, so nothing was reverted


@pytest.mark.parametrize("reading", [DOWN, Reading(None)], ids=["unreachable", "nodata"])
def test_unevaluable_before_injection_waits_then_fails(reading: Reading) -> None:
    m = manifest(stop=STOP)
    first = decide(T0, observed(m), [reading])
    assert not first.active and first.status.phase is Phase.PENDING
    assert first.status.reason == reading.problem and first.wake_at == T0 + GRACE
    assert first.status.unevaluable_since == ((0, T0),)
    later = decide(T0 + GRACE - 1, observed(m, roundtrip(first.status)), [reading])
    assert not later.active and later.status.phase is Phase.PENDING
    gave_up = decide(T0 + GRACE, observed(m, roundtrip(later.status)), [reading])
    assert not gave_up.active and gave_up.status.phase is Phase.FAILED
    assert gave_up.status.reason == "StopConditionUnevaluable"
    assert "onError: continue" in gave_up.status.message
    assert gave_up.status.injected_at is None


def test_evaluable_again_before_the_grace_injects() -> None:
    m = manifest(stop=STOP)
    first = decide(T0, observed(m), [DOWN])
    back = decide(T0 + 5, observed(m, roundtrip(first.status)), [Reading(0.1)])
    assert back.active and back.status.injected_at == T0 + 5
    assert back.status.unevaluable_since == ()
    cond = back.status.condition(STOP_CHECKED)
    assert cond is not None and (cond.status, cond.reason) == ("True", "Evaluated")


def test_on_error_continue_injects_blind_and_says_why() -> None:
    m = manifest(duration="5m", stop=STOP)
    m["spec"]["onError"] = "continue"
    first = decide(T0, observed(m), [Reading(None)])
    assert first.active and first.status.phase is Phase.ACTIVE
    cond = first.status.condition(STOP_CHECKED)
    assert cond is not None and (cond.status, cond.reason) == ("False", "NoData")
    assert "or vector(0)" in cond.message
    late = decide(T0 + 3 * GRACE, observed(m, roundtrip(first.status)), [DOWN])
    assert late.active and late.status.phase is Phase.ACTIVE
    cond = late.status.condition(STOP_CHECKED)
    assert cond is not None and cond.reason == "PrometheusUnreachable"
    assert "refused" in cond.message


def test_active_scenario_unevaluable_for_the_grace_is_aborted() -> None:
    m = manifest(duration="5m", stop=STOP)
    first = decide(T0, observed(m), [Reading(0.1)])
    down = decide(T0 + 10, observed(m, roundtrip(first.status)), [DOWN])
    assert down.active and down.wake_at == T0 + 10 + GRACE
    still = decide(T0 + 10 + GRACE - 0.5, observed(m, roundtrip(down.status)), [Reading(None)])
    assert still.active  # no data continues the same grace clock
    aborted = decide(T0 + 10 + GRACE, observed(m, roundtrip(still.status)), [DOWN])
    assert not aborted.active and aborted.status.phase is Phase.ABORTED
    assert aborted.status.reason == "StopConditionUnevaluable"
    assert "could not be evaluated for 30s" in aborted.status.message
    assert "unreachable" in aborted.status.message
    assert [e.reason for e in aborted.events] == ["Aborted"]


def test_grace_clock_survives_a_restart_and_resets_on_a_value() -> None:
    m = manifest(duration="5m", stop=STOP)
    first = decide(T0, observed(m), [Reading(0.1)])
    down = decide(T0 + 1, observed(m, roundtrip(first.status)), [DOWN])
    assert roundtrip(down.status).unevaluable_since == ((0, T0 + 1),)
    assert roundtrip(down.status).to_dict()["stopConditions"] == [
        {"index": 0, "unevaluableSince": rfc3339(T0 + 1)}]
    ok_again = decide(T0 + 2, observed(m, roundtrip(down.status)), [Reading(0.1)])
    assert ok_again.status.unevaluable_since == ()


def paused(m: dict[str, Any], st: Status, on: bool = True) -> Observed:
    return dataclasses.replace(observed(m, st), paused=on)


def test_pause_takes_the_faults_out_and_keeps_the_end() -> None:
    m = manifest(duration="10s")
    first = decide(T0, observed(m))
    injected, _ = p.confirm(first, True, T0)
    hold = decide(T0 + 3, paused(m, roundtrip(injected)))
    assert not hold.active and hold.status.phase is Phase.PAUSED
    assert hold.status.end_at == T0 + 10 and hold.wake_at == T0 + 10
    assert [e.reason for e in hold.events] == ["Paused"]
    held, events = p.confirm(hold, False, T0 + 3)
    assert held.reverted_at is None and events == ()  # a pause is not a revert
    assert held.condition(INJECTED).reason == "Paused"  # type: ignore[union-attr]
    again = decide(T0 + 5, paused(m, roundtrip(held)))
    assert not again.changed and again.events == ()
    resumed = decide(T0 + 6, paused(m, roundtrip(held), on=False))
    assert resumed.active and resumed.status.phase is Phase.ACTIVE
    assert resumed.status.end_at == T0 + 10 and [e.reason for e in resumed.events] == ["Resumed"]
    ended = decide(T0 + 10, paused(m, roundtrip(held)))
    assert ended.status.phase is Phase.COMPLETED  # the end comes, paused or not


def test_pause_before_injection_injects_nothing() -> None:
    d = decide(T0, dataclasses.replace(observed(), paused=True))
    assert not d.active and d.status.phase is Phase.PAUSED and d.status.injected_at is None


def test_pause_annotation_is_read_from_the_object() -> None:
    obj = {**manifest(), "metadata": {**manifest()["metadata"],
                                      "annotations": {p.PAUSE_ANNOTATION: "True"}}}
    assert Observed.from_object(obj, "f").paused
    obj["metadata"]["annotations"][p.PAUSE_ANNOTATION] = "false"
    assert not Observed.from_object(obj, "f").paused
