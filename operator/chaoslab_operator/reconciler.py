"""The OutageScenario controller: one level-triggered reconcile of all scenarios at once.

Each pass lists every scenario, reads the CoreDNS ConfigMap and recovers its pristine base
(`strip_faults`), asks the pure planner what every scenario's status and the active set are
now (querying Prometheus for the stop conditions of active scenarios), writes status
changes first (optimistically, so a concurrent abort is never overwritten), then writes
`compile_corefile(base, active set)` into the ConfigMap only when it differs, and finally
records what the ConfigMap holds (Injected condition, revertedAt, Events, metrics). Passes
run on every watch event, at the next clock-driven transition, and every resync period,
one at a time; a deletion waits for a pass that removed the scenario's faults.
A schedule's runs (`spec.schedule`) are created before its status records the tick, and
deleted with it (its finalizer waits for them, each reverting on its own).
Client-scoped faults (`spec.faults[].clients`) get their pod IPs from a pod listing in the
pass (pure selection in `chaoslab_dns.clients`); a pod watch triggers a debounced pass
while any scenario selects pods, so a pod that comes or goes enters or leaves the rule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kubernetes.watch import Watch

from chaoslab_dns.clients import FaultRef, Pod, fault_addresses, scope_summary
from chaoslab_dns.corefile import CorefileError, check_corefile, compile_corefile, strip_faults
from chaoslab_dns.model import Scenario
from chaoslab_operator import plan as planner
from chaoslab_operator.admission import admit, admit_hypotheses
from chaoslab_operator.config import OperatorConfig
from chaoslab_operator.kube import ConfigMapMissing, Conflict, Kube, interrupt_watch
from chaoslab_operator.ledger import LABEL as LEDGER_LABEL
from chaoslab_operator.ledger import Ledger, entry_for, entry_key
from chaoslab_operator.metrics import Metrics
from chaoslab_operator.plan import Decision, Event, Key, Observed, Reading
from chaoslab_operator.prom import Prometheus, unavailable
from chaoslab_operator.schedule import owner_uid

log = logging.getLogger(__name__)

# Retries of one pass after lost optimistic-concurrency races before giving up until the
# next trigger (every retry re-reads everything, so it converges unless writes never stop).
CONFLICT_RETRIES = 5
# Clock-driven wake-ups land this much after the boundary, so `now >= end` holds then.
WAKE_SLACK = 0.005
# Clock-driven passes never come closer than this (events still trigger one at once).
MIN_INTERVAL = 0.05


@dataclass
class Outcome:
    """What one pass achieved."""

    injected: set[Key]  # scenarios whose faults are in the ConfigMap now
    known: set[Key]  # every scenario listed
    wake_at: float | None  # next clock-driven transition
    checks_stop_conditions: bool  # an active scenario has stop conditions
    wrote_configmap: bool = False
    runs: dict[str, set[str]] = field(default_factory=dict)  # schedule uid -> its runs' names
    finished_at: float = field(default_factory=time.time)


class Reconciler:
    def __init__(
        self,
        config: OperatorConfig,
        kube: Kube,
        metrics: Metrics | None = None,
        prometheus: Prometheus | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.kube = kube
        self.metrics = metrics or Metrics()
        self.prometheus = prometheus
        self.clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_written: str | None = None
        self._watch: Watch | None = None
        self.last_success: float | None = None
        self.last_error: str | None = None
        ns, name = config.ledger_ref
        self.ledger = Ledger(
            read=lambda: kube.read_configmap_data(ns, name),
            patch=lambda changes: kube.patch_configmap_data(ns, name, changes),
            create=lambda data: kube.create_configmap(ns, name, data, {LEDGER_LABEL: "true"}),
            clock=clock,
        )
        self._ledger_warned: str | None = None
        self._selects_pods = False  # some scenario's clients name pods: pod events matter
        self._pod_watch: Watch | None = None
        self._pod_timer: threading.Timer | None = None

    # -- one pass ------------------------------------------------------------------------
    def reconcile(self) -> Outcome:
        """One full pass, serialised with every other pass; retried on lost races."""
        with self._lock:
            for attempt in range(CONFLICT_RETRIES):
                try:
                    with self.metrics.reconcile_duration.time():
                        outcome = self._pass()
                except Conflict as exc:
                    log.debug("reconcile attempt %d lost a race: %s", attempt + 1, exc)
                    continue
                except Exception as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    raise
                self.last_success, self.last_error = outcome.finished_at, None
                return outcome
            self.last_error = "too many concurrent writes"
            raise Conflict(f"gave up after {CONFLICT_RETRIES} lost races")

    def _pass(self) -> Outcome:
        cfg = self.config
        now = self.clock()
        observed = [
            Observed.from_object(obj, cfg.finalizer) for obj in self.kube.list_scenarios()
        ]
        text: str | None = None
        base: str | None = None
        cm_version, blocked = "", None
        try:
            text, cm_version = self.kube.read_corefile(
                cfg.coredns_namespace, cfg.coredns_name, cfg.corefile_key
            )
            base = strip_faults(text)
            compile_corefile(base, [])  # a base the compiler cannot manage blocks injection
        except ConfigMapMissing as exc:
            blocked = str(exc)
        except CorefileError as exc:
            blocked = f"the Corefile in ConfigMap {cfg.configmap_ref} is unusable: {exc}"
        if blocked:
            text = base = None

        def check(scenario: Scenario) -> str | planner.Refusal | planner.Notice | None:
            problem = None if base is None else (  # else judged once the ConfigMap is usable
                corefile_problem(base, scenario) or admit(base, scenario, cfg.allowed_networks))
            return problem or admit_hypotheses(scenario, [  # queried only when the rest is fine
                self.prometheus.query(h.query) if self.prometheus else unavailable()
                for h in scenario.hypotheses])

        grace, minute = cfg.stop_grace_seconds, cfg.schedule_minute_seconds
        decided = planner.plan(now, observed, check, blocked=blocked, grace=grace,
                               minute_seconds=minute)
        if decided.needing_stop_readings():
            # Active scenarios' guardrails, and those of scenarios about to be injected
            # (evaluated once before any fault goes in).
            readings = self._read_stop_conditions(decided)
            decided = planner.plan(now, observed, check, readings, blocked, grace, minute)

        addresses = self._client_addresses(decided)

        # 0. Schedules' runs, before the schedule's status records their tick: a failed
        # creation is retried next pass, and a repeated one finds the same name (no-op).
        for d in decided.decisions:
            for child in d.creates:
                self.kube.create_scenario(child)
            for name in d.deletes:
                self.kube.delete_scenario(d.observed.namespace, name)

        # 1. Intent first: statuses (optimistic), so a restart continues from them.
        for d in decided.decisions:
            if d.changed and not d.observed.deleting:
                if self.kube.patch_status(
                    d.observed.namespace, d.observed.name, d.status.to_dict(),
                    resource_version=d.observed.resource_version,
                ):
                    self._post(d, d.events)

        # 2. The ConfigMap: exactly base + the active set, written only when it differs.
        wrote, error = False, blocked
        injected: set[Key] = set()
        if base is not None and text is not None:
            desired = compile_corefile(base, decided.active, addresses)
            if desired != text:
                check_corefile(desired)
                with self.metrics.apply_to_configmap.time():
                    self.kube.write_corefile(
                        cfg.coredns_namespace, cfg.coredns_name, cfg.corefile_key,
                        desired, cm_version,
                    )
                wrote = True
                log.info(
                    "Corefile written: %d active scenario(s): %s",
                    len(decided.active_keys),
                    ", ".join("/".join(k) for k in sorted(decided.active_keys)) or "none",
                )
            self._last_written = desired
            injected = decided.active_keys

        # 3. Observation: what the ConfigMap holds now, per scenario.
        confirmed_at = self.clock()
        ledger: list[tuple[str, dict[str, object]]] = []
        for d in decided.decisions:
            if blocked and not d.active:
                continue  # what the ConfigMap holds is unknown: record nothing
            status, events = planner.confirm(d, d.key in injected, confirmed_at, error)
            for event in events:
                if event.reason == "Injected":
                    self.metrics.injections.inc()
                elif event.reason == "Reverted":
                    self.metrics.reverts.inc()
            if planner.differs(status, d.status) and self.kube.patch_status(
                d.observed.namespace, d.observed.name, status.to_dict()
            ):
                self._post(d, events)
            entry = entry_for(d, status)
            if entry is not None:
                ledger.append((entry_key(*d.key, d.observed.uid), entry))
        self._record_scopes(decided, addresses)
        self.metrics.set_active(injected, {d.key for d in decided.decisions})
        self._record(ledger)
        if blocked:
            raise ConfigMapMissing(blocked)
        return Outcome(
            injected=injected,
            known={d.key for d in decided.decisions},
            wake_at=decided.wake_at,
            checks_stop_conditions=bool(decided.needing_stop_readings()),
            wrote_configmap=wrote,
            runs=_runs_by_owner(observed),
        )

    def _client_addresses(self, decided: planner.Plan) -> dict[FaultRef, frozenset[str]]:
        """Pod IPs per pod-selecting fault of the active set; pods are listed only then (a
        finished scenario's object costs no listing, and its pod events no pass)."""
        scenarios = list(decided.active)
        self._selects_pods = any(
            f.clients is not None and f.clients.selects_pods for s in scenarios for f in s.faults)
        if not self._selects_pods:
            return {}
        try:
            pods = self.kube.list_pods(self.config.client_namespaces)
        except Exception as exc:
            # Never block reverts on it, never widen a scope: they apply to nobody for now.
            log.warning("could not list pods for client-scoped faults (they apply to no pod "
                        "until a listing succeeds; may the operator list pods?): %s", exc)
            pods = []
        return fault_addresses(scenarios, pods)

    def _record_scopes(self, decided: planner.Plan,
                       addresses: dict[FaultRef, frozenset[str]]) -> None:
        """status.clients (the `kubectl get -o wide` column) of the active scenarios, written
        only when it changes; a finished scenario keeps the scope it last had."""
        for d in decided.decisions:
            if d.scenario is None or d.observed.deleting or not d.active:
                continue
            summary = scope_summary(d.scenario, addresses)
            if (d.observed.manifest.get("status") or {}).get("clients") != summary:
                self.kube.patch_status(d.observed.namespace, d.observed.name,
                                       {"clients": summary})

    def _record(self, entries: list[tuple[str, dict[str, object]]]) -> None:
        """The session ledger; a failure is logged and retried next pass, never fatal."""
        try:
            self.ledger.record(entries)
        except Exception as exc:
            ns, name = self.config.ledger_ref
            # Once per distinct error, not every pass (a missing permission would flood).
            level = logging.DEBUG if str(exc) == self._ledger_warned else logging.WARNING
            self._ledger_warned = str(exc)
            log.log(level, "could not write the session ledger %s/%s (retried next pass): %s",
                    ns, name, exc)
            return
        if self._ledger_warned is not None:
            log.info("session ledger written again")
            self._ledger_warned = None

    def _read_stop_conditions(self, decided: planner.Plan) -> dict[Key, list[Reading]]:
        readings: dict[Key, list[Reading]] = {}
        for d in decided.needing_stop_readings():
            assert d.scenario is not None
            readings[d.key] = [
                self.prometheus.query(c.query) if self.prometheus else unavailable()
                for c in d.scenario.stop_conditions
            ]
        return readings

    def _post(self, d: Decision, events: tuple[Event, ...]) -> None:
        for e in events:
            log.info("%s/%s %s: %s", d.observed.namespace, d.observed.name, e.reason, e.message)
            self.kube.post_event(
                d.observed.namespace, d.observed.name, d.observed.uid, e.type, e.reason, e.message
            )

    # -- deletion ---------------------------------------------------------------------
    def ensure_reverted(self, namespace: str, name: str, uid: str | None = None) -> None:
        """Run a pass and check the scenario's faults are out of the ConfigMap.

        Raises if they could not be removed (the caller retries; the finalizer stays).
        A missing ConfigMap holds no faults, so it does not block a deletion.
        """
        try:
            outcome = self.reconcile()
        except ConfigMapMissing:
            return
        if (namespace, name) in outcome.injected:
            raise RuntimeError(f"{namespace}/{name} is still in the Corefile")
        if uid is not None and (runs := outcome.runs.get(uid)):
            raise RuntimeError(f"{namespace}/{name}: waiting for its runs to be deleted and "
                               f"reverted: {', '.join(sorted(runs))}")
        if uid is not None and self.ledger.holds_back_deletion(entry_key(namespace, name, uid)):
            raise RuntimeError(f"{namespace}/{name}: its session-ledger entry is not written "
                               f"yet ({self.ledger.last_error})")

    # -- the loop ----------------------------------------------------------------------
    def trigger(self) -> None:
        """Ask for a pass as soon as possible (thread-safe, coalescing)."""
        self._wake.set()

    def start(self) -> Reconciler:
        self._spawn("reconcile-loop", self._loop)
        if self.config.watch_configmap:
            self._spawn("configmap-watch", self._watch_configmap)
        self._spawn("pod-watch", self._watch_pods)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        interrupt_watch(self._watch)
        interrupt_watch(self._pod_watch)
        if self._pod_timer is not None:
            self._pod_timer.cancel()
        for thread in self._threads:
            thread.join(timeout)

    def loop_alive(self) -> bool:
        return bool(self._threads) and self._threads[0].is_alive()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _loop(self) -> None:
        cfg = self.config
        backoff = 0.0
        next_at = 0.0
        while not self._stopping.is_set():
            self._wake.wait(max(0.0, next_at - self.clock()))
            if self._stopping.is_set():
                return
            self._wake.clear()
            try:
                outcome = self.reconcile()
            except Exception as exc:
                backoff = min(max(0.5, backoff * 2), cfg.resync_seconds)
                log.warning("reconcile failed (retry in %.1fs): %s", backoff, exc)
                next_at = self.clock() + backoff
                continue
            backoff = 0.0
            now = self.clock()
            candidates = [now + cfg.resync_seconds]
            if outcome.wake_at is not None:
                candidates.append(outcome.wake_at + WAKE_SLACK)
            if outcome.checks_stop_conditions:
                candidates.append(now + cfg.stop_check_seconds)
            next_at = max(min(candidates), now + MIN_INTERVAL)

    def _watch_configmap(self) -> None:
        """Trigger a pass whenever the ConfigMap differs from what the operator last wrote."""
        cfg = self.config

        def on_event(kind: str, obj: object) -> None:
            data = getattr(obj, "data", None) or {}
            if kind == "DELETED" or data.get(cfg.corefile_key) != self._last_written:
                self.trigger()

        while not self._stopping.is_set():
            try:
                self.kube.watch_configmap(
                    cfg.coredns_namespace, cfg.coredns_name, on_event,
                    stop=self._stopping.is_set, timeout_seconds=30,
                    started=lambda w: setattr(self, "_watch", w),
                )
            except Exception as exc:
                log.debug("ConfigMap watch ended: %s", exc)
                self._stopping.wait(1.0)

    def _pod_changed(self) -> None:
        """Coalesce a burst of pod events into one pass, `pod_debounce_seconds` later."""
        if not self._selects_pods or self._stopping.is_set():
            return
        timer = self._pod_timer
        if timer is not None and timer.is_alive():
            return
        self._pod_timer = threading.Timer(self.config.pod_debounce_seconds, self.trigger)
        self._pod_timer.daemon = True
        self._pod_timer.start()

    def _watch_pods(self) -> None:
        """Pod events (cluster-wide or per configured namespace) trigger a debounced pass."""
        namespaces = self.config.client_namespaces or (None,)
        known: dict[tuple[str, str], tuple[dict[str, str], tuple[str, ...]]] = {}

        def on_event(kind: str, pod: Pod) -> None:
            key = (pod.namespace, pod.name)
            seen = None if kind == "DELETED" else (dict(pod.labels), pod.ips)
            if known.get(key) != seen:  # status churn that moves no address is ignored
                if seen is None:
                    known.pop(key, None)
                else:
                    known[key] = seen
                self._pod_changed()

        def one(namespace: str | None) -> None:
            while not self._stopping.is_set():
                try:
                    self.kube.watch_pods(on_event, stop=self._stopping.is_set,
                                         namespace=namespace, timeout_seconds=30,
                                         started=lambda w: setattr(self, "_pod_watch", w))
                except Exception as exc:
                    log.debug("pod watch ended: %s", exc)
                    self._stopping.wait(1.0)

        for ns in namespaces[1:]:
            self._spawn(f"pod-watch-{ns}", lambda n=ns: one(n))
        one(namespaces[0])

    # -- health ------------------------------------------------------------------------
    def healthy(self) -> tuple[bool, str]:
        if not self.loop_alive():
            return False, "reconcile loop not running"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        """Ready while the last pass succeeded, and recently (liveness is `healthy`)."""
        if self.last_error is not None:
            return False, f"last reconcile failed: {self.last_error}"
        if self.last_success is None:
            return False, "no reconcile yet"
        age = self.clock() - self.last_success
        limit = max(3 * self.config.resync_seconds, 60.0)
        if age > limit:
            return False, f"last successful reconcile {age:.0f}s ago: {self.last_error}"
        return True, "ok"


def _runs_by_owner(observed: list[Observed]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for obs in observed:
        if (uid := owner_uid(obs.manifest)) is not None:
            out.setdefault(uid, set()).add(obs.name)
    return out


def corefile_problem(base: str, scenario: Scenario) -> str | None:
    """Why the Corefile with this scenario alone would be refused; None when it is fine.

    A scenario not injected yet is checked with the end it would have if it started now.
    """
    if scenario.until is None:
        scenario = scenario.injected(time.time() + scenario.start_after)
    try:
        check_corefile(compile_corefile(base, [scenario]))
    except CorefileError as exc:
        return str(exc)
    except ValueError as exc:
        return str(exc)
    return None
