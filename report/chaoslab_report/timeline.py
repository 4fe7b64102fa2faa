"""When each scenario's faults were in DNS: from OutageScenario objects, the operator's metric,
or given explicitly.

The objects are the authority (`status.injectedAt` / `status.revertedAt` are written when the
Corefile change really happened, and `spec.faults` says what was injected); the operator's
`chaoslab_operator_scenario_active` gauge is the fallback when no kubeconfig is at hand, and
gives the same instants to within one scrape interval.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
class ScenarioWindow:
    """One scenario's fault window; `reverted_at` None while it is still injected."""

    namespace: str
    name: str
    injected_at: float  # unix seconds
    reverted_at: float | None = None
    phase: str = ""
    faults: tuple[Fault, ...] = field(default_factory=tuple)
    message: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def parse_time(value: str | None) -> float | None:
    """RFC 3339 ("2025-10-20T07:11:00Z", fractions and offsets allowed) -> unix seconds."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def from_object(obj: Mapping[str, Any]) -> ScenarioWindow | None:
    """An OutageScenario as the API returns it; None if it was never injected."""
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    injected = parse_time(status.get("injectedAt"))
    if injected is None:
        return None
    faults = tuple(
        Fault(str(f.get("target", "?")), str(f.get("mode", "?")),
              float(f.get("probability", 1.0) or 1.0))
        for f in spec.get("faults") or ())
    return ScenarioWindow(
        namespace=meta.get("namespace", "default"), name=meta.get("name", "?"),
        injected_at=injected, reverted_at=parse_time(status.get("revertedAt")),
        phase=str(status.get("phase", "")), faults=faults, message=str(status.get("message", "")))


def from_kubectl(kubectl: str | Path, kubeconfig: str | Path,
                 scenarios: Sequence[tuple[str, str]] | None = None,
                 timeout: float = 30.0) -> list[ScenarioWindow]:
    """Reads OutageScenario objects with kubectl: the named ones, or every one (-A)."""
    objects: list[Mapping[str, Any]] = []
    base = [str(kubectl), f"--kubeconfig={kubeconfig}", "get", "outagescenarios.chaoslab.io",
            "-o", "json"]
    runs = ([[*base, "-n", ns, name] for ns, name in scenarios] if scenarios
            else [[*base, "-A"]])
    for argv in runs:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[2:])} failed: {out.stderr.strip()}")
        data = json.loads(out.stdout)
        objects.extend(data.get("items", [data]) if data.get("kind", "").endswith("List")
                       else [data])
    windows = [w for w in map(from_object, objects) if w is not None]
    return sorted(windows, key=lambda w: w.injected_at)


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
                    windows.append(ScenarioWindow(ns, name, start, edge, phase="Completed"))
                    start = None
                state = on
            prev_t = t
        if start is not None:
            phase = "Active" if end is None or s.times[-1] >= end else "Completed"
            windows.append(ScenarioWindow(ns, name, start, None, phase=phase))
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
