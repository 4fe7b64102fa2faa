"""The report's data: what `analyse` finds and `write` renders, and nothing that computes it.

Every module of the report (the analysis, the failure paths, the summary, the plots, the
HTML) and `chaoslab experiment` read these classes; keeping them here, beside no logic but
their own JSON form, is what lets each of those import the model and never one another
(tests/test_layers.py fails on an import cycle inside the report). A `Tier` is one thing
whose health the report follows; the findings per scenario are a `ScenarioReport`, the
whole window a `Report`. Vocabulary and methods: `chaoslab_report.analysis`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chaoslab_report.fmt import finite_or_none, rounded
from chaoslab_report.prom import Series
from chaoslab_report.timeline import ScenarioWindow

if TYPE_CHECKING:
    from chaoslab_report.hypotheses import Verdict

SCHEMA = "chaoslab.report/v1"
SERVICE_NAMES = {"dynamodb": "DynamoDB", "iam": "IAM", "sts": "STS", "signin": "Sign-in",
                 "kms": "KMS", "s3": "S3",
                 "lambda": "Lambda", "cloudwatch": "CloudWatch", "ec2": "EC2"}
WORKFLOW_NAMES = {"signin": "sign-in", "invoke": "invoke", "metrics": "metrics",
                  "items": "items", "launch": "EC2 launch"}
MIN_BASELINE_S = 5.0  # a shorter clean stretch says too little to be a baseline


@dataclass
class Collected:
    """Raw range-query results, keyed by query name (see queries.QUERIES)."""

    start: float
    end: float
    step: float
    series: dict[str, list[Series]]


@dataclass(frozen=True, order=True)
class Tier:
    kind: str  # "service" | "workflow"
    name: str  # service name ("iam") or workflow name ("signin")
    region: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}.{self.region}"

    @property
    def label(self) -> str:
        if self.kind == "service":
            return f"{SERVICE_NAMES.get(self.name, self.name)} ({self.region})"
        return f"customers: {WORKFLOW_NAMES.get(self.name, self.name)} ({self.region})"

    @property
    def short(self) -> str:
        """Label for the dependency graph's nodes."""
        if self.kind == "service":
            return f"{SERVICE_NAMES.get(self.name, self.name)}\n{self.region}"
        return f"{WORKFLOW_NAMES.get(self.name, self.name)}\n{self.region}"


@dataclass
class TierImpact:
    """What one scenario did to one tier."""

    tier: Tier
    degraded: bool
    first_impact_at: float | None = None
    first_impact_after_s: float | None = None
    min_availability: float | None = None
    availability_during: float | None = None
    baseline_availability: float | None = None
    seconds_below_slo: float = 0.0
    requests_during: float = 0.0
    failed_during: float = 0.0
    recovered_at: float | None = None
    recovery_after_revert_s: float | None = None
    burn_rate: float | None = None  # error ratio / (1 - SLO) over the scenario
    budget_month_used: float | None = None  # share of a 30-day budget at baseline traffic
    p99_baseline_s: float | None = None
    p99_peak_s: float | None = None
    # other scenarios (NS/NAME) whose impact window was open while this tier was below the SLO
    shared_with: list[str] = field(default_factory=list)
    # below the SLO in the last interval before the injection (another outage's, or noise):
    # its first impact is then no effect of this scenario's faults alone
    degraded_at_injection: bool = False

    def to_json(self) -> dict[str, Any]:
        d = {k: rounded(v) for k, v in self.__dict__.items() if k not in ("tier", "shared_with")}
        d["shared_with"] = list(self.shared_with)
        d["tier"] = self.tier.key
        d["label"] = self.tier.label
        return d


@dataclass(frozen=True)
class Stretch:
    """[start, end) in unix seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "seconds": rounded(self.seconds)}


@dataclass
class Amplification:
    """Retry amplification at one dependency tier over one scenario."""

    tier: Tier
    intended: float  # logical calls its callers meant to make (scenario window)
    attempts: float  # attempts they made, retries included
    received: float  # requests the tier received (customers' direct calls included)
    baseline_received_per_intended: float | None
    attempts_per_intended: float | None
    received_per_intended: float | None
    peak_attempts_per_intended: float | None
    peak_received_per_intended: float | None
    peak_received_at: float | None
    # Front doors only: what the tier received beyond its service callers' attempts, i.e.
    # customers' direct calls, per second over the scenario and over the baseline.
    customer_calls_per_s: float | None = None
    baseline_customer_calls_per_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        d = {k: rounded(v) for k, v in self.__dict__.items() if k != "tier"}
        d["tier"] = self.tier.key
        d["label"] = self.tier.label
        return d


@dataclass
class EdgeAmplification:
    """Retry amplification on one service-to-service edge over one scenario."""

    client: Tier
    dependency: Tier
    intended: float  # logical calls the client meant to make
    attempts: float  # attempts it made, retries included
    attempts_per_intended: float | None
    baseline_attempts_per_intended: float | None
    peak_attempts_per_intended: float | None  # rolling `width` bins
    peak_at: float | None

    @property
    def surge(self) -> float:
        """Peak over the baseline ratio (1 when no baseline): how much worse than normal."""
        return (self.peak_attempts_per_intended or 0.0) / (
            self.baseline_attempts_per_intended or 1.0)

    def to_json(self) -> dict[str, Any]:
        d = {k: rounded(v) for k, v in self.__dict__.items()
             if k not in ("client", "dependency")}
        d.update(client=self.client.key, dependency=self.dependency.key,
                 label=f"{self.client.label} → {self.dependency.label}")
        return d


@dataclass
class Edge:
    """A dependency edge seen in the data: `client` tier calls `dependency` tier."""

    client: Tier
    dependency: Tier
    calls: float = 0.0
    failed: float = 0.0
    causes: dict[str, float] = field(default_factory=dict)  # over the whole report
    calls_bins: list[float] = field(default_factory=list, repr=False)
    failed_bins: list[float] = field(default_factory=list, repr=False)
    cause_bins: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def add(self, inc: Sequence[float], failed: bool, cause: str = "") -> None:
        if not self.calls_bins:
            self.calls_bins, self.failed_bins = [0.0] * len(inc), [0.0] * len(inc)
        total = sum(inc)
        self.calls += total
        for i, x in enumerate(inc):
            self.calls_bins[i] += x
            if failed:
                self.failed_bins[i] += x
        if failed:
            self.failed += total
            self.causes[cause] = self.causes.get(cause, 0.0) + total
            bins = self.cause_bins.setdefault(cause, [0.0] * len(inc))
            for i, x in enumerate(inc):
                bins[i] += x

    @property
    def failure_ratio(self) -> float | None:
        return self.failed / self.calls if self.calls else None

    def failure_ratio_between(self, lo: int, hi: int) -> float | None:
        calls = sum(self.calls_bins[lo:hi])
        return sum(self.failed_bins[lo:hi]) / calls if calls else None

    def causes_between(self, lo: int, hi: int) -> dict[str, float]:
        """Failed calls by cause in bins [lo, hi): one scenario's, not the whole report's."""
        return {k: sum(b[lo:hi]) for k, b in self.cause_bins.items() if sum(b[lo:hi]) > 0}

    def to_json(self) -> dict[str, Any]:
        return {"client": self.client.key, "dependency": self.dependency.key,
                "calls": rounded(self.calls), "failed": rounded(self.failed),
                "failure_ratio": rounded(self.failure_ratio),
                "causes": {k: rounded(v) for k, v in sorted(self.causes.items())}}


@dataclass(frozen=True)
class Hop:
    edge: Edge
    failed: float  # failed calls in the scenario window
    failed_share: float  # of the edge's calls in that window
    outcomes: tuple[str, ...]  # failure outcomes seen on the edge, most frequent first

    @property
    def in_dns(self) -> bool:
        return "dns_error" in self.outcomes


@dataclass(frozen=True)
class FailurePath:
    start: Tier
    hops: tuple[Hop, ...]

    @property
    def tiers(self) -> list[Tier]:
        return [self.start, *(h.edge.dependency for h in self.hops)]

    @property
    def reaches_dns(self) -> bool:
        return bool(self.hops) and self.hops[-1].in_dns

    def chain(self) -> str:
        return " → ".join(t.label for t in self.tiers)

    def describe(self) -> str:
        """`customers: sign-in (us-west-2) → Sign-in (us-east-1) → IAM (us-east-1) →
        DynamoDB (us-east-1):
        dns_error, breaker_open`."""
        text = self.chain()
        if self.hops:
            text += ": " + ", ".join(self.hops[-1].outcomes)
        return text

    def to_json(self) -> dict[str, object]:
        return {"tiers": [t.key for t in self.tiers], "text": self.describe(),
                "reaches_dns": self.reaches_dns,
                "hops": [{"client": h.edge.client.key, "dependency": h.edge.dependency.key,
                          "failed": round(h.failed, 1), "failed_share": round(h.failed_share, 4),
                          "outcomes": list(h.outcomes)} for h in self.hops]}


@dataclass
class PhaseReport:
    """One phase of a phased scenario as a window of its own: when it ran, its faults, what
    CoreDNS answered with them and how the customers fared meanwhile."""

    name: str
    start: float
    end: float
    faults: tuple[Any, ...]  # timeline.Fault
    dns_faults_injected: dict[str, float]  # mode -> faulted answers within the phase
    customers: dict[str, float | None]  # workflow tier key -> its success share in the phase

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "start": self.start, "end": self.end,
                "faults": [{"target": f.target, "mode": f.mode, "probability": f.probability}
                           for f in self.faults],
                "dns_faults_injected": {k: rounded(v) for k, v in
                                        self.dns_faults_injected.items()},
                "customers": {k: rounded(v) for k, v in sorted(self.customers.items())}}


@dataclass(frozen=True)
class Mitigation:
    """A mitigation switched on during a scenario's impact window, read off its own gauge:
    DWFM's incoming-work throttle (`chaoslab_service_dwfm_throttle` 0 -> 1), the only way
    out of EC2's congestive collapse once DynamoDB is back."""

    tier: Tier  # the service it was switched on for
    what: str  # what people call it, for the summary
    at: float  # unix seconds: the start of the scrape interval in which it went on

    def to_json(self) -> dict[str, Any]:
        return {"tier": self.tier.key, "what": self.what, "at": self.at}


@dataclass
class ScenarioReport:
    """What one scenario did: its impact per tier, its retries, its failure paths."""

    window: ScenarioWindow
    eval_end: float  # the impact window's end: revert + hold, or its tiers back + hold
    impacts: dict[str, TierImpact]  # tier key -> impact
    amplification: list[Amplification]
    dns_faults_injected: dict[str, float]  # mode -> queries answered with the fault
    time_to_recovery_s: float | None  # slowest degraded tier; None if one never recovered
    baseline: Stretch | None = None  # the nearest clean stretch before the injection
    tiers_back_at: float | None = None  # revert, or when the last tier it hit was back
    edge_amplification: list[EdgeAmplification] = field(default_factory=list)
    # When CoreDNS answered this scenario's first fault (the plugin's own counter), to within
    # one scrape: the injection the data plane performed, whatever path the Corefile took.
    dns_effective_at: float | None = None
    # Why each degraded customer workflow failed (`paths.customer_paths`), found by `analyse`.
    failure_paths: list[FailurePath] = field(default_factory=list)
    # A phased scenario (spec.phases): each phase that ran, as a window of its own.
    phases: list[PhaseReport] = field(default_factory=list)
    # Mitigations switched on between the injection and the end of the impact window.
    mitigations: list[Mitigation] = field(default_factory=list)

    @property
    def dns_lag_s(self) -> float | None:
        """From the operator's injection to CoreDNS's first faulted answer."""
        if self.dns_effective_at is None:
            return None
        return self.dns_effective_at - self.window.injected_at

    def after_dns(self, i: TierImpact) -> float | None:
        """A tier's time to impact counted from CoreDNS's first faulted answer."""
        if i.first_impact_at is None or self.dns_effective_at is None:
            return None
        return max(0.0, i.first_impact_at - self.dns_effective_at)

    def shared(self) -> dict[str, list[str]]:
        """Degraded tier key -> the other scenarios it is shared with."""
        return {i.tier.key: i.shared_with for i in self.degraded() if i.shared_with}

    def degraded(self) -> list[TierImpact]:
        hit = [i for i in self.impacts.values() if i.degraded]
        return sorted(hit, key=lambda i: (i.first_impact_at or math.inf, i.tier))

    def not_degraded(self) -> list[TierImpact]:
        return sorted((i for i in self.impacts.values() if not i.degraded), key=lambda i: i.tier)

    def to_json(self) -> dict[str, Any]:
        w = self.window
        shared = self.shared()
        return {
            "namespace": w.namespace, "name": w.name, "phase": w.phase, "message": w.message,
            "reason": w.reason, "deleted": w.deleted, "source": w.source,
            "stop_conditions": [{"query": c.query, "above": c.above, "for": c.for_}
                                for c in w.stop_conditions],
            "injected_at": w.injected_at, "reverted_at": w.reverted_at,
            "faults": [{"target": f.target, "mode": f.mode, "probability": f.probability}
                       for f in w.faults],
            "evaluated_until": self.eval_end,
            "impact_window": {"start": w.injected_at, "end": self.eval_end,
                              "tiers_back_at": self.tiers_back_at},
            "baseline": self.baseline.to_json() if self.baseline else None,
            "baseline_note": baseline_note(self),
            "dns_faults_injected": {k: rounded(v) for k, v in self.dns_faults_injected.items()},
            "dns_effective_at": self.dns_effective_at,
            "dns_lag_s": rounded(self.dns_lag_s),
            "first_impact": [{"tier": i.tier.key, "at": i.first_impact_at,
                              "after_injection_s": rounded(i.first_impact_after_s),
                              "after_dns_fault_s": rounded(self.after_dns(i))}
                             for i in self.degraded()],
            "blast_radius": {
                "degraded": [i.tier.key for i in self.degraded()],
                "own": [i.tier.key for i in self.degraded() if i.tier.key not in shared],
                "shared": shared,
                "not_degraded": [i.tier.key for i in self.not_degraded()],
            },
            "time_to_recovery_s": rounded(self.time_to_recovery_s),
            "tiers": {k: v.to_json() for k, v in sorted(self.impacts.items())},
            "amplification": [a.to_json() for a in self.amplification],
            "amplification_edges": [a.to_json() for a in self.edge_amplification],
            "failure_paths": [p.to_json() for p in self.failure_paths],
            "phases": [p.to_json() for p in self.phases],
            "mitigations": [m.to_json() for m in self.mitigations],
        }


def baseline_note(sc: ScenarioReport) -> str:
    """What the baseline figures compare with, in words (report.json and the HTML)."""
    b = sc.baseline
    if b is None:
        return ("no clean stretch before the injection (another scenario was live or its "
                f"tiers were not back, or the data starts later, for at least "
                f"{MIN_BASELINE_S:g} s): no baseline")
    gap = sc.window.injected_at - b.end
    if gap < 1e-6:
        return f"the {b.seconds:.0f} s clean stretch just before the injection"
    return (f"a {b.seconds:.0f} s clean stretch ending {gap:.0f} s before the injection "
            "(other scenarios were live or their tiers recovering in between)")


@dataclass
class Report:
    """A whole report window: the timelines every plot draws and each scenario's findings."""

    prometheus: str
    start: float
    end: float
    step: float
    slo: float
    hold: float
    times: list[float]  # bin start times, shared by every timeline below
    tiers: list[Tier]
    availability: dict[Tier, list[float]]
    requests: dict[Tier, list[float]]  # events per bin (rate * step)
    p50: dict[Tier, list[float]]
    p99: dict[Tier, list[float]]
    edges: list[Edge]
    scenarios: list[ScenarioReport]
    # dependency -> (attempts, received) per intended call, rolling 5 bins
    amplification_series: dict[Tier, tuple[list[float], list[float]]]
    # front door -> customers' direct calls per second (received beyond services' attempts)
    customer_calls: dict[Tier, list[float]] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    hypotheses: list[Verdict] = field(default_factory=list)  # spec.hypotheses, judged
    files: dict[str, str] = field(default_factory=dict)  # kind -> file name in out_dir
    out_dir: str = ""
    generated_at: float = field(default_factory=time.time)

    def tier(self, key: str) -> Tier:
        return next(t for t in self.tiers if t.key == key)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "generated_at": self.generated_at,
            "prometheus": self.prometheus,
            "window": {"start": self.start, "end": self.end, "step_s": self.step},
            "slo": self.slo,
            "hold_s": self.hold,
            "summary": self.summary,
            "scenarios": [s.to_json() for s in self.scenarios],
            "hypotheses": [v.to_json() for v in self.hypotheses],
            "tiers": [{"tier": t.key, "kind": t.kind, "name": t.name, "region": t.region,
                       "label": t.label} for t in self.tiers],
            "edges": [e.to_json() for e in self.edges],
            "timelines": {
                "times": self.times,
                "availability": {t.key: finite_or_none(v)
                                 for t, v in self.availability.items()},
                "requests_per_s": {t.key: [rounded(x / self.step) for x in v]
                                   for t, v in self.requests.items()},
                "p50_s": {t.key: finite_or_none(v) for t, v in self.p50.items()},
                "p99_s": {t.key: finite_or_none(v) for t, v in self.p99.items()},
            },
            "files": self.files,
        }
