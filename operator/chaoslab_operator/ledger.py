"""The session ledger: one ConfigMap entry per scenario ever injected, kept after it is deleted.

A game-day report must know every scenario whose faults were in DNS during its window,
including one removed with `kubectl delete` (the documented abort) and one handled by an
operator that has since restarted. The OutageScenario object cannot say it (it is gone
after deletion), and Events expire after an hour. So each reconcile pass writes, for every
scenario it has seen injected, an entry derived from the status it just confirmed: its
faults, stop conditions, inject/revert instants, phase and message, and when it was
deleted. The entry is a pure function of the object (`entry_for`), so a restarted operator
rewrites the same entries and a lost write is repaired by the next pass. Writes are JSON
merge patches of single keys of one ConfigMap (`--ledger NAMESPACE/NAME`, default
`<CoreDNS namespace>/chaoslab-ledger`), created with the label `chaoslab.io/ledger=true`
when missing. Only the newest `MAX_ENTRIES` are kept. A ledger that cannot be written is
logged and retried; it never holds back an injection or a revert.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from chaoslab_operator.plan import Decision, Status
from chaoslab_operator.timeutil import rfc3339

log = logging.getLogger(__name__)

SCHEMA = "chaoslab.io/ledger-entry/v1"
LABEL = "chaoslab.io/ledger"  # on the ConfigMap, value "true": how readers find it
DEFAULT_NAME = "chaoslab-ledger"
# Newest entries kept (by injection time): about 0.6 KB each, far under a ConfigMap's 1 MiB.
MAX_ENTRIES = 400
# How long a deletion waits for its ledger entry to be written before it goes ahead anyway
# (the faults are out by then; only the record would be missing).
DELETE_GRACE_SECONDS = 30.0
_KEY_CHARS = re.compile(r"[^-._a-zA-Z0-9]")


def entry_key(namespace: str, name: str, uid: str) -> str:
    """The ConfigMap data key of one scenario object: its uid (a re-created scenario of the
    same name is a new entry), else namespace.name."""
    return _KEY_CHARS.sub("_", uid or f"{namespace}.{name}")


def entry_for(decision: Decision, status: Status) -> dict[str, Any] | None:
    """The ledger entry of one scenario after a pass; None if it was never injected."""
    if status.injected_at is None:
        return None
    obs = decision.observed
    spec = (obs.manifest.get("spec") or {}) if isinstance(obs.manifest, Mapping) else {}
    raw_phases = [p for p in spec.get("phases") or () if isinstance(p, Mapping)]
    faults = _faults(spec.get("faults")) or [
        f for p in raw_phases for f in _faults(p.get("faults"))]
    stops = [{"query": str(c.get("query", "")), "above": _number(c.get("above"), 0.0),
              "for": str(c.get("for", "0s"))}
             for c in spec.get("stopConditions") or () if isinstance(c, Mapping)]

    def t(ts: float | None) -> str | None:
        return None if ts is None else rfc3339(ts)

    return {
        "schema": SCHEMA,
        "namespace": obs.namespace,
        "name": obs.name,
        "uid": obs.uid,
        "faults": faults,
        "duration": str(spec.get("duration", "")),
        "stopConditions": stops,
        # As declared (spec.hypotheses), so a report can judge a deleted scenario's too.
        "hypotheses": [dict(h) for h in spec.get("hypotheses") or () if isinstance(h, Mapping)],
        "injectedAt": t(status.injected_at),
        "endAt": t(status.end_at),
        "revertedAt": t(status.reverted_at),
        "phase": "" if status.phase is None else str(status.phase),
        "reason": status.reason,
        "message": status.message,
        "deleting": obs.deleting,
        # A phased scenario's planned windows (status.phases), each with its own faults; a
        # reader clips them to revertedAt (a phase after an abort never ran).
        "phases": [{"name": name, "startAt": rfc3339(start), "endAt": rfc3339(end),
                    "faults": _faults(raw_phases[i].get("faults")) if i < len(raw_phases) else []}
                   for i, (name, start, end) in enumerate(status.phases)],
    }


def _faults(raw: object) -> list[dict[str, Any]]:
    """The ledger's copy of a list of faults: what the report shows of each."""
    out = []
    for item in raw if isinstance(raw, list | tuple) else ():
        if not isinstance(item, Mapping):
            continue
        fault: dict[str, Any] = {"target": str(item.get("target", "?")),
                                 "mode": str(item.get("mode", "?")),
                                 "probability": _number(item.get("probability"), 1.0)}
        for extra in ("delay", "redirectTo"):
            if item.get(extra) is not None:
                fault[extra] = str(item[extra])
        out.append(fault)
    return out


def _number(value: object, default: float) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


class Ledger:
    """Keeps the ledger ConfigMap equal to the entries the passes compute.

    `read` returns the map's data (None when it does not exist); `patch` merge-patches
    data keys (None deletes one) and raises KeyError when the map is missing; `create`
    makes it with the given data. Each pass calls `record`; only changed entries are sent.
    """

    def __init__(self, read: Callable[[], Mapping[str, str] | None],
                 patch: Callable[[Mapping[str, str | None]], None],
                 create: Callable[[Mapping[str, str]], None],
                 clock: Callable[[], float] = time.time) -> None:
        self._read, self._patch, self._create, self.clock = read, patch, create, clock
        self._written: dict[str, str] | None = None  # what the map holds, as last known
        self.failing_since: dict[str, float] = {}  # key -> first failed write of it
        self.last_error: str | None = None

    def record(self, entries: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        """Write the entries that differ from the map; raise after logging on failure."""
        wanted = {k: json.dumps(v, sort_keys=True, separators=(",", ":")) for k, v in entries}
        try:
            if self._written is None:
                self._written = dict(self._read() or {})
            changes: dict[str, str | None] = {
                k: v for k, v in wanted.items() if self._written.get(k) != v}
            if not changes:
                return
            merged = {**self._written, **{k: v for k, v in changes.items() if v is not None}}
            for old in _oldest(merged, len(merged) - MAX_ENTRIES):
                changes[old] = None
            try:
                self._patch(changes)
            except KeyError:  # no ledger yet (or it was deleted): start a new one
                self._written = {}
                self._create({k: v for k, v in changes.items() if v is not None})
            for k, v in changes.items():
                if v is None:
                    self._written.pop(k, None)
                else:
                    self._written[k] = v
                self.failing_since.pop(k, None)
            self.last_error = None
        except Exception as exc:
            self._written = None  # re-read next time: the map may have changed under us
            now = self.clock()
            for k in wanted:
                self.failing_since.setdefault(k, now)
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise

    def holds_back_deletion(self, key: str) -> bool:
        """True while this entry's write is failing, for at most DELETE_GRACE_SECONDS."""
        since = self.failing_since.get(key)
        return since is not None and self.clock() - since < DELETE_GRACE_SECONDS


def _oldest(data: Mapping[str, str], count: int) -> list[str]:
    if count <= 0:
        return []

    def injected(key: str) -> str:
        try:
            return str(json.loads(data[key]).get("injectedAt") or "")
        except (ValueError, AttributeError):
            return ""

    return sorted(data, key=injected)[:count]
