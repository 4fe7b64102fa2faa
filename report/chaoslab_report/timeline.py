"""When each scenario's faults were in DNS: from the operator's session ledger, OutageScenario
objects, the operator's metric, or given explicitly.

The session ledger (a ConfigMap labelled `chaoslab.io/ledger=true` that the operator keeps,
see operator/chaoslab_operator/ledger.py) is the authority: it holds every scenario ever
injected, deleted ones and those of an operator that has since restarted, with the times
the Corefile change really happened, the faults, stop conditions, phase and message.
Objects the ledger does not know (an operator older than the ledger) are read from the API;
the operator's `chaoslab_operator_scenario_active` gauge is the fallback when no kubeconfig
is at hand, and gives the same instants to within one scrape interval.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaoslab_dns.times import parse_rfc3339
from chaoslab_report.prom import Series


@dataclass(frozen=True)
class Fault:
    target: str  # e.g. "dynamodb.us-east-1.aws.internal" or "*.us-east-1.aws.internal"
    mode: str  # nxdomain | servfail | refused | nodata | timeout | delay | truncate | redirect
    probability: float = 1.0

    def describe(self) -> str:
        what = {
            "nodata": "returned NODATA (no addresses)",
            "nxdomain": "returned NXDOMAIN",
            "servfail": "returned SERVFAIL",
            "refused": "returned REFUSED",
            "timeout": "stopped answering (timeout)",
            "delay": "answered late (delay)",
            "truncate": "answered truncated",
            "redirect": "pointed to the wrong address (redirect)",
        }.get(self.mode, f"failed ({self.mode})")
        share = "" if self.probability >= 1 else f" for {self.probability:.0%} of queries"
        return f"{self.target} DNS {what}{share}"


@dataclass(frozen=True)
class StopCondition:
    query: str
    above: float
    for_: str = "0s"

    def describe(self) -> str:
        return f"{self.query} > {self.above:g} for {self.for_}"


@dataclass(frozen=True)
class PhaseWindow:
    """One phase of a phased scenario (`spec.phases`): its own window and faults, clipped
    to the scenario's revert (a phase after an abort or a deletion never ran)."""

    name: str
    start: float  # unix seconds
    end: float
    faults: tuple[Fault, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ScenarioWindow:
    """One scenario's fault window; `reverted_at` None while it is still injected."""

    namespace: str
    name: str
    injected_at: float  # unix seconds
    reverted_at: float | None = None
    phase: str = ""
    faults: tuple[Fault, ...] = field(default_factory=tuple)
    message: str = ""
    reason: str = ""  # the status reason, e.g. StopConditionBreached
    stop_conditions: tuple[StopCondition, ...] = field(default_factory=tuple)
    deleted: bool = False  # removed with kubectl delete (the ledger saw its deletion)
    source: str = ""  # ledger | object | metric | given
    phases: tuple[PhaseWindow, ...] = field(default_factory=tuple)  # spec.phases, in order

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def parse_time(value: str | None) -> float | None:
    """RFC 3339 ("2025-10-20T07:11:00Z", fractions and offsets allowed) -> unix seconds;
    None when absent, ValueError when unreadable."""
    if not value:
        return None
    return parse_rfc3339(value)


def _faults(raw: Any) -> tuple[Fault, ...]:
    return tuple(Fault(str(f.get("target", "?")), str(f.get("mode", "?")),
                       float(f.get("probability", 1.0) or 1.0))
                 for f in raw or () if isinstance(f, Mapping))


def _phases(windows: Any, faults: Sequence[Any], reverted_at: float | None
            ) -> tuple[PhaseWindow, ...]:
    """Planned phase windows (status.phases or a ledger entry's) with each phase's faults,
    clipped to the revert: what really ran."""
    out = []
    for i, w in enumerate(windows or ()):
        if not isinstance(w, Mapping):
            continue
        start, end = parse_time(w.get("startAt")), parse_time(w.get("endAt"))
        if start is None or end is None:
            continue
        if reverted_at is not None:
            if start >= reverted_at:
                continue
            end = min(end, reverted_at)
        raw = w.get("faults") if "faults" in w else (faults[i] if i < len(faults) else ())
        out.append(PhaseWindow(str(w.get("name") or f"phase {i + 1}"), start, end,
                               _faults(raw)))
    return tuple(out)


def from_object(obj: Mapping[str, Any]) -> ScenarioWindow | None:
    """An OutageScenario as the API returns it; None if it was never injected."""
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    injected = parse_time(status.get("injectedAt"))
    if injected is None:
        return None
    spec_phases = [p for p in spec.get("phases") or () if isinstance(p, Mapping)]
    faults = _faults(spec.get("faults")) or tuple(
        f for p in spec_phases for f in _faults(p.get("faults")))
    reverted = parse_time(status.get("revertedAt"))
    return ScenarioWindow(
        namespace=meta.get("namespace", "default"), name=meta.get("name", "?"),
        injected_at=injected, reverted_at=reverted,
        phase=str(status.get("phase", "")), faults=faults, message=str(status.get("message", "")),
        reason=str(status.get("reason", "")),
        stop_conditions=_stops(spec.get("stopConditions")), source="object",
        phases=_phases(status.get("phases"), [p.get("faults") for p in spec_phases], reverted))


def _stops(raw: Any) -> tuple[StopCondition, ...]:
    return tuple(StopCondition(str(c.get("query", "")), float(c.get("above", 0) or 0),
                               str(c.get("for", "0s")))
                 for c in raw or () if isinstance(c, Mapping))


def from_ledger_entry(entry: Mapping[str, Any]) -> ScenarioWindow | None:
    """One session-ledger entry (operator/chaoslab_operator/ledger.py); None if unreadable."""
    injected = parse_time(entry.get("injectedAt"))
    if injected is None:
        return None
    reverted = parse_time(entry.get("revertedAt"))
    return ScenarioWindow(
        namespace=str(entry.get("namespace", "default")), name=str(entry.get("name", "?")),
        injected_at=injected, reverted_at=reverted,
        phase=str(entry.get("phase", "")), faults=_faults(entry.get("faults")),
        message=str(entry.get("message", "")),
        reason=str(entry.get("reason", "")), stop_conditions=_stops(entry.get("stopConditions")),
        deleted=bool(entry.get("deleting")), source="ledger",
        phases=_phases(entry.get("phases"), [], reverted))


def from_ledger(configmaps: Iterable[Mapping[str, Any]]) -> list[ScenarioWindow]:
    """Every entry of the ledger ConfigMap(s) as the API returns them, oldest first."""
    out = []
    for cm in configmaps:
        for text in (cm.get("data") or {}).values():
            try:
                entry = json.loads(text)
            except ValueError:
                continue  # a hand-edited entry: skip it rather than lose the report
            w = from_ledger_entry(entry) if isinstance(entry, Mapping) else None
            if w is not None:
                out.append(w)
    return sorted(out, key=lambda w: w.injected_at)


# A stretch this long with no scenario live separates two game days (sessions).
SESSION_GAP_S = 3600.0


def latest_session(windows: Sequence[ScenarioWindow],
                   gap: float = SESSION_GAP_S) -> list[ScenarioWindow]:
    """The scenarios of the most recent session: back from the latest injection until a
    `gap` with none live. The ledger keeps past game days; the default report is today's."""
    ordered = sorted(windows, key=lambda w: w.injected_at)
    if not ordered:
        return []
    chosen, start = [ordered[-1]], ordered[-1].injected_at
    for w in reversed(ordered[:-1]):
        if start - (math.inf if w.reverted_at is None else w.reverted_at) > gap:
            break
        chosen.append(w)
        start = min(start, w.injected_at)
    return sorted(chosen, key=lambda w: w.injected_at)


def _same(a: ScenarioWindow, b: ScenarioWindow) -> bool:
    return a.key == b.key and abs(a.injected_at - b.injected_at) <= 1.0


def from_kubectl(kubectl: str | Path, kubeconfig: str | Path,
                 scenarios: Sequence[tuple[str, str]] | None = None,
                 timeout: float = 30.0) -> list[ScenarioWindow]:
    """Every scenario injected, from the session ledger and the OutageScenario objects: the
    named ones (deleted ones found in the ledger), or every one.

    The ledger is read with `kubectl get configmaps -A -l chaoslab.io/ledger=true`; without
    the right to list ConfigMaps, the objects alone are used (deleted scenarios then missing).
    """
    run = functools.partial(_kubectl_json, kubectl, kubeconfig, timeout=timeout)
    ledger = run("get", "configmaps", "-A", "-l", f"{LEDGER_LABEL}=true", "-o", "json",
                 optional=True)
    if ledger is None:
        logging.getLogger(__name__).warning(
            "could not read the session ledger (kubectl get configmaps -A -l %s=true): "
            "scenarios deleted since they ran are missing from this report", LEDGER_LABEL)
    recorded = from_ledger(ledger.get("items", []) if ledger else [])
    if scenarios:
        wanted = set(scenarios)
        recorded = [w for w in recorded if (w.namespace, w.name) in wanted]
        objects: list[Mapping[str, Any]] = []
        for ns, name in sorted(wanted - {(w.namespace, w.name) for w in recorded}):
            data = run("get", "outagescenarios.chaoslab.io", "-n", ns, name, "-o", "json")
            objects.append(data or {})
    else:
        data = run("get", "outagescenarios.chaoslab.io", "-A", "-o", "json")
        objects = list((data or {}).get("items", []))
    # A live object is as fresh as it gets; the ledger adds the ones gone since.
    live = [w for w in map(from_object, objects) if w is not None]
    windows = live + [r for r in recorded if not any(_same(r, w) for w in live)]
    return sorted(windows, key=lambda w: w.injected_at)


LEDGER_LABEL = "chaoslab.io/ledger"


def _kubectl_json(kubectl: str | Path, kubeconfig: str | Path, *args: str, timeout: float,
                  optional: bool = False) -> dict[str, Any] | None:
    argv = [str(kubectl), f"--kubeconfig={kubeconfig}", *args]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        if optional:
            return None
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {out.stderr.strip()}")
    data = json.loads(out.stdout)
    return data if isinstance(data, dict) else None


def from_active_metric(series: Iterable[Series], end: float | None = None,
                       stamps: Mapping[str, Sequence[float]] | None = None,
                       step: float = 1.0) -> list[ScenarioWindow]:
    """Windows from `chaoslab_operator_scenario_active{namespace,name}` range data.

    A 0/absent->1 step is an injection, 1->0/absent a revert (the operator drops the series
    of a deleted scenario). With the operator's scrape times (`stamps`, by instance: see
    `timestamp(up) and up == 1`), a grid point whose scrape failed says nothing and is skipped, and
    a change is dated at the middle of the two scrapes around it: right to within half a
    scrape interval. Without them, grid points stand in for scrape times.
    """
    windows: list[ScenarioWindow] = []
    for s in series:
        ns, name = s.labels.get("namespace", "default"), s.labels.get("name", "?")
        own = (stamps or {}).get(s.labels.get("instance", ""))
        times = own if own is not None else [t - step / 2 for t in s.times]
        start: float | None = None
        prev_t = math.nan
        state = False
        for t, v in zip(times, s.values, strict=True):
            if math.isnan(t):
                continue  # failed scrape: unknown
            on = not math.isnan(v) and v >= 0.5
            if on != state:
                edge = t if math.isnan(prev_t) else (prev_t + t) / 2
                if on:
                    start = edge
                elif start is not None:
                    windows.append(ScenarioWindow(ns, name, start, edge, phase="Completed",
                                                  source="metric"))
                    start = None
                state = on
            prev_t = t
        if start is not None:
            phase = "Active" if end is None or s.times[-1] >= end else "Completed"
            windows.append(ScenarioWindow(ns, name, start, None, phase=phase, source="metric"))
    windows.sort(key=lambda w: w.injected_at)
    out: list[ScenarioWindow] = []
    for w in windows:  # one window per scenario even if several operators reported it
        if any(o.key == w.key and abs(o.injected_at - w.injected_at) <= 2 * step for o in out):
            continue
        out.append(w)
    return out


def enrich(windows: Sequence[ScenarioWindow],
           objects: Iterable[ScenarioWindow]) -> list[ScenarioWindow]:
    """Prefer the object's times and faults over the metric-derived ones, matched by name."""
    by_key = {o.key: o for o in objects}
    return [by_key.get(w.key, w) for w in windows]
