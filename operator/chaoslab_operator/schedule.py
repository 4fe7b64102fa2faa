"""Scheduled scenarios (`spec.schedule`), pure: which tick is due, and the run it starts.

Like a CronJob and its Jobs: a scheduled OutageScenario never injects anything itself. At
each tick of its cron (UTC) the operator creates a child OutageScenario, a *run*: the
parent's spec without `schedule`, named `<parent>-<tick in cron minutes since the epoch>`
(so a retried or restarted creation finds the same name), labelled `chaoslab.io/schedule`,
annotated with its tick and owned by the parent (ownerReference, controller). Each run
then has the ordinary lifecycle with its own finalizer and revert. The planner
(`plan.py`) decides with these functions; the reconciler creates and deletes the objects.
No I/O here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from chaoslab_dns.cron import Cron, next_tick
from chaoslab_operator.resources import GROUP, KIND, VERSION
from chaoslab_operator.timeutil import parse_time, rfc3339

__all__ = [
    "SCHEDULED_AT",
    "SCHEDULE_LABEL",
    "child_manifest",
    "child_name",
    "child_tick",
    "due_tick",
    "owner_uid",
]

SCHEDULE_LABEL = "chaoslab.io/schedule"  # on a run: its schedule's name (kubectl get -l)
SCHEDULED_AT = "chaoslab.io/scheduled-at"  # on a run: the tick it belongs to (RFC 3339)
# Kubernetes names are at most 253 characters; a run's suffix is "-" + up to 11 digits.
_MAX_PARENT = 253 - 12


def child_name(parent: str, tick: float, minute_seconds: float = 60.0) -> str:
    """The run's name: the parent's plus the tick in (possibly shortened) cron minutes."""
    minutes = round(tick / minute_seconds)
    return f"{parent[:_MAX_PARENT].rstrip('-.')}-{minutes}"


def child_manifest(parent: Mapping[str, Any], tick: float,
                   minute_seconds: float = 60.0) -> dict[str, Any]:
    """The run of ``parent`` (an OutageScenario as listed) for ``tick``."""
    meta = parent.get("metadata") or {}
    spec = copy.deepcopy(dict(parent.get("spec") or {}))
    spec.pop("schedule", None)
    name = str(meta.get("name", ""))
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": child_name(name, tick, minute_seconds),
            "namespace": meta.get("namespace", "default"),
            "labels": {SCHEDULE_LABEL: name[:63].rstrip("-._")},
            "annotations": {SCHEDULED_AT: rfc3339(tick)},
            "ownerReferences": [{
                "apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "name": name,
                "uid": str(meta.get("uid", "")), "controller": True,
                "blockOwnerDeletion": True,
            }],
        },
        "spec": spec,
    }


def owner_uid(manifest: Mapping[str, Any]) -> str | None:
    """The uid of the schedule that owns this run (its controller ownerReference)."""
    for ref in (manifest.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("kind") == KIND and ref.get("controller"):
            return str(ref.get("uid") or "") or None
    return None


def child_tick(manifest: Mapping[str, Any]) -> float | None:
    """The tick a run was started for (its annotation), None if unreadable."""
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    return parse_time(annotations.get(SCHEDULED_AT))


def due_tick(cron: Cron, handled: float, now: float,
             minute_seconds: float = 60.0) -> tuple[float | None, float | None]:
    """(the latest tick in (handled, now], or None; the first tick after now).

    Only the latest missed tick counts: an operator that was down for an hour starts one
    run, not sixty. The caller skips even that one when it is more than a (cron) minute old.
    """
    due = None
    tick = next_tick(cron, handled, minute_seconds)
    while tick is not None and tick <= now:
        due = tick
        tick = next_tick(cron, tick, minute_seconds)
    return due, tick
