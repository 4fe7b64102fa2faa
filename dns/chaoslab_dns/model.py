"""The OutageScenario model after validation: plain frozen values, no I/O.

Every instance here has passed ``chaoslab_dns.validate``; the compiler trusts these values
to be safe Corefile tokens, so build them through ``parse_scenario``/``parse_spec`` rather
than by hand when the input comes from a user.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Clients",
    "ConcurrencyPolicy",
    "Fault",
    "FaultPhase",
    "Hypothesis",
    "LabelRequirement",
    "Mode",
    "OnError",
    "Scenario",
    "Schedule",
    "StopCondition",
    "Window",
]


class Mode(StrEnum):
    """What a client observes for a targeted name (see dns/coredns/chaoslab/README.md)."""

    NXDOMAIN = "nxdomain"  # rcode NXDOMAIN
    SERVFAIL = "servfail"  # rcode SERVFAIL
    REFUSED = "refused"  # rcode REFUSED
    NODATA = "nodata"  # NOERROR, empty answer (the October 2025 DynamoDB record)
    TIMEOUT = "timeout"  # no answer at all
    DELAY = "delay"  # the true answer, `delay` later
    TRUNCATE = "truncate"  # TC bit over UDP; the true answer over TCP
    REDIRECT = "redirect"  # A -> redirect_to; other types NODATA


@dataclass(frozen=True)
class LabelRequirement:
    """One ``matchExpressions`` entry of a Kubernetes LabelSelector."""

    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Clients:
    """``spec.faults[].clients``: whose queries a fault applies to.

    The pods selected are those in one of ``namespaces`` (every namespace when absent) AND
    matching the pod selector (every pod when absent), provided at least one of the two is
    given; the fault applies to their pod IPs plus every address in ``cidrs``. Which pods
    that is right now is I/O (the operator resolves it); this value only states the rule.
    """

    namespaces: tuple[str, ...] | None = None  # None: not given (any namespace)
    match_labels: tuple[tuple[str, str], ...] | None = None  # None: no podSelector given
    match_expressions: tuple[LabelRequirement, ...] = ()
    cidrs: tuple[str, ...] = ()  # normalised: "10.0.0.7" or "10.1.0.0/16"

    @property
    def selects_pods(self) -> bool:
        """Does the scope name pods (so the operator must resolve and watch them)?"""
        return self.namespaces is not None or self.match_labels is not None


@dataclass(frozen=True)
class Fault:
    """One entry of ``spec.faults``."""

    target: str  # lower-case DNS name, or "*.<suffix>" for names strictly below suffix
    mode: Mode
    probability: float = 1.0  # share of matching queries affected, in (0, 1]
    delay: float | None = None  # seconds; mode delay only
    redirect_to: str | None = None  # IPv4; mode redirect only
    clients: Clients | None = None  # None: every client

    @property
    def wildcard(self) -> bool:
        return self.target.startswith("*.")

    @property
    def suffix(self) -> str:
        """The name a wildcard hangs below (the target itself for an exact name)."""
        return self.target[2:] if self.wildcard else self.target


class OnError(StrEnum):
    """What a stop condition that cannot be evaluated does to an active scenario."""

    ABORT = "abort"  # fail closed: abort once it has been unevaluable for the grace period
    CONTINUE = "continue"  # keep the faults in; the StopConditionsChecked condition says why


@dataclass(frozen=True)
class StopCondition:
    """A guardrail: abort the scenario when ``query`` stays above ``above`` for ``for_seconds``."""

    query: str  # PromQL; never written into a Corefile
    above: float
    for_seconds: float


class Window(StrEnum):
    """Which evaluations of a hypothesis are judged."""

    DURING = "during"  # while the scenario's faults were live: injection to revert
    AFTER = "after"  # from the revert plus `within` until the end of the report's window


@dataclass(frozen=True)
class Hypothesis:
    """A declared expectation: every evaluation of ``query`` in ``window`` within the bounds.

    Judged after the fact by the report (``chaoslab_report.hypotheses``), never by the
    operator, which only refuses a query Prometheus cannot parse.
    """

    name: str
    query: str  # PromQL returning one number
    window: Window
    min: float | None = None  # at least one of min/max is set
    max: float | None = None
    within: float = 0.0  # seconds after the revert before `after` starts judging

    def bounds(self) -> str:
        """The bound in words, e.g. ">= 0.99" or "in [0, 5]"."""
        if self.min is not None and self.max is not None:
            return f"in [{self.min:g}, {self.max:g}]"
        return f">= {self.min:g}" if self.min is not None else f"<= {self.max:g}"


@dataclass(frozen=True)
class FaultPhase:
    """One entry of ``spec.phases``: its own faults for its own duration, after a gap.

    Offsets count from the scenario's injection, so a phase is a fixed window of it; the
    compiler writes every phase at once with absolute ``from``/``until`` and CoreDNS's
    clock switches between them.
    """

    name: str  # spec.phases[i].name, default "phase <i+1>"
    faults: tuple[Fault, ...]
    start: float  # seconds after injection: previous phase's end + startAfter
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


class ConcurrencyPolicy(StrEnum):
    """What a schedule's tick does while its previous run is still going."""

    FORBID = "Forbid"  # skip the tick (the default: runs never overlap)
    ALLOW = "Allow"  # start another run beside it


@dataclass(frozen=True)
class Schedule:
    """``spec.schedule``: start a run (a child OutageScenario) at every cron tick, in UTC."""

    cron: str  # five fields, checked by chaoslab_dns.cron
    concurrency_policy: ConcurrencyPolicy = ConcurrencyPolicy.FORBID
    suspend: bool = False  # true: no tick starts a run
    history_limit: int = 3  # finished runs kept (objects and status.runs)


@dataclass(frozen=True)
class Scenario:
    """One OutageScenario: which faults, when, for how long, and when to give up early.

    A phased scenario (``spec.phases``) has ``phases``; its ``faults`` are every phase's
    faults in order (so a fault's index is the same everywhere: compiler, client
    addresses, status) and its ``duration`` runs from injection to the last phase's end.
    """

    namespace: str
    name: str
    faults: tuple[Fault, ...]
    start_after: float  # seconds after the operator accepts it (status.acceptedAt)
    duration: float  # seconds the faults stay injected
    stop_conditions: tuple[StopCondition, ...] = ()
    on_error: OnError = OnError.ABORT  # spec.onError: unevaluable stop conditions
    hypotheses: tuple[Hypothesis, ...] = ()  # spec.hypotheses: judged by the report
    # Epoch seconds when the faults end (status.endAt). Not part of the spec: the operator
    # sets it at injection (``injected``), and the compiler writes it into every rule so the
    # plugin drops the rule by itself once it has passed.
    until: float | None = None
    phases: tuple[FaultPhase, ...] = ()  # spec.phases; () for a scenario of spec.faults
    injected_at: float | None = None  # epoch seconds; set with `until` by ``injected``
    schedule: Schedule | None = None  # spec.schedule: this object only starts runs

    @property
    def key(self) -> str:
        """``namespace/name``, as written after ``scenario`` in the Corefile."""
        return f"{self.namespace}/{self.name}"

    def injected(self, at: float) -> Scenario:
        """This scenario as injected at ``at`` (epoch seconds): it ends at ``at + duration``."""
        return dataclasses.replace(self, until=at + self.duration, injected_at=at)

    def fault_windows(self) -> tuple[tuple[float, float], ...]:
        """Per fault (same index as ``faults``): its (start, end) in seconds after injection."""
        if not self.phases:
            return tuple((0.0, self.duration) for _ in self.faults)
        return tuple((p.start, p.end) for p in self.phases for _ in p.faults)

    def fault_field(self, index: int) -> str:
        """Manifest path of fault ``index``: spec.faults[i] or spec.phases[p].faults[j]."""
        if not self.phases:
            return f"spec.faults[{index}]"
        for p, phase in enumerate(self.phases):
            if index < len(phase.faults):
                return f"spec.phases[{p}].faults[{index}]"
            index -= len(phase.faults)
        raise IndexError(index)
