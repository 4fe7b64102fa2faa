"""The lifecycle planner: pure functions from (now, scenarios with their statuses) to decisions.

Given the current time and every OutageScenario as listed (spec, status, deletion mark,
finalizer), `plan` decides each scenario's next status and whether its faults belong in the
Corefile right now: Pending -> Scheduled (until acceptedAt + startAfter) -> Active (from
injectedAt for duration) -> Completed, or Aborted on a breached stop condition, or Failed
on an invalid spec or Corefile. All times come from the status, so an operator restarted
from nothing continues exactly where the last one stopped.

Stop conditions fail closed. Before injecting, each is evaluated once: a query Prometheus
refuses fails the scenario at once (nothing injected); one that cannot be evaluated yet
(Prometheus unreachable, no data) holds the injection back for up to the grace period, then
fails it. While active, a condition that stays unevaluable for the grace period aborts the
scenario. `spec.onError: continue` turns both into a report (StopConditionsChecked=False
with the reason) instead. `confirm` then records what the
ConfigMap write really achieved (Injected condition, revertedAt). No I/O happens here:
Prometheus readings and the Corefile check are passed in.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chaoslab_dns.cron import parse_cron
from chaoslab_dns.model import ConcurrencyPolicy, OnError, Scenario
from chaoslab_dns.validate import ScenarioError, parse_scenario
from chaoslab_operator.schedule import child_manifest, child_tick, due_tick, owner_uid
from chaoslab_operator.timeutil import human_seconds, parse_time, rfc3339


class Phase(StrEnum):
    PENDING = "Pending"
    SCHEDULED = "Scheduled"
    ACTIVE = "Active"
    COMPLETED = "Completed"
    ABORTED = "Aborted"
    FAILED = "Failed"
    PAUSED = "Paused"  # the pause annotation is set: faults out, the end unchanged
    SUSPENDED = "Suspended"  # a schedule with suspend: true (a running schedule: Scheduled)


TERMINAL = frozenset({Phase.COMPLETED, Phase.ABORTED, Phase.FAILED})

# Condition types written in status.conditions.
ACCEPTED = "Accepted"  # spec valid and its Corefile passes the check
INJECTED = "Injected"  # the faults are in the ConfigMap right now (observed, not intended)
STOP_CHECKED = "StopConditionsChecked"  # stop conditions could be evaluated at the last check
HYPOTHESES_CHECKED = "HypothesesChecked"  # Prometheus parsed every spec.hypotheses query

Key = tuple[str, str]  # (namespace, name)

# `kubectl annotate outagescenario NAME chaoslab.io/paused=true` takes a scenario's faults out
# without ending it (its end stays where it was); removing the annotation (or any other
# value) puts them back until that end.
PAUSE_ANNOTATION = "chaoslab.io/paused"

# Why a stop condition has no value (the StopConditionsChecked reason).
QUERY_INVALID = "QueryInvalid"  # Prometheus refused the query (parse error, unknown function,
#                                 a range vector): it will never evaluate, so fail at once
QUERY_FAILED = "QueryFailed"  # it parsed but its evaluation failed (HTTP 422)
UNREACHABLE = "PrometheusUnreachable"  # no answer, a timeout, a 5xx, no --prometheus
NO_DATA = "NoData"  # an empty vector or NaN: nothing to compare with the threshold
# How long a stop condition may stay unevaluable before the scenario fails (before
# injection) or is aborted (while active), unless spec.onError is continue. Long enough for
# a Prometheus restart or a scrape or two of a new target; short next to a game day.
STOP_CONDITION_GRACE = 30.0


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    last_transition: float

    def to_dict(self, generation: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": rfc3339(self.last_transition),
        }
        if generation is not None:
            out["observedGeneration"] = generation
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Condition:
        return cls(
            type=str(raw.get("type", "")),
            status=str(raw.get("status", "Unknown")),
            reason=str(raw.get("reason", "")),
            message=str(raw.get("message", "")),
            last_transition=parse_time(raw.get("lastTransitionTime")) or 0.0,
        )


@dataclass(frozen=True)
class Status:
    """The scenario's status subresource, as the operator reads and writes it."""

    phase: Phase | None = None
    reason: str = ""
    message: str = ""
    observed_generation: int | None = None
    faults: int | None = None
    accepted_at: float | None = None
    start_at: float | None = None
    injected_at: float | None = None
    end_at: float | None = None
    ended_at: float | None = None
    reverted_at: float | None = None
    # stop condition index -> since when its value has been above the threshold
    breaching_since: tuple[tuple[int, float], ...] = ()
    # stop condition index -> since when it could not be evaluated (the grace clock)
    unevaluable_since: tuple[tuple[int, float], ...] = ()
    conditions: tuple[Condition, ...] = ()
    # A phased scenario once injected: each phase's (name, start, end), planned from
    # injectedAt; the one live now ("2/3 caches drain", "" in a gap or outside) and when
    # the next phase begins (status.nextAt; a schedule's next run for a schedule).
    phases: tuple[tuple[str, float, float], ...] = ()
    current_phase: str = ""
    next_at: float | None = None
    # A schedule: its last tick handled, and its runs as (name, tick, phase, injectedAt,
    # revertedAt), oldest first.
    last_schedule_at: float | None = None
    runs: tuple[tuple[str, float, str, float | None, float | None], ...] = ()

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def is_injected(self) -> bool:
        cond = self.condition(INJECTED)
        return cond is not None and cond.status == "True"

    def with_condition(
        self, type_: str, status: str, reason: str, message: str, now: float
    ) -> Status:
        """Set one condition; lastTransitionTime moves only when the status value changes."""
        old = self.condition(type_)
        since = old.last_transition if old is not None and old.status == status else now
        new = Condition(type_, status, reason, message, since)
        if old == new:
            return self
        others = tuple(c for c in self.conditions if c.type != type_)
        return dataclasses.replace(self, conditions=(*others, new))

    def without_condition(self, type_: str) -> Status:
        if self.condition(type_) is None:
            return self
        return dataclasses.replace(
            self, conditions=tuple(c for c in self.conditions if c.type != type_)
        )

    # -- (de)serialisation --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The full status as a merge patch: fields no longer set are written as null."""

        def t(ts: float | None) -> str | None:
            return None if ts is None else rfc3339(ts)

        return {
            "phase": None if self.phase is None else str(self.phase),
            "reason": self.reason or None,
            "message": self.message or None,
            "observedGeneration": self.observed_generation,
            "faults": self.faults,
            "acceptedAt": t(self.accepted_at),
            "startAt": t(self.start_at),
            "injectedAt": t(self.injected_at),
            "endAt": t(self.end_at),
            "endedAt": t(self.ended_at),
            "revertedAt": t(self.reverted_at),
            "stopConditions": self._stop_clocks() or None,
            "conditions": [c.to_dict(self.observed_generation) for c in self.conditions] or None,
            "phases": [{"name": n, "startAt": rfc3339(a), "endAt": rfc3339(b)}
                       for n, a, b in self.phases] or None,
            "currentPhase": self.current_phase or None,
            "nextAt": t(self.next_at),
            "lastScheduleAt": t(self.last_schedule_at),
            "runs": [{"name": n, "scheduledAt": rfc3339(at), "phase": ph or None,
                      "injectedAt": t(inj), "revertedAt": t(rev)}
                     for n, at, ph, inj, rev in self.runs] or None,
        }

    def _stop_clocks(self) -> list[dict[str, Any]]:
        breaching, unevaluable = dict(self.breaching_since), dict(self.unevaluable_since)
        out = []
        for i in sorted(breaching.keys() | unevaluable.keys()):
            item: dict[str, Any] = {"index": i}
            if i in breaching:
                item["breachingSince"] = rfc3339(breaching[i])
            if i in unevaluable:
                item["unevaluableSince"] = rfc3339(unevaluable[i])
            out.append(item)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Status:
        raw = raw or {}
        try:
            phase: Phase | None = Phase(raw["phase"]) if raw.get("phase") else None
        except ValueError:
            phase = None
        breaching, unevaluable = [], []
        for item in raw.get("stopConditions") or ():
            if not isinstance(item, Mapping) or not isinstance(item.get("index"), int):
                continue
            if (since := parse_time(item.get("breachingSince"))) is not None:
                breaching.append((item["index"], since))
            if (since := parse_time(item.get("unevaluableSince"))) is not None:
                unevaluable.append((item["index"], since))
        generation = raw.get("observedGeneration")
        faults = raw.get("faults")
        phases = []
        for item in raw.get("phases") or ():
            if isinstance(item, Mapping):
                a, b = parse_time(item.get("startAt")), parse_time(item.get("endAt"))
                if a is not None and b is not None:
                    phases.append((str(item.get("name") or ""), a, b))
        runs = []
        for item in raw.get("runs") or ():
            if isinstance(item, Mapping) and (at := parse_time(item.get("scheduledAt"))):
                runs.append((str(item.get("name") or ""), at, str(item.get("phase") or ""),
                             parse_time(item.get("injectedAt")),
                             parse_time(item.get("revertedAt"))))
        return cls(
            phase=phase,
            reason=str(raw.get("reason") or ""),
            message=str(raw.get("message") or ""),
            observed_generation=generation if isinstance(generation, int) else None,
            faults=faults if isinstance(faults, int) else None,
            accepted_at=parse_time(raw.get("acceptedAt")),
            start_at=parse_time(raw.get("startAt")),
            injected_at=parse_time(raw.get("injectedAt")),
            end_at=parse_time(raw.get("endAt")),
            ended_at=parse_time(raw.get("endedAt")),
            reverted_at=parse_time(raw.get("revertedAt")),
            breaching_since=tuple(sorted(breaching)),
            unevaluable_since=tuple(sorted(unevaluable)),
            conditions=tuple(
                Condition.from_dict(c)
                for c in raw.get("conditions") or ()
                if isinstance(c, Mapping) and c.get("type")
            ),
            phases=tuple(phases),
            current_phase=str(raw.get("currentPhase") or ""),
            next_at=parse_time(raw.get("nextAt")),
            last_schedule_at=parse_time(raw.get("lastScheduleAt")),
            runs=tuple(runs),
        )


@dataclass(frozen=True)
class Observed:
    """One scenario as listed from the API server."""

    namespace: str
    name: str
    manifest: Mapping[str, Any]
    generation: int = 1
    resource_version: str = ""
    uid: str = ""
    deleting: bool = False
    finalized: bool = True  # carries the operator's finalizer (injection waits for it)
    status: Status = field(default_factory=Status)
    paused: bool = False  # the PAUSE_ANNOTATION is "true"

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)

    @classmethod
    def from_object(cls, obj: Mapping[str, Any], finalizer: str) -> Observed:
        meta = obj.get("metadata") or {}
        return cls(
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            manifest=obj,
            generation=int(meta.get("generation") or 1),
            resource_version=str(meta.get("resourceVersion") or ""),
            uid=str(meta.get("uid") or ""),
            deleting=bool(meta.get("deletionTimestamp")),
            finalized=finalizer in (meta.get("finalizers") or ()),
            status=Status.from_dict(obj.get("status")),
            paused=str((meta.get("annotations") or {}).get(PAUSE_ANNOTATION, "")).lower()
            == "true",
        )


@dataclass(frozen=True)
class Reading:
    """One stop condition's value at this check: a number, no data (None), or an error."""

    value: float | None = None
    error: str | None = None
    reason: str = ""  # QUERY_INVALID, QUERY_FAILED, UNREACHABLE; "" = UNREACHABLE on error

    @property
    def problem(self) -> str | None:
        """Why there is nothing to compare with the threshold; None for a number."""
        if self.error is not None:
            return self.reason or UNREACHABLE
        if self.value is None or math.isnan(self.value):
            return NO_DATA
        return None

    def describe(self) -> str:
        if self.error is not None:
            return self.error
        return (
            "no data (an empty vector or NaN): check the metric names and labels; if empty "
            "means healthy, end the query with `or vector(0)`"
        )


@dataclass(frozen=True)
class Event:
    type: str  # "Normal" | "Warning"
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    observed: Observed
    scenario: Scenario | None  # None when the spec does not parse
    status: Status  # to be written before the ConfigMap
    active: bool  # its faults belong in the Corefile now
    events: tuple[Event, ...] = ()
    wake_at: float | None = None  # when this scenario next needs a look without any event
    wants_readings: bool = False  # its injection waits for a stop-condition evaluation
    # A schedule's actions: runs to create (manifests) and runs to delete (names, in the
    # schedule's namespace): history beyond its limit, or every run once it is deleted.
    creates: tuple[Mapping[str, Any], ...] = ()
    deletes: tuple[str, ...] = ()

    @property
    def key(self) -> Key:
        return self.observed.key

    @property
    def changed(self) -> bool:
        return differs(self.status, self.observed.status)

    @property
    def needs_stop_readings(self) -> bool:
        if self.scenario is None or not self.scenario.stop_conditions:
            return False
        return self.active or self.wants_readings


@dataclass(frozen=True)
class Plan:
    decisions: tuple[Decision, ...]
    wake_at: float | None

    @property
    def active(self) -> list[Scenario]:
        """The scenarios to compile, in a stable order (namespace, name)."""
        chosen = [d for d in self.decisions if d.active and d.scenario is not None]
        return [d.scenario for d in sorted(chosen, key=lambda d: d.key) if d.scenario]

    @property
    def active_keys(self) -> set[Key]:
        return {d.key for d in self.decisions if d.active}

    def needing_stop_readings(self) -> list[Decision]:
        return [d for d in self.decisions if d.needs_stop_readings]


def differs(a: Status, b: Status) -> bool:
    """Do two statuses differ as written (times at the status's millisecond precision)?"""
    return a.to_dict() != b.to_dict()


@dataclass(frozen=True)
class Refusal:
    """A check's verdict against a valid spec: status.reason and a message naming the mistake."""

    reason: str
    message: str


@dataclass(frozen=True)
class Notice:
    """A check that could not be made but does not hold the scenario back: it is accepted,
    and the HypothesesChecked condition (False, `reason`) and a Warning event say why."""

    reason: str
    message: str


# A check of one scenario against the live Corefile and the lab: None when fine, else why
# not (a bare string: the compiled Corefile was rejected), or a Notice to accept it with.
CorefileCheck = Callable[[Scenario], "str | Refusal | Notice | None"]
Readings = Mapping[Key, Sequence[Reading]]


def plan(
    now: float,
    observed: Iterable[Observed],
    check: CorefileCheck,
    readings: Readings | None = None,
    blocked: str | None = None,
    grace: float = STOP_CONDITION_GRACE,
    minute_seconds: float = 60.0,
) -> Plan:
    """Decide every scenario's status and whether it is active, at time `now`.

    `blocked`: why nothing can be injected now (the ConfigMap is missing or its base is
    unusable); scenarios due to start then wait instead of starting their clock. `grace`:
    how long a stop condition may stay unevaluable (see STOP_CONDITION_GRACE).
    `minute_seconds`: how long a cron minute of the schedules lasts (60: the real clock).
    """
    observed = list(observed)
    runs: dict[str, list[Observed]] = {}
    for obs in observed:
        if (uid := owner_uid(obs.manifest)) is not None:
            runs.setdefault(uid, []).append(obs)
    decisions = tuple(
        decide(
            now, obs, check, None if readings is None else readings.get(obs.key), blocked, grace,
            runs=runs.get(obs.uid, []) if obs.uid else [], minute_seconds=minute_seconds,
        )
        for obs in observed
    )
    wakes = [d.wake_at for d in decisions if d.wake_at is not None]
    return Plan(decisions, min(wakes) if wakes else None)


def decide(
    now: float,
    obs: Observed,
    check: CorefileCheck,
    readings: Sequence[Reading] | None = None,
    blocked: str | None = None,
    grace: float = STOP_CONDITION_GRACE,
    runs: Sequence[Observed] = (),
    minute_seconds: float = 60.0,
) -> Decision:
    st = obs.status
    if obs.deleting:
        # Being deleted: never active; the finalizer waits for the revert (and a schedule's
        # finalizer for its runs, deleted here: the local lab has no garbage collector).
        gone = tuple(r.name for r in runs if not r.deleting)
        return Decision(obs, None, st, active=False, deletes=gone)
    if st.phase is Phase.FAILED and st.observed_generation not in (None, obs.generation):
        # The spec was edited after a failure: start again from scratch.
        st = Status(conditions=st.conditions)
    if st.phase in TERMINAL:
        return Decision(obs, None, st, active=False)

    try:
        scenario = parse_scenario(obs.manifest)
    except ScenarioError as exc:  # its message starts with the field, e.g. spec.duration
        return _fail(now, obs, st, "InvalidSpec", str(exc))

    st = dataclasses.replace(st, observed_generation=obs.generation, faults=len(scenario.faults))
    events: list[Event] = []
    if st.accepted_at is None:
        problem = check(scenario)
        notice = problem if isinstance(problem, Notice) else None
        if notice is not None:
            problem = None
        if isinstance(problem, Refusal):
            return _fail(now, obs, st, problem.reason, problem.message + "; nothing injected")
        if problem:
            return _fail(now, obs, st, "InvalidCorefile", f"compiled Corefile rejected: {problem}")
        st = dataclasses.replace(
            st,
            accepted_at=now,
            phase=Phase.PENDING,
            start_at=now + scenario.start_after,
        ).with_condition(ACCEPTED, "True", "Valid", "spec and compiled Corefile are valid", now)
        if notice is not None:
            st = st.with_condition(HYPOTHESES_CHECKED, "False", notice.reason, notice.message, now)
            events.append(Event("Warning", "HypothesesUnchecked", notice.message))
        elif scenario.hypotheses:
            n = len(scenario.hypotheses)
            st = st.with_condition(HYPOTHESES_CHECKED, "True", "Parsed", (
                f"Prometheus parsed the {n} hypothesis quer{'ies' if n != 1 else 'y'}; "
                "`chaoslab report` judges them"), now)

    if scenario.schedule is not None:
        return _schedule(now, obs, scenario, st, runs, minute_seconds, events)

    accepted_at = st.accepted_at if st.accepted_at is not None else now
    start_at = accepted_at + scenario.start_after
    st = dataclasses.replace(st, start_at=start_at)

    if st.injected_at is None:
        if now < start_at:
            if st.phase is not Phase.SCHEDULED:
                events.append(Event("Normal", "Scheduled", f"injection at {rfc3339(start_at)}"))
            st = _phase(
                st,
                Phase.SCHEDULED,
                "Waiting",
                f"starts at {rfc3339(start_at)} (startAfter {human_seconds(scenario.start_after)})",
            )
            return Decision(obs, scenario, st, False, tuple(events), wake_at=start_at)
        if obs.paused:
            st = _phase(st, Phase.PAUSED, "Paused",
                        f"paused ({PAUSE_ANNOTATION}) before injection: nothing injected")
            return Decision(obs, scenario, st, False, tuple(events))
        if not obs.finalized:
            # Never inject before the finalizer is on: a deletion must always find it.
            st = _phase(st, Phase.PENDING, "AwaitingFinalizer", "waiting for the finalizer")
            return Decision(obs, scenario, st, False, tuple(events))
        if blocked:
            st = _phase(st, Phase.PENDING, "ConfigMapUnavailable", f"cannot inject: {blocked}")
            return Decision(obs, scenario, st, False, tuple(events))
        if scenario.stop_conditions:
            gate = _before_injection(now, obs, st, scenario, readings, grace, events)
            if isinstance(gate, Decision):
                return gate
            st = gate
        # At the status's millisecond precision, so every later pass (which reads it back)
        # computes the very same end, and the rules' `until` never changes mid-scenario.
        st = dataclasses.replace(st, injected_at=round(now, 3))

    injected_at = st.injected_at if st.injected_at is not None else now
    scenario = scenario.injected(injected_at)  # every compiled rule carries this end
    end_at = injected_at + scenario.duration
    st = dataclasses.replace(st, end_at=end_at)
    if now >= end_at:
        ran = f"ran for {human_seconds(scenario.duration)}"
        st = _end(st, now, Phase.COMPLETED, "DurationElapsed", ran)
        events.append(Event("Normal", "Completed", ran))
        return Decision(obs, scenario, st, False, tuple(events))

    phase_wake = None
    if scenario.phases:
        st, phase_wake, phase_events = _phase_windows(now, st, scenario, injected_at)
        events.extend(phase_events)

    if obs.paused:
        if st.phase is not Phase.PAUSED:
            events.append(Event("Normal", "Paused", f"faults out; still ends at {rfc3339(end_at)}"))
        # Guardrail clocks restart on resume: a pause is not a breach, nor an outage of them.
        st = dataclasses.replace(st, breaching_since=(), unevaluable_since=())
        st = _phase(
            st, Phase.PAUSED, "Paused",
            f"paused ({PAUSE_ANNOTATION}): faults out; still ends at {rfc3339(end_at)}",
        )
        return Decision(obs, scenario, st, False, tuple(events), wake_at=end_at)
    if st.phase is Phase.PAUSED:
        events.append(Event("Normal", "Resumed", f"faults back in until {rfc3339(end_at)}"))

    wake_at = end_at if phase_wake is None else min(end_at, phase_wake)
    if scenario.stop_conditions:
        st, abort, stop_wake = _stop_conditions(now, st, scenario, readings, grace)
        if abort:
            reason, message = abort
            st = _end(st, now, Phase.ABORTED, reason, message)
            events.append(Event("Warning", "Aborted", message))
            return Decision(obs, scenario, st, False, tuple(events))
        if stop_wake is not None:
            wake_at = min(wake_at, stop_wake)
    else:
        st = st.without_condition(STOP_CHECKED)

    n = len(scenario.faults)
    message = f"{n} fault{'s' if n != 1 else ''} active until {rfc3339(end_at)}"
    if scenario.phases:
        where = (f"phase {st.current_phase}" if st.current_phase
                 else "between phases")
        upcoming = f", next phase at {rfc3339(st.next_at)}" if st.next_at is not None else ""
        message = f"{where}{upcoming}; {len(scenario.phases)} phases until {rfc3339(end_at)}"
    st = _phase(st, Phase.ACTIVE, "Injecting", message)
    return Decision(obs, scenario, st, True, tuple(events), wake_at=wake_at)


def _schedule(now: float, obs: Observed, scenario: Scenario, st: Status,
              runs: Sequence[Observed], minute_seconds: float, events: list[Event]) -> Decision:
    """A schedule: start the run of a due tick (unless suspended, or Forbid and one is
    going), keep the last `historyLimit` finished runs, show them and the next tick."""
    sched = scenario.schedule
    assert sched is not None
    cron = parse_cron(sched.cron)
    accepted_at = st.accepted_at if st.accepted_at is not None else now
    ticks = {r.name: child_tick(r.manifest) for r in runs}
    handled = max([accepted_at, st.last_schedule_at or 0.0,
                   *(t for t in ticks.values() if t is not None)])
    due, upcoming = due_tick(cron, handled, now, minute_seconds)
    running = [r for r in runs if r.status.phase not in TERMINAL and not r.deleting]
    creates: list[Mapping[str, Any]] = []
    if due is not None:
        st = dataclasses.replace(st, last_schedule_at=due)
        if sched.suspend:
            pass  # a suspended schedule starts nothing, and owes nothing on resume
        elif now - due > minute_seconds:
            events.append(Event("Warning", "RunMissed",
                                f"the tick of {rfc3339(due)} was missed (operator away)"))
        elif sched.concurrency_policy is ConcurrencyPolicy.FORBID and running:
            events.append(Event("Normal", "RunSkipped", (
                f"tick {rfc3339(due)} skipped: {running[0].name} is still "
                f"{running[0].status.phase or 'starting'} (concurrencyPolicy Forbid)")))
        else:
            child = child_manifest(obs.manifest, due, minute_seconds)
            creates.append(child)
            events.append(Event("Normal", "RunStarted",
                                f"run {child['metadata']['name']} for {rfc3339(due)}"))
    finished = sorted((r for r in runs if r.status.phase in TERMINAL and not r.deleting),
                      key=lambda r: (ticks.get(r.name) or 0.0, r.name))
    pruned = finished[:-sched.history_limit] if len(finished) > sched.history_limit else []
    kept = sorted((r for r in runs if r not in pruned and not r.deleting),
                  key=lambda r: (ticks.get(r.name) or 0.0, r.name))
    st = dataclasses.replace(st, next_at=upcoming, runs=tuple(
        (r.name, ticks.get(r.name) or 0.0, str(r.status.phase or ""), r.status.injected_at,
         r.status.reverted_at) for r in kept))
    if sched.suspend:
        st = _phase(st, Phase.SUSPENDED, "Suspended",
                    "suspended (spec.schedule.suspend): no tick starts a run")
    else:
        nxt = "no further tick" if upcoming is None else f"next run at {rfc3339(upcoming)}"
        st = _phase(st, Phase.SCHEDULED, "Scheduled",
                    f"schedule {sched.cron!r} (UTC): {nxt}; {len(running)} running")
    return Decision(obs, scenario, st, False, tuple(events), wake_at=upcoming,
                    creates=tuple(creates), deletes=tuple(r.name for r in pruned))


def _phase_windows(
    now: float, st: Status, scenario: Scenario, injected_at: float
) -> tuple[Status, float | None, list[Event]]:
    """The phases' planned windows, the one live at `now`, the next start, the next boundary.

    Only status: the compiled rules carry the same windows and CoreDNS switches them by
    itself, so a late pass shows a phase late but never applies it late.
    """
    total = len(scenario.phases)
    now = max(now, round(injected_at, 3))  # injectedAt is `now` rounded, maybe up
    windows = tuple((p.name, round(injected_at + p.start, 3), round(injected_at + p.end, 3))
                    for p in scenario.phases)
    current = ""
    for i, (name, start, end) in enumerate(windows):
        if start <= now < end:
            current = f"{i + 1}/{total} {name}"
    starts = [start for _, start, _ in windows if start > now]
    boundaries = [t for _, a, b in windows for t in (a, b) if t > now]
    events = []
    if current and current != st.current_phase:
        events.append(Event("Normal", "PhaseStarted", f"phase {current}"))
    st = dataclasses.replace(st, phases=windows, current_phase=current,
                             next_at=min(starts) if starts else None)
    return st, (min(boundaries) if boundaries else None), events


def _phase(st: Status, phase: Phase, reason: str, message: str) -> Status:
    return dataclasses.replace(st, phase=phase, reason=reason, message=message)


def _end(st: Status, now: float, phase: Phase, reason: str, message: str) -> Status:
    if st.injected_at is not None and st.reverted_at is None:
        message += "; reverting"
    return dataclasses.replace(
        _phase(st, phase, reason, message), ended_at=now, breaching_since=(), unevaluable_since=(),
        current_phase="", next_at=None,
    )


def _fail(now: float, obs: Observed, st: Status, reason: str, message: str) -> Decision:
    st = dataclasses.replace(
        _end(st, now, Phase.FAILED, reason, message), observed_generation=obs.generation
    ).with_condition(ACCEPTED, "False", reason, message, now)
    return Decision(obs, None, st, False, (Event("Warning", "Failed", message),))


def _problems(
    scenario: Scenario, readings: Sequence[Reading]
) -> list[tuple[int, str, str]]:
    """(index, reason, message) of every stop condition without a number at this check."""
    out = []
    for i, cond in enumerate(scenario.stop_conditions):
        reading = readings[i] if i < len(readings) else Reading(error="no reading")
        if (problem := reading.problem) is not None:
            out.append((i, problem, f"stop condition {i} {cond.query!r}: {reading.describe()}"))
    return out


def _unevaluable_clocks(
    now: float, st: Status, problems: list[tuple[int, str, str]]
) -> tuple[Status, float | None]:
    """Start (or keep) the grace clock of each unevaluable condition, clear the others."""
    old = dict(st.unevaluable_since)
    since = {i: old.get(i, now) for i, _, _ in problems}
    st = dataclasses.replace(st, unevaluable_since=tuple(sorted(since.items())))
    return st, min(since.values()) if since else None


def _report(now: float, st: Status, problems: list[tuple[int, str, str]]) -> Status:
    if not problems:
        return st.with_condition(
            STOP_CHECKED, "True", "Evaluated", "stop conditions evaluated", now
        )
    message = "; ".join(dict.fromkeys(m for _, _, m in problems))
    return st.with_condition(STOP_CHECKED, "False", problems[0][1], message, now)


def _before_injection(
    now: float,
    obs: Observed,
    st: Status,
    scenario: Scenario,
    readings: Sequence[Reading] | None,
    grace: float,
    events: list[Event],
) -> Decision | Status:
    """Evaluate every stop condition once before any fault goes in: fail closed.

    Returns the status to inject with, or the Decision that holds the injection back
    (asking for readings, waiting out the grace period) or fails the scenario.
    """
    if readings is None:  # this pass only decides who needs readings
        st = _phase(st, Phase.PENDING, "CheckingStopConditions",
                    "evaluating the stop conditions before injecting")
        return Decision(obs, scenario, st, False, tuple(events), wants_readings=True)
    problems = _problems(scenario, readings)
    invalid = [m for _, reason, m in problems if reason == QUERY_INVALID]
    if invalid:
        message = "; ".join(invalid) + "; nothing injected (fix the query and re-apply)"
        return _fail(now, obs, _report(now, st, problems), "StopConditionInvalid", message)
    st, oldest = _unevaluable_clocks(now, st, problems)
    st = _report(now, st, problems)
    if oldest is None or scenario.on_error is OnError.CONTINUE:
        return st  # evaluated, or told to go ahead blind (the condition says why)
    detail = "; ".join(m for _, _, m in problems)
    if now - oldest >= grace:
        message = (
            f"stop conditions could not be evaluated for {human_seconds(now - oldest)} before "
            f"injecting (grace {human_seconds(grace)}): {detail}; nothing injected "
            "(onError: abort; set spec.onError: continue to inject without them)"
        )
        return _fail(now, obs, st, "StopConditionUnevaluable", message)
    st = _phase(
        st, Phase.PENDING, problems[0][1],
        f"not injecting until the stop conditions can be evaluated (gives up at "
        f"{rfc3339(oldest + grace)}): {detail}",
    )
    return Decision(
        obs, scenario, st, False, tuple(events), wake_at=oldest + grace, wants_readings=True
    )


def _stop_conditions(
    now: float, st: Status, scenario: Scenario, readings: Sequence[Reading] | None, grace: float
) -> tuple[Status, tuple[str, str] | None, float | None]:
    """Fold this check's readings into the breach and grace clocks; (reason, message) to abort.

    No readings (this pass only decides who is active) changes nothing. A breach aborts once
    it lasts `for`. A condition without a value keeps its breach clock (no data resets it)
    and, with onError abort, aborts once it has had no value for `grace`.
    """
    if readings is None:
        return st, None, None
    since = dict(st.breaching_since)
    wake: float | None = None
    problems = _problems(scenario, readings)
    failing = {i for i, _, _ in problems}
    for i, cond in enumerate(scenario.stop_conditions):
        reading = readings[i] if i < len(readings) else Reading(error="no reading")
        if i in failing:
            if reading.problem == NO_DATA:
                since.pop(i, None)
            continue
        value = reading.value
        assert value is not None  # no problem means a number
        if not value > cond.above:
            since.pop(i, None)
            continue
        began = since.setdefault(i, now)
        if now - began >= cond.for_seconds:
            message = (
                f"stop condition {i} breached: {cond.query!r} = {value:g} > {cond.above:g}"
                f" for {human_seconds(now - began)} (limit {human_seconds(cond.for_seconds)})"
            )
            return st, ("StopConditionBreached", message), None
        wake = began + cond.for_seconds if wake is None else min(wake, began + cond.for_seconds)
    st = dataclasses.replace(st, breaching_since=tuple(sorted(since.items())))
    st, oldest = _unevaluable_clocks(now, st, problems)
    st = _report(now, st, problems)
    if oldest is not None and scenario.on_error is OnError.ABORT:
        if now - oldest >= grace:
            detail = "; ".join(m for _, _, m in problems)
            message = (
                f"stop conditions could not be evaluated for {human_seconds(now - oldest)} "
                f"(grace {human_seconds(grace)}): {detail} (onError: abort)"
            )
            return st, ("StopConditionUnevaluable", message), None
        wake = oldest + grace if wake is None else min(wake, oldest + grace)
    return st, None, wake


def confirm(
    decision: Decision, injected: bool, now: float, error: str | None = None
) -> tuple[Status, tuple[Event, ...]]:
    """Record what the ConfigMap holds after the write (or why it could not be written).

    `injected`: this scenario's faults are in the ConfigMap now. `error`: the ConfigMap could
    not be read or written, so `injected` is what it held before (usually unknown).
    """
    st = decision.status
    was = st.is_injected()
    events: list[Event] = []
    if error is not None and decision.active and not injected:
        st = st.with_condition(INJECTED, "False", "ConfigMapUnavailable", error, now)
        return st, ()
    if injected:
        if not was:
            events.append(Event("Normal", "Injected", st.message or "faults injected"))
        st = st.with_condition(INJECTED, "True", "InConfigMap", "faults are in the Corefile", now)
        return st, tuple(events)

    if (
        st.injected_at is not None
        and st.reverted_at is None
        and (st.phase in TERMINAL or decision.observed.deleting)
    ):
        st = dataclasses.replace(st, reverted_at=now)
        if st.message.endswith("; reverting"):
            message = st.message.removesuffix("; reverting") + "; reverted"
            st = dataclasses.replace(st, message=message)
        events.append(Event("Normal", "Reverted", "faults removed from the Corefile"))
    if st.injected_at is None:
        reason, message = (
            ("NotStarted", "waiting for the start time")
            if st.phase in (Phase.PENDING, Phase.SCHEDULED, Phase.PAUSED, None)
            else ("NotInjected", "never injected")
        )
    elif st.phase is Phase.PAUSED:
        reason, message = "Paused", "faults removed from the Corefile while paused"
    else:
        reason, message = "Reverted", "faults removed from the Corefile"
    return st.with_condition(INJECTED, "False", reason, message, now), tuple(events)
