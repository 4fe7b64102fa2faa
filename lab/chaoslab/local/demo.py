"""`chaoslab demo` (make demo): the flagship game day, start to finish, on a local lab.

Phases: start the lab → warm up until customers see a steady, healthy service → apply the
flagship OutageScenario with kubectl (DynamoDB's us-east-1 endpoint answers NODATA, as on
20 October 2025) → keep the load on through the outage and the recovery → write the
game-day report → stop the lab. Each phase says what it is waiting for; any failure or
Ctrl-C still stops every process.

The demo's customers live in both regions and launch EC2 instances too, so it tells the
whole story: the cascade; us-west-2's sign-in failing through the global control plane
while us-west-2's own services stay healthy; and EC2's DWFM collapse, which outlives the
DNS fix until the demo, playing the on-call engineer, switches on DWFM's incoming-work
throttle (`chaoslab mitigate dwfm-throttle`, what AWS did at 4:14 AM PDT).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoslab.local import mitigate
from chaoslab.local.runtime import LabOptions, LocalLab
from chaoslab.local.state import LabState
from chaoslab.procs import ComponentFailed, sigterm_as_interrupt
from chaoslab.toolpaths import REPO_ROOT, tool
from chaoslab_report.prom import Prometheus

FLAGSHIP = REPO_ROOT / "scenarios" / "us-east-1-dynamodb-dns.yaml"

# Share of customer calls failing, per workflow and region, over the last 10 s.
WORKFLOW_ERRORS = (
    'sum by (workflow, region) (rate(chaoslab_loadtest_requests_total{result="error"}[10s]))'
    " / sum by (workflow, region) (rate(chaoslab_loadtest_requests_total[10s]))"
)
CUSTOMER_RATE = "sum(rate(chaoslab_loadtest_requests_total[10s]))"
# The demo's customers: both regions (the failover drill's us-west-2 sign-in), and EC2
# launches on top of the stock mix (DWFM's collapse is what outlives the DNS fix).
DEMO_REGIONS = "us-east-1,us-west-2"
DEMO_WORKFLOWS = "launch=1"
# DWFM's host leases by region: held and lapsed (services/README.md, "EC2 and DWFM").
DWFM_LEASES = 'sum by (region, state) (chaoslab_service_dwfm_leases{service="ec2"})'
DWFM_QUEUE = 'sum by (region) (chaoslab_service_dwfm_queue_depth{service="ec2"})'
# A fleet holding less than this share of its leases is collapsed, not still re-leasing.
HELD_SHARE = 0.9
CUSTOMER_ERRORS = (
    'sum(rate(chaoslab_loadtest_requests_total{result="error"}[10s]))'
    " / sum(rate(chaoslab_loadtest_requests_total[10s]))"
)


@dataclass
class DemoOptions:
    out: Path = Path("reports/latest")
    scenario: Path = FLAGSHIP
    warmup_seconds: float = 20.0  # healthy steady state required before the fault
    warmup_timeout: float = 120.0
    recovery_seconds: float = 60.0  # load kept on after the fault is reverted
    error_budget: float = 0.02  # steady state: customer error share below this
    # The on-call engineer: a DWFM fleet still collapsed this long after the DNS fix gets
    # its throttle (None: never), then the load stays on until the fleet is back (at most
    # `mitigation_timeout`) and `settle_seconds` more, so the report sees it recover.
    mitigate_after: float | None = 60.0
    mitigation_timeout: float = 180.0
    settle_seconds: float = 20.0


def say(message: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", flush=True)


def kubectl(kubeconfig: str, *args: str) -> str:
    out = subprocess.run([str(tool("kubectl")), f"--kubeconfig={kubeconfig}", *args],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise ComponentFailed(f"kubectl {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def scenario_status(kubeconfig: str, namespace: str, name: str) -> dict[str, Any]:
    obj = json.loads(kubectl(kubeconfig, "get", "outagescenario", name, "-n", namespace,
                             "-o", "json"))
    return obj.get("status") or {}


def _customer_line(prom: Prometheus) -> str:
    rate = prom.scalar(CUSTOMER_RATE) or 0.0
    errors = prom.scalar(CUSTOMER_ERRORS) or 0.0
    per_workflow = {f"{labels.get('workflow', '?')} {labels.get('region', '?')}": v
                    for labels, v in prom.query(WORKFLOW_ERRORS)}
    worst = ", ".join(f"{w} {e:.0%}" for w, e in sorted(per_workflow.items()) if e == e and e > 0)
    return f"customers: {rate:.0f} calls/s, errors {errors:.1%}" + (f" ({worst})" if worst else "")


def warm_up(prom: Prometheus, opts: DemoOptions, logs: str = ".lab/logs") -> None:
    say(f"warm-up: waiting for {opts.warmup_seconds:.0f}s of steady customer traffic with "
        f"errors under {opts.error_budget:.0%}")
    deadline = time.monotonic() + opts.warmup_timeout
    healthy_since: float | None = None
    while time.monotonic() < deadline:
        rate = prom.scalar(CUSTOMER_RATE)
        errors = prom.scalar(CUSTOMER_ERRORS)
        ok = bool(rate) and errors is not None and errors < opts.error_budget
        now = time.monotonic()
        healthy_since = (healthy_since or now) if ok else None
        say("  " + _customer_line(prom))
        if healthy_since is not None and now - healthy_since >= opts.warmup_seconds:
            say("steady state reached")
            return
        time.sleep(5)
    raise ComponentFailed(
        f"the lab did not reach a healthy steady state before the fault; see {logs}/ "
        "(locust.log and service-*.log)")


def check_scenario(path: Path) -> tuple[str, str]:
    """(namespace, name) of a valid OutageScenario file, checked before the lab starts.

    Raises ScenarioError naming the bad field, exactly as the operator would refuse it.
    """
    from chaoslab_dns import manifests

    spec = manifests.one(path.read_text()).spec  # OSError: the caller says which file
    return spec.namespace, spec.name


def scenario_annotations(path: Path) -> dict[str, str]:
    """The scenario file's annotations (a file check_scenario accepted), so the demo's lab
    can honour what the scenario asks of it (customer regions, tuning)."""
    from chaoslab_dns import manifests

    notes = (manifests.one(path.read_text()).doc.get("metadata") or {}).get("annotations") or {}
    return {str(k): str(v) for k, v in notes.items()}


def run_outage(kubeconfig: str, prom: Prometheus, opts: DemoOptions) -> tuple[str, str]:
    namespace, name = check_scenario(opts.scenario)
    shown = (opts.scenario.relative_to(REPO_ROOT) if opts.scenario.is_relative_to(REPO_ROOT)
             else opts.scenario)
    say(f"outage: kubectl apply -f {shown}")
    kubectl(kubeconfig, "apply", "-f", str(opts.scenario))
    last_phase = ""
    while True:
        status = scenario_status(kubeconfig, namespace, name)
        phase = status.get("phase", "Pending")
        if phase != last_phase:
            say(f"scenario {namespace}/{name}: {phase}" +
                (f" - {status['message']}" if status.get("message") else ""))
            last_phase = phase
        if phase in ("Completed", "Aborted", "Failed"):
            if phase == "Failed":
                raise ComponentFailed(f"the scenario failed: {status.get('message')}")
            return namespace, name
        say("  " + _customer_line(prom))
        time.sleep(5)


def dwfm_fleets(prom: Prometheus) -> dict[str, tuple[float, float]]:
    """region -> (leases held, hosts) of each EC2's DWFM, as Prometheus last saw them."""
    fleets: dict[str, list[float]] = {}
    for labels, value in prom.query(DWFM_LEASES):
        if value != value:  # NaN
            continue
        row = fleets.setdefault(labels.get("region", "?"), [0.0, 0.0])
        row[1] += value
        if labels.get("state") == "held":
            row[0] += value
    return {r: (held, hosts) for r, (held, hosts) in sorted(fleets.items()) if hosts > 0}


def collapsed(fleets: dict[str, tuple[float, float]]) -> list[str]:
    return [r for r, (held, hosts) in fleets.items() if held < HELD_SHARE * hosts]


def _dwfm_line(prom: Prometheus, fleets: dict[str, tuple[float, float]]) -> str:
    queues = {labels.get("region", "?"): v for labels, v in prom.query(DWFM_QUEUE)}
    return "EC2 DWFM: " + "; ".join(
        f"{r} holds {held:.0f}/{hosts:.0f} host leases, queue {queues.get(r, 0.0):.0f}"
        for r, (held, hosts) in fleets.items())


def recover(prom: Prometheus, state: LabState, opts: DemoOptions) -> None:
    """Keeps the load on after the DNS fix; mitigates a DWFM collapse that outlives it."""
    say(f"recovery: DNS is restored; keeping the load on for {opts.recovery_seconds:.0f}s"
        + (f", mitigating anything still down after {opts.mitigate_after:.0f}s"
           if opts.mitigate_after is not None else ""))
    restored = time.monotonic()
    end = restored + opts.recovery_seconds
    mitigated_at: float | None = None
    back_at: float | None = None
    while True:
        now = time.monotonic()
        fleets = dwfm_fleets(prom)
        down = collapsed(fleets)
        say("  " + _customer_line(prom))
        if fleets:
            say("  " + _dwfm_line(prom, fleets))
        if (down and mitigated_at is None and opts.mitigate_after is not None
                and now - restored >= opts.mitigate_after):
            for region in down:
                held, hosts = fleets[region]
                say(f"mitigation: EC2 {region}'s DWFM holds {held:.0f} of {hosts:.0f} host "
                    f"leases {now - restored:.0f}s after DNS came back - a congestive "
                    "collapse that DNS will not end; switching on its incoming-work "
                    f"throttle (chaoslab mitigate dwfm-throttle --region {region})")
                mitigate.dwfm_throttle(state, region, True)
            mitigated_at = now
        if mitigated_at is not None and back_at is None and not down:
            back_at = now
            say(f"EC2 DWFM re-leased its fleet {now - mitigated_at:.0f}s after the throttle; "
                f"keeping the load on {opts.settle_seconds:.0f}s more for the report")
            end = max(end, now + opts.settle_seconds)
        if mitigated_at is not None and back_at is None:
            if now - mitigated_at >= opts.mitigation_timeout:
                say(f"EC2 DWFM was still collapsed {opts.mitigation_timeout:.0f}s after the "
                    "throttle; writing the report as it stands (see .lab/logs/service-ec2*)")
                return
        elif now >= end and (not down or opts.mitigate_after is None
                             or mitigated_at is not None):
            return
        time.sleep(5.0 if now >= end else min(5.0, max(0.5, end - now)))


def run(opts: DemoOptions, lab_options: LabOptions) -> int:
    from chaoslab_report.command import report_for_lab

    t0 = time.monotonic()
    lab = LocalLab(lab_options, progress=lambda m: say(f"up: {m}"))
    with sigterm_as_interrupt():
        try:
            state = lab.up()
            say(f"lab healthy after {time.monotonic() - t0:.0f}s; Prometheus {state.prometheus}, "
                f"Locust {state.locust}")
            prom = Prometheus(state.prometheus, timeout=5)
            warm_up(prom, opts, state.logs)
            namespace, name = run_outage(state.kubeconfig, prom, opts)
            recover(prom, state, opts)
            say(f"report: writing {opts.out}/report.html, report.json and PNG plots")
            summary = report_for_lab(state, opts.out, scenarios=[(namespace, name)])
            print(summary, flush=True)
        finally:
            say("down: stopping every component")
            lab.stop()
    say(f"demo finished in {time.monotonic() - t0:.0f}s; open {opts.out / 'report.html'}")
    return 0
