"""Each scenario's hypothesis as a verdict: its declared `spec.hypotheses`, and for the library
the claims of its `chaoslab.io/hypothesis` annotation that no single query can say.

Declared hypotheses are judged by `chaoslab_report.hypotheses` (the same judge as
`chaoslab report --check`) and land in the report; `evaluate` folds them into the verdict
under every profile. The checks here read only what a run measured — the game-day report,
the DNS probes taken while the fault was live, the comparison row — for claims about DNS
answers on the wire, first impacts, recovery per profile and failure paths. So
`chaoslab experiment` can print whether the hypothesis held and the scenario tests can
assert it. A scenario with neither gets no verdict, never a false one.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chaoslab.experiment.compare import Row, customer_timeline
from chaoslab.experiment.probe import Probe, probe_name
from chaoslab_report.analysis import index_range
from chaoslab_report.model import Tier
from chaoslab_report.paths import failure_path

if TYPE_CHECKING:
    from chaoslab_report.model import Report, ScenarioReport, TierImpact


@dataclass
class Verdict:
    scenario: str
    profile: str
    held: bool = True
    evidence: list[str] = field(default_factory=list)

    def expect(self, ok: bool, text: str) -> None:
        """Record one observation; any failed one makes the hypothesis not hold."""
        self.evidence.append(("ok: " if ok else "FAILED: ") + text)
        self.held = self.held and ok

    def note(self, text: str) -> None:
        """Record an observation the verdict does not depend on (see the check's why)."""
        self.evidence.append("note: " + text)

    def describe(self) -> str:
        head = "held" if self.held else "did NOT hold"
        return f"{self.scenario} under {self.profile}: hypothesis {head}\n" + "\n".join(
            f"  - {e}" for e in self.evidence)


@dataclass(frozen=True)
class Evidence:
    """What one run of a scenario measured."""

    profile: str
    report: Report
    row: Row
    probes: Sequence[Probe] = ()

    @property
    def sc(self) -> ScenarioReport:
        return self.report.scenarios[0]

    def impact(self, key: str) -> TierImpact | None:
        return self.sc.impacts.get(key)

    def fault_probes(self, target: str, transport: str) -> list[Probe]:
        name = probe_name(target)
        return [p for p in self.probes if p.name == name and p.transport == transport]


Check = Callable[[Verdict, Evidence], None]
CHECKS: dict[str, tuple[Check, frozenset[str] | None]] = {}
# The library's hypotheses describe the lab as it starts by default, unless they name
# profiles themselves (the retry storm): other profiles get no verdict.
DEFAULT_PROFILE = "backoff-jitter"


def check(name: str, profiles: Sequence[str] | None = (DEFAULT_PROFILE,)
          ) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS[name] = (fn, frozenset(profiles) if profiles is not None else None)
        return fn
    return register


def evaluate(scenario: str, ev: Evidence) -> Verdict | None:
    """The verdict for `scenario` under this run, or None if nothing is claimed for it."""
    verdict = Verdict(scenario, ev.profile)
    for declared in ev.report.hypotheses:  # spec.hypotheses: every profile
        verdict.expect(declared.held, f"{declared.name} ({declared.hypothesis.window.value} "
                       f"{declared.hypothesis.bounds()}): {declared.reason}")
    fn, profiles = CHECKS.get(scenario, (None, None))
    if fn is not None and (profiles is None or ev.profile in profiles):
        fn(verdict, ev)
    return verdict if verdict.evidence else None


def _fault_window_errors(ev: Evidence) -> float | None:
    """Customers' failed share while the fault was live."""
    total, bad = customer_timeline(ev.report)
    w = ev.sc.window
    lo, hi = index_range(ev.report.times, w.injected_at, w.reverted_at or ev.sc.eval_end)
    runs = sum(total[lo:hi])
    return sum(bad[lo:hi]) / runs if runs else None


def _degraded(ev: Evidence, key: str) -> bool:
    i = ev.impact(key)
    return bool(i and i.degraded)


def _east_cascade(v: Verdict, ev: Evidence, within: str) -> None:
    """DynamoDB us-east-1's empty answer takes down its callers in seconds, and us-west-2's
    DynamoDB never notices (the flagship's claim, and the 2025 phases' first phase)."""
    for svc in ("iam", "lambda", "cloudwatch"):
        i = ev.impact(f"service:{svc}.us-east-1")
        after = i.first_impact_after_s if i else None
        v.expect(bool(i and i.degraded and after is not None and after <= 10.0),
                 f"{svc} us-east-1 degraded {after if after is None else round(after, 1)} s "
                 f"after the injection ({within}: <= 10 s)")
    v.expect(not _degraded(ev, "service:dynamodb.us-west-2"), "DynamoDB us-west-2 stayed "
             "at or above the SLO")


# --- the library ----------------------------------------------------------------------------

@check("us-east-1-dynamodb-dns")
def _flagship(v: Verdict, ev: Evidence) -> None:
    _east_cascade(v, ev, "within seconds")
    ttr = ev.row.recovery_s
    v.expect(ttr is not None and ttr < 30.0 and ev.row.recovered_by == "itself",
             f"recovery {_s(ttr)} after the DNS restore (< 30 s with backoff-jitter)")


@check("retry-storm", profiles=None)  # it names its profiles
def _retry_storm(v: Verdict, ev: Evidence) -> None:
    r = ev.row
    if ev.profile == "naive":
        v.expect(r.metastable, f"below the SLO for {r.below_slo_s:.0f} s after the restore "
                 f"without recovering by itself (>= 3x the {r.fault_s:.0f} s fault: "
                 f"{3 * r.fault_s:.0f} s)")
    elif ev.profile in ("resilient", "resilient-stale"):
        v.expect(r.recovered_by in ("itself", "unaffected") and r.recovery_s is not None
                 and r.recovery_s <= 30.0,
                 f"recovered {_s(r.recovery_s)} after the restore (within 30 s)"
                 + (" - no tier fell below the SLO" if r.recovered_by == "unaffected" else ""))


@check("partial-servfail")
def _partial_servfail(v: Verdict, ev: Evidence) -> None:
    """`dns_error` is the outcome of a logical call whose every attempt failed; clients
    that cache answers and retry a SERVFAIL (every profile but naive) rarely get there, so
    the check asks that SERVFAILs reached the lab's resolvers and were retried, and only
    notes the dns_error outcomes."""
    errors = _fault_window_errors(ev)
    v.expect(errors is not None and errors < 0.10,
             f"customer errors {errors if errors is None else f'{errors:.1%}'} while the "
             "fault was live (< 10%)")
    served = ev.sc.dns_faults_injected.get("servfail", 0.0)
    v.expect(served > 0, f"CoreDNS answered {served:.0f} lookups with SERVFAIL")
    amps = [a for a in ev.sc.amplification if a.tier.region == "us-east-1"]
    peak = max((a.peak_attempts_per_intended or 0.0 for a in amps), default=0.0)
    v.expect(peak > 1.0, f"retries rose: up to {peak:.2f} attempts per intended call on a "
             "us-east-1 dependency")
    dns = [e for e in ev.report.edges if e.dependency.region == "us-east-1"
           and e.causes.get("dns_error", 0) > 0]
    v.note("calls that failed in DNS after every attempt (dns_error) on us-east-1 edges: "
           + (", ".join(f"{e.client.name}->{e.dependency.name} {e.causes['dns_error']:.0f}"
                        for e in dns) or "none"))


@check("slow-dns")
def _slow_dns(v: Verdict, ev: Evidence) -> None:
    probes = ev.fault_probes("dynamodb.us-east-1.aws.internal", "udp")
    times = [p.seconds for p in probes if p.rcode == "NOERROR" and p.addresses]
    median = statistics.median(times) if times else None
    v.expect(median is not None and median >= 0.8,
             f"lookups of dynamodb.us-east-1 took {median if median is None else round(median, 3)}"
             f" s (median of {len(times)} probes; >= 0.8 s) and still answered")
    iam = ev.impact("service:iam.us-east-1")
    base = iam.p99_baseline_s if iam else None
    peak = iam.p99_peak_s if iam else None
    v.expect(peak is not None and peak >= 0.5 and (base is None or peak >= 3 * base),
             f"IAM p99 latency rose from {_s(base)} to {_s(peak)} (>= 0.5 s, >= 3x)")


@check("truncation")
def _truncation(v: Verdict, ev: Evidence) -> None:
    udp = ev.fault_probes("iam.aws.internal", "udp")
    tcp = ev.fault_probes("iam.aws.internal", "tcp")
    v.expect(bool(udp) and all(p.truncated for p in udp[1:] or udp),
             f"UDP answers for iam.aws.internal had the TC bit ({sum(p.truncated for p in udp)}"
             f" of {len(udp)} probes)")
    v.expect(bool(tcp) and all(p.rcode == "NOERROR" and p.addresses for p in tcp),
             f"TCP answers were whole ({sum(bool(p.addresses) for p in tcp)} of {len(tcp)} "
             "with addresses)")
    signin = [i for i in ev.sc.impacts.values() if i.tier.kind == "workflow"
              and i.tier.name == "signin"]
    v.expect(bool(signin) and not any(i.degraded for i in signin),
             "sign-in stayed at or above the SLO: " + ", ".join(
                 f"{i.tier.region} {_pct(i.availability_during)}" for i in signin))


@check("regional-failover-drill")
def _failover(v: Verdict, ev: Evidence) -> None:
    signin = ev.impact("workflow:signin.us-west-2")
    v.expect(bool(signin and signin.degraded),
             f"us-west-2 sign-in fell below the SLO (down to "
             f"{_pct(signin.min_availability if signin else None)})")
    ddb = ev.impact("service:dynamodb.us-west-2")
    v.expect(ddb is not None and not ddb.degraded,
             f"DynamoDB us-west-2 served normally ({_pct(ddb.availability_during if ddb else None)}"
             " available)")
    path = failure_path(ev.report, ev.sc, Tier("workflow", "signin", "us-west-2"))
    keys = [t.key for t in path.tiers]
    v.expect(keys[1:4] == ["service:signin.us-east-1", "service:iam.us-east-1",
                           "service:dynamodb.us-east-1"]
             and path.reaches_dns, f"path: {path.describe()}")
    why = [line for line in ev.report.summary
           if line.startswith(f"Why {Tier('workflow', 'signin', 'us-west-2').label} failed")]
    v.expect(bool(why) and "Sign-in (us-east-1) → IAM (us-east-1) → DynamoDB (us-east-1)"
             in why[0],
             f"the game-day report says why: {why[0] if why else 'no such sentence'}")


@check("lambda-loses-iam")
def _lambda_loses_iam(v: Verdict, ev: Evidence) -> None:
    def dns_errors(client: str) -> float:
        return sum(e.causes.get("dns_error", 0.0) for e in ev.report.edges
                   if e.client.name == client and e.dependency.name == "iam")
    v.expect(dns_errors("lambda") > 0, f"Lambda -> IAM calls failed in DNS "
             f"({dns_errors('lambda'):.0f} dns_error)")
    v.expect(dns_errors("cloudwatch") == 0, f"CloudWatch -> IAM calls never failed in DNS "
             f"({dns_errors('cloudwatch'):.0f} dns_error)")
    invoke = ev.impact("workflow:invoke.us-east-1")
    v.expect(bool(invoke and invoke.degraded), "invoke (us-east-1) fell below the SLO (down "
             f"to {_pct(invoke.min_availability if invoke else None)})")
    metrics = ev.impact("workflow:metrics.us-east-1")
    v.expect(metrics is not None and not metrics.degraded, "metrics (us-east-1) stayed at or "
             f"above the SLO ({_pct(metrics.availability_during if metrics else None)})")


@check("us-east-1-2025-phases")
def _phases_2025(v: Verdict, ev: Evidence) -> None:
    """The phases on the wire, in order (DNS probes), and the cascade of the first one."""
    _east_cascade(v, ev, "in the empty-record phase")
    ddb = ev.fault_probes("dynamodb.us-east-1.aws.internal", "udp")
    sts = ev.fault_probes("sts.aws.internal", "udp")
    empty = [p.at for p in ddb if p.rcode == "NOERROR" and not p.addresses]
    back = [p.at for p in ddb if p.addresses and empty and p.at > empty[0]]
    blip = [p.at for p in sts if p.rcode == "SERVFAIL"]
    v.expect(bool(empty and back and blip) and max(empty) < min(blip) and min(back) < min(blip),
             f"DNS followed the phases: dynamodb.us-east-1 empty in {len(empty)} probes, "
             f"answered again in {len(back)}, then sts SERVFAIL in {len(blip)}, after both")


def _s(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g} s"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"
