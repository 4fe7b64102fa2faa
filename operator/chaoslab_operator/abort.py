"""The kill switch: abort scenarios and put the pristine Corefile back, operator or not.

`abort_all` marks every scenario that is not already final as Aborted (status first, so a
running operator stops wanting its faults), then writes `strip_faults(current Corefile)`
straight into the ConfigMap (the pristine base, byte for byte) and records the revert in
each status. It re-checks the ConfigMap after a short settle time and restores it again if
an operator pass raced it. With `delete`, the scenarios are deleted too; their finalizers
are released by the operator when it runs (the Corefile is already clean either way).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from chaoslab_dns.corefile import fault_scenario, marked_faults, strip_faults
from chaoslab_operator import plan as planner
from chaoslab_operator.kube import ConfigMapMissing, Conflict, Kube
from chaoslab_operator.plan import Decision, Key, Observed, Phase
from chaoslab_operator.resources import FINALIZER

WRITE_RETRIES = 10


@dataclass
class AbortReport:
    aborted: list[Key] = field(default_factory=list)  # newly marked Aborted
    already_final: list[Key] = field(default_factory=list)
    deleted: list[Key] = field(default_factory=list)
    restored: bool = False  # the ConfigMap had faults and now has none
    restores: int = 0  # writes needed (more than 1: something raced the restore)
    configmap_missing: bool = False
    # The fault rules live in the ConfigMap when the abort began, all gone when it ended:
    # what was actually reverted, whoever (we or a racing operator pass) wrote the revert.
    reverted: list[str] = field(default_factory=list)

    def reverted_by_scenario(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for line in self.reverted:
            out.setdefault(fault_scenario(line) or "(no scenario named)", []).append(line)
        return out


def mark_aborted(
    kube: Kube, observed: Observed, message: str, now: float
) -> bool:
    """Status -> Aborted unless already final; retried on a lost race. False if final/gone."""
    for _ in range(WRITE_RETRIES):
        st = observed.status
        if st.phase in planner.TERMINAL:
            return False
        st = dataclasses.replace(
            st, phase=Phase.ABORTED, reason="KillSwitch", message=message,
            ended_at=now, breaching_since=(),
        )
        try:
            return kube.patch_status(
                observed.namespace, observed.name, st.to_dict(),
                resource_version=observed.resource_version,
            )
        except Conflict:
            fresh = _get(kube, observed.key)
            if fresh is None:
                return False
            observed = fresh
    raise Conflict(f"{observed.namespace}/{observed.name}: too many concurrent writes")


def restore_pristine(kube: Kube, namespace: str, name: str, key: str) -> bool:
    """Write the pristine base into the ConfigMap; True if it held faults before."""
    for _ in range(WRITE_RETRIES):
        text, version = kube.read_corefile(namespace, name, key)
        pristine = strip_faults(text)
        if pristine == text:
            return False
        try:
            kube.write_corefile(namespace, name, key, pristine, version)
        except Conflict:
            continue
        return True
    raise Conflict(f"ConfigMap {namespace}/{name}: too many concurrent writes")


def abort_all(
    kube: Kube,
    namespace: str,
    name: str,
    key: str = "Corefile",
    *,
    delete: bool = False,
    scenarios: Iterable[Key] | None = None,
    restore: bool = True,
    settle_seconds: float = 1.0,
    message: str = "aborted by the kill switch (chaoslab abort)",
    finalizer: str = FINALIZER,
) -> AbortReport:
    """Abort every scenario (or only `scenarios`), and restore the pristine Corefile."""
    report = AbortReport()
    wanted = None if scenarios is None else set(scenarios)
    now = time.time()
    observed = [
        o for o in (Observed.from_object(obj, finalizer) for obj in kube.list_scenarios())
        if wanted is None or o.key in wanted
    ]
    live: list[str] = []
    if restore:
        # Read before marking: a running operator reverts as soon as the status says
        # Aborted, and the report must still name what was live.
        try:
            live = marked_faults(kube.read_corefile(namespace, name, key)[0])
        except ConfigMapMissing:
            pass
    for obs in observed:
        if mark_aborted(kube, obs, message, now):
            report.aborted.append(obs.key)
        else:
            report.already_final.append(obs.key)

    if restore:
        try:
            for attempt in range(3):
                if restore_pristine(kube, namespace, name, key):
                    report.restores += 1
                    report.restored = True
                if attempt == 2 or settle_seconds <= 0:
                    break
                time.sleep(settle_seconds)
                text, _ = kube.read_corefile(namespace, name, key)
                if strip_faults(text) == text:
                    break
        except ConfigMapMissing:
            report.configmap_missing = True
        else:
            text, _ = kube.read_corefile(namespace, name, key)
            remaining = set(marked_faults(text))
            report.reverted = [line for line in live if line not in remaining]
            # Record the revert in each status, as the operator would.
            reverted_at = time.time()
            for obs in observed:
                fresh = _get(kube, obs.key)
                if fresh is None:
                    continue
                d = Decision(fresh, None, fresh.status, active=False)
                status, _ = planner.confirm(d, False, reverted_at)
                if planner.differs(status, fresh.status):
                    kube.patch_status(fresh.namespace, fresh.name, status.to_dict())

    if delete:
        for obs in observed:
            if kube.delete_scenario(obs.namespace, obs.name):
                report.deleted.append(obs.key)
    return report


def _get(kube: Kube, key: Key) -> Observed | None:
    obj = kube.get_scenario(*key)
    return None if obj is None else Observed.from_object(obj, FINALIZER)
