"""Runs a scenario on a local lab, phase by phase, and keeps the game-day report of it.

`run_profile` is one row of a comparison: a fresh lab on one client-policy profile → warm
up to a healthy steady state → apply the scenario with kubectl and follow it until its
faults are reverted (probing the targets' DNS meanwhile) → keep the load on for the
observation window → if customers are still failing, optionally cut the load to show the
stuck state is metastable rather than broken → the `chaoslab_report` report → stop the lab.
`run_on_lab` is the middle part alone, so tests can share one lab between scenarios. Every
lab is stopped on any failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaoslab.experiment import live
from chaoslab.experiment.labtuning import LabTuning
from chaoslab.experiment.probe import Probe, probe_targets
from chaoslab.experiment.scenario import ScenarioFile
from chaoslab.local import demo
from chaoslab.local.runtime import LabOptions, LocalLab, profile_or_policy
from chaoslab.local.state import LabState
from chaoslab.procs import ComponentFailed
from chaoslab_report.prom import Prometheus

if TYPE_CHECKING:
    from chaoslab_report.model import Collected, Report

Progress = Callable[[str], None]
PROBE_AFTER = 1.5  # seconds after Active before the first probe (CoreDNS's reload)
PROBE_EVERY = 2.5  # seconds between DNS probes of the fault targets while injected
STATUS_EVERY = 5.0  # seconds between progress lines


def say(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)


@dataclass(frozen=True)
class ProfileSpec:
    """A column of the comparison: a named profile, or a policy file (`--policy FILE`)."""

    label: str
    profile: str
    policy: Path | None = None

    @classmethod
    def parse(cls, text: str) -> ProfileSpec:
        profile, policy = profile_or_policy(text)
        return cls(policy.stem if policy else profile, profile, policy)


@dataclass
class RunOptions:
    out: Path
    users: int = 20  # Locust customers
    warmup: float = 20.0  # seconds of healthy steady state before the fault
    warmup_timeout: float = 180.0
    observe: float = 90.0  # seconds of load after DNS is restored
    relief_users: int | None = None  # still failing after `observe`: cut customers to this
    relief_observe: float = 60.0  # and watch this long
    slo: float = 0.99  # availability objective of every tier (the report's)
    hold: float = 10.0  # recovered = at or above the SLO for this long (the report's)
    customer_region: str | None = None  # default: the scenario's annotation, else us-east-1
    tuning: LabTuning = field(default_factory=LabTuning.default)


@dataclass
class ScenarioRun:
    """One scenario applied on one lab, what was seen live, and the report on it."""

    label: str
    scenario: ScenarioFile
    report: Report
    report_dir: Path
    since: float  # report window start (healthy steady state)
    applied_at: float
    phase: str  # the scenario's final phase
    observed_until: float
    probes: list[Probe] = field(default_factory=list)
    relief_at: float | None = None
    relief_users: int | None = None
    timings: dict[str, float] = field(default_factory=dict)  # phase -> wall seconds

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "scenario": self.scenario.name,
                "report_dir": str(self.report_dir), "since": self.since,
                "applied_at": self.applied_at, "phase": self.phase,
                "observed_until": self.observed_until, "relief_at": self.relief_at,
                "relief_users": self.relief_users,
                "timings_s": {k: round(v, 1) for k, v in self.timings.items()},
                "probes": [p.to_json() for p in self.probes]}


def customer_region(scenario: ScenarioFile, opts: RunOptions) -> str:
    return opts.customer_region or scenario.customer_region or "us-east-1"


def run_experiment(scenario: ScenarioFile, specs: Sequence[ProfileSpec], opts: RunOptions,
                   progress: Progress = say) -> list[ScenarioRun]:
    """Every profile in turn, each on a fresh lab from the same healthy steady state."""
    runs = []
    for i, spec in enumerate(specs, 1):
        progress(f"== profile {i}/{len(specs)}: {spec.label}")
        runs.append(run_profile(scenario, spec, opts,
                                lambda m, s=spec: progress(f"[{s.label}] {m}")))
    return runs


def run_profile(scenario: ScenarioFile, spec: ProfileSpec, opts: RunOptions,
                progress: Progress = say) -> ScenarioRun:
    out = opts.out / spec.label
    options = LabOptions(lab_dir=out / "lab", profile=spec.profile, users=opts.users,
                         customer_regions=customer_region(scenario, opts))
    options = opts.tuning.with_policy(spec.policy).apply(options, out / "tuning")
    lab = LocalLab(options, progress=lambda m: progress(f"up: {m}"))
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    try:
        state = lab.up()
        timings["up"] = time.monotonic() - t0
        progress(f"lab healthy after {timings['up']:.0f}s (profile {spec.label}, "
                 f"{opts.users} customers in {lab.options.customer_regions})")
        t1 = time.monotonic()
        since = warm_up(state, opts, progress)
        timings["warm-up"] = time.monotonic() - t1
        run = run_on_lab(state, scenario, spec.label, out, opts, progress, since=since)
        run.timings = {**timings, **run.timings}
    finally:
        progress("down: stopping the lab")
        t2 = time.monotonic()
        lab.stop()
        timings["down"] = time.monotonic() - t2
    run.timings["down"] = timings["down"]
    (out / "run.json").write_text(json.dumps(run.to_json(), indent=1) + "\n")
    return run


def warm_up(state: LabState, opts: RunOptions, progress: Progress = say) -> float:
    """Waits for a healthy steady state; returns when it began (the report's baseline)."""
    progress(f"warm-up: {opts.warmup:.0f}s of healthy customer traffic first")
    start = time.time()
    demo.warm_up(Prometheus(state.prometheus, timeout=5),
                 demo.DemoOptions(warmup_seconds=opts.warmup, warmup_timeout=opts.warmup_timeout))
    return max(start, time.time() - opts.warmup - 5.0)


def run_on_lab(state: LabState, scenario: ScenarioFile, label: str, out: Path,
               opts: RunOptions, progress: Progress = say, *,
               since: float | None = None) -> ScenarioRun:
    """Apply → follow → observe → (relief) → report, on a lab that is already warm."""
    prom = Prometheus(state.prometheus, timeout=5)
    since = since if since is not None else time.time() - 30.0
    manifest = scenario.write(out)
    timings: dict[str, float] = {}
    applied_at = time.time()
    progress(f"fault: kubectl apply -f {manifest} ({_faults(scenario)} for "
             f"{scenario.duration:g}s)")
    demo.kubectl(state.kubeconfig, "apply", "-f", str(manifest))
    phase, reverted_at, probes = follow(state, scenario, prom, progress)
    restored = reverted_at or time.time()
    timings["fault"] = restored - applied_at
    progress(f"observe: DNS restored; keeping the load on for {opts.observe:.0f}s")
    watch(prom, restored + opts.observe, progress)
    timings["observe"] = time.time() - restored
    relief_at = None
    if opts.relief_users is not None:
        relief_at = relieve(state, prom, opts, progress)
        if relief_at is not None:
            timings["relief"] = time.time() - relief_at
    observed_until = time.time()
    report_dir = out / "report"
    progress(f"report: {report_dir}/report.html")
    report = game_day_report(state, scenario, since, observed_until, out, opts)
    timings["report"] = time.time() - observed_until
    run = ScenarioRun(label, scenario, report, report_dir, since, applied_at, phase,
                      observed_until, probes, relief_at,
                      opts.relief_users if relief_at else None, timings)
    (out / "run.json").write_text(json.dumps(run.to_json(), indent=1) + "\n")
    for line in report.summary:
        progress(f"  {line}")
    return run


def game_day_report(state: LabState, scenario: ScenarioFile, since: float, until: float,
                    out: Path, opts: RunOptions) -> Report:
    """`chaoslab_report`'s report on [since, until], its raw data kept in `data.json`."""
    from chaoslab.experiment import saved
    from chaoslab_report.build import analyse, collect, write
    from chaoslab_report.command import resolve_timeline
    from chaoslab_report.prom import PrometheusError

    prom = Prometheus(state.prometheus)
    timeline = resolve_timeline(state.kubeconfig, [scenario.key])
    data = collect(prom, since, until, step=1.0)
    for h in scenario.spec.hypotheses:  # kept with the data, so --reanalyse judges them too
        try:
            data.series[HYPOTHESIS_SERIES + h.name] = prom.query_range(
                h.query, data.start, data.end, data.step)
        except PrometheusError as exc:  # judged failed below, with this said here
            say(f"hypothesis {h.name!r}: {exc}")
    saved.dump(data, timeline, out / "data.json")
    report = analyse(data, timeline, slo=opts.slo, hold=opts.hold, prometheus=state.prometheus)
    judge_hypotheses(report, data, scenario)
    return write(report, out / "report")


# Key prefix of a declared hypothesis's range results in the run's data (data.json).
HYPOTHESIS_SERIES = "hypothesis:"


def judge_hypotheses(report: Report, data: Collected, scenario: ScenarioFile) -> None:
    """The scenario's `spec.hypotheses`, judged as `chaoslab report` judges them, from the
    range results kept in `data` (a missing one: it could not be read, a failure)."""
    from chaoslab_report.hypotheses import judge

    key = "/".join(scenario.key)
    report.hypotheses = [
        judge(key, h, data.series.get(HYPOTHESIS_SERIES + h.name,
                                      "its range query failed when the run was recorded"),
              sc.window.injected_at, sc.window.reverted_at, data.end, data.step)
        for sc in report.scenarios if sc.window.key == key
        for h in scenario.spec.hypotheses]


def follow(state: LabState, scenario: ScenarioFile, prom: Prometheus,
           progress: Progress = say) -> tuple[str, float | None, list[Probe]]:
    """Until the scenario ends: phase changes, a status line every 5 s, DNS probes."""
    from chaoslab_report.timeline import parse_time

    namespace, name = scenario.key
    targets = [f.target for f in scenario.spec.faults]
    deadline = time.monotonic() + scenario.spec.start_after + scenario.duration + 120.0
    last_phase, next_line, next_probe = "", 0.0, 0.0
    probes: list[Probe] = []
    while True:
        status = demo.scenario_status(state.kubeconfig, namespace, name)
        phase = status.get("phase", "Pending")
        now = time.monotonic()
        if phase != last_phase:
            message = f" - {status['message']}" if status.get("message") else ""
            progress(f"scenario {namespace}/{name}: {phase}{message}")
            last_phase = phase
            if phase == "Active":
                next_probe = now + PROBE_AFTER
        if phase in ("Completed", "Aborted", "Failed"):
            if phase == "Failed":
                raise ComponentFailed(f"scenario {name} failed: {status.get('message')}")
            return phase, parse_time(status.get("revertedAt")), probes
        if phase == "Active" and now >= next_probe:
            probes.extend(probe_targets(state.dns, targets))
            next_probe = now + PROBE_EVERY
        if now >= next_line:
            progress("  " + live.status_line(prom))
            next_line = now + STATUS_EVERY
        if now > deadline:
            raise ComponentFailed(f"scenario {name} still {phase} long after its duration; "
                                  "see the operator's log")
        time.sleep(1.0)


def watch(prom: Prometheus, until: float, progress: Progress = say) -> None:
    """A status line every 5 s until the unix time `until`."""
    while (left := until - time.time()) > 0:
        progress("  " + live.status_line(prom))
        time.sleep(min(STATUS_EVERY, left))


def relieve(state: LabState, prom: Prometheus, opts: RunOptions,
            progress: Progress = say) -> float | None:
    """Still failing after the observation window? Cut the load and watch it heal."""
    errors = live.customer_errors(prom)
    if errors is None or errors <= 1 - opts.slo:
        progress(f"relief: not needed (customer errors {errors or 0:.1%} over the last 10s)")
        return None
    users = opts.relief_users or 0
    progress(f"relief: customers still failing ({errors:.0%}) {opts.observe:.0f}s after the "
             f"restore; cutting the load from {opts.users} to {users} customers for "
             f"{opts.relief_observe:.0f}s")
    at = time.time()
    live.set_users(state.locust, users)
    watch(prom, at + opts.relief_observe, progress)
    return at


def _faults(scenario: ScenarioFile) -> str:
    parts = []
    for f in scenario.spec.faults:
        share = "" if f.probability >= 1 else f" {f.probability:.0%}"
        parts.append(f"{f.mode}{share} on {f.target}")
    return ", ".join(parts)
