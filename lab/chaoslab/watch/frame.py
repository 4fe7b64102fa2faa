"""One frame of `chaoslab watch`, rendered from plain data: a `Snapshot` and a size in, lines out.

No I/O happens here, so every layout decision (a narrow or short terminal, a Prometheus that
stopped answering, a cluster that cannot be read, no scenario at all) is a unit test with the
exact lines expected. Lines are built as styled spans and cut to the terminal's width before
any ANSI code is added, so colour never changes what fits.

Reading the view: availability sparklines are full blocks while a tier meets the SLO and
drop below that in proportion (one glance finds the dip); p99 sparklines share one log scale
from 1 ms to 10 s across tiers, so a tall bar is slow whatever the tier. A blank is a second
with no requests in the rate window (0/0 has no availability); a tier with none now is idle.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

UNICODE_BLOCKS = "▁▂▃▄▅▆▇█"
ASCII_BLOCKS = "_.:-=+*#"
TERMINAL_PHASES = frozenset({"Completed", "Aborted", "Failed"})
RECENT_SECONDS = 300.0  # ended scenarios stay listed this long
P99_SCALE = (1e-3, 10.0)  # seconds: the p99 sparkline's log scale, shared by every tier
ANSI = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "alert": "1;31"}
_ASCII = str.maketrans({"·": "|", "…": "~"})  # one character each: widths hold
PHASE_STYLE = {"Active": "alert", "Paused": "yellow", "Scheduled": "yellow", "Pending": "yellow",
               "Aborted": "red", "Failed": "red", "Completed": "dim"}


@dataclass(frozen=True)
class Scenario:
    """An OutageScenario as the cluster reports it (times are unix seconds)."""

    namespace: str
    name: str
    phase: str
    message: str = ""
    faults: tuple[str, ...] = ()  # "nxdomain dynamodb.us-east-1.aws.internal"
    start_at: float | None = None
    injected_at: float | None = None
    end_at: float | None = None
    ended_at: float | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Tier:
    """A service (or a customer workflow) in one region, with its recent history, 1 s apart."""

    kind: str  # "service" or "workflow"
    name: str
    region: str
    availability: tuple[float, ...] = ()  # 0..1, oldest first; NaN without traffic
    p99: tuple[float, ...] = ()  # seconds, oldest first; NaN without traffic

    @property
    def label(self) -> str:
        return f"{self.name} {self.region}"


@dataclass(frozen=True)
class Metrics:
    """What Prometheus answered at `at`, through the dashboards' expressions."""

    at: float
    tiers: tuple[Tier, ...] = ()
    dns_faults: tuple[float, ...] = ()  # faulted DNS answers per second, oldest first
    dns_by: tuple[tuple[str, str, float], ...] = ()  # (mode, scenario key, answers/s) now
    users: float | None = None
    customer_success: float | None = None
    breakers_open: float | None = None
    shed: float | None = None
    active: tuple[str, ...] = ()  # scenario keys the operator's metric says are injected


@dataclass(frozen=True)
class Snapshot:
    """Everything one frame shows. `metrics` may be older than `now` (Prometheus went quiet)."""

    now: float
    prometheus_url: str
    metrics: Metrics | None = None
    prometheus_error: str | None = None
    scenarios: tuple[Scenario, ...] | None = None  # None: the cluster was not read
    kubernetes_error: str | None = None
    kubeconfig: str = ""  # "" when there is none: scenarios come from the operator's metric
    slo: float = 0.99
    interval: float = 1.0
    keys: bool = False  # `q` quits (stdin is a terminal)
    notes: tuple[str, ...] = field(default_factory=tuple)


Span = tuple[str, str]  # (text, style name or "")


# -- small formatters ---------------------------------------------------------------------
def duration(seconds: float) -> str:
    """12s, 1m05s, 2h03m: compact, never negative."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def rate(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-/s"
    if value >= 1000:
        return f"{value / 1000:.1f}k/s"
    if value >= 100 or value == 0:
        return f"{value:.0f}/s"
    return f"{value:.1f}/s"


def seconds_text(value: float) -> str:
    if math.isnan(value):
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1%}"


def last(values: Sequence[float]) -> float:
    """The newest value, or NaN (no traffic right now)."""
    return values[-1] if values else math.nan


Level = Callable[[float], float]  # a value -> its block, 0 (lowest) .. 7 (full)


def sparkline(values: Sequence[float], width: int, level: Level, blocks: str) -> str:
    """The newest `width` values, one character each, right-aligned; blank where NaN."""
    shown = list(values)[-width:] if width > 0 else []
    cells = [" " if math.isnan(v) else blocks[max(0, min(7, int(level(v))))] for v in shown]
    return " " * (width - len(cells)) + "".join(cells)


def availability_level(slo: float) -> Level:
    """Full block at or above the SLO; below it, proportional, so any breach shows."""
    return lambda v: 7 if v >= slo else math.floor(max(v, 0.0) / slo * 7)


def p99_level(v: float) -> float:
    """The shared log scale P99_SCALE, so bars compare across tiers."""
    lo, hi = (math.log10(x) for x in P99_SCALE)
    return 0 if v <= 0 else round((math.log10(v) - lo) / (hi - lo) * 7)


def peak_level(values: Sequence[float]) -> Level:
    """Scaled to the largest value shown (zero stays the lowest block)."""
    peak = max((v for v in values if not math.isnan(v)), default=0.0)
    return lambda v: 0 if peak <= 0 else math.ceil(v / peak * 7)


# -- layout ---------------------------------------------------------------------------------
def fit(spans: Sequence[Span], width: int, ellipsis: str) -> list[Span]:
    """Spans cut to `width` characters, the last one replaced by `ellipsis` when cut."""
    total = sum(len(t) for t, _ in spans)
    if total <= width:
        return list(spans)
    out: list[Span] = []
    room = max(0, width - len(ellipsis))
    for text, style in spans:
        if room <= 0:
            break
        out.append((text[:room], style))
        room -= len(text[:room])
    if width >= len(ellipsis):
        out.append((ellipsis, ""))
    return out


def rstrip(spans: Sequence[Span]) -> list[Span]:
    """Spans without trailing blanks, so a coloured line ends where its text does."""
    out = list(spans)
    while out and not out[-1][0].rstrip():
        out.pop()
    if out:
        out[-1] = (out[-1][0].rstrip(), out[-1][1])
    return out


def emit(spans: Iterable[Span], color: bool) -> str:
    if not color:
        return "".join(t for t, _ in spans)
    return "".join(f"\x1b[{ANSI[s]}m{t}\x1b[0m" if s and t else t for t, s in spans)


def _clock(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M:%S UTC")


def _header(s: Snapshot) -> list[Span]:
    quit_hint = "q or Ctrl-C quits" if s.keys else "Ctrl-C quits"
    every = f"{s.interval:g}s"
    return [("DNS Chaos Lab · watch", "bold"),
            (f"  {_clock(s.now)} · every {every} · {quit_hint}", "dim")]


def _problems(s: Snapshot) -> list[list[Span]]:
    rows: list[list[Span]] = []
    if s.prometheus_error:
        rows.append([("! ", "alert"), (f"Prometheus is not answering ({s.prometheus_url}): ",
                                       "red"), (s.prometheus_error, "red")])
        rows.append([(f"  figures below are from {_clock(s.metrics.at)}, "
                      f"{duration(s.now - s.metrics.at)} old" if s.metrics
                      else "  no figures until it answers", "")])
    if s.kubernetes_error:
        rows.append([("! ", "alert"), (f"Kubernetes: {s.kubernetes_error}", "red"),
                     ("; scenarios below come from the operator's metric", "")])
    elif not s.kubeconfig:
        rows.append([("no kubeconfig: scenarios come from the operator's metric (phases "
                      "need --kubeconfig)", "dim")])
    for note in s.notes:
        rows.append([(note, "dim")])
    return rows


def phase_timing(sc: Scenario, now: float) -> str:
    if sc.phase == "Scheduled" and sc.start_at is not None:
        return f"injects in {duration(sc.start_at - now)}"
    if sc.phase == "Active" and sc.injected_at is not None:
        left = f", {duration(sc.end_at - now)} left" if sc.end_at is not None else ""
        return f"{duration(now - sc.injected_at)} in{left}"
    if sc.phase == "Paused":
        return f"paused, ends in {duration(sc.end_at - now)}" if sc.end_at else "paused"
    if sc.phase in TERMINAL_PHASES:
        return f"ended {duration(now - sc.ended_at)} ago" if sc.ended_at else "ended"
    if sc.phase == "Pending":
        return "waiting for the operator"
    return ""


def _faults_text(faults: Sequence[str]) -> str:
    if not faults:
        return ""
    more = f" +{len(faults) - 1} more" if len(faults) > 1 else ""
    return faults[0] + more


def shown_scenarios(scenarios: Sequence[Scenario], now: float
                    ) -> tuple[list[Scenario], int]:
    """Live ones and those ended in the last RECENT_SECONDS; and how many older were hidden."""
    shown, hidden = [], 0
    for sc in scenarios:
        ended = sc.phase in TERMINAL_PHASES
        if ended and (sc.ended_at is None or now - sc.ended_at > RECENT_SECONDS):
            hidden += 1
        else:
            shown.append(sc)
    live_first = sorted(shown, key=lambda sc: (sc.phase in TERMINAL_PHASES, sc.key))
    return live_first, hidden


def _scenario_rows(s: Snapshot) -> list[list[Span]]:
    dns_rates: dict[str, float] = {}
    for _, key, r in (s.metrics.dns_by if s.metrics else ()):
        dns_rates[key] = dns_rates.get(key, 0.0) + r
    if s.scenarios is not None and not s.kubernetes_error:
        scenarios, hidden = shown_scenarios(s.scenarios, s.now)
    elif s.metrics is None:
        return [[("Scenarios", "bold"), ("  unknown: neither the cluster nor Prometheus "
                                         "answered", "red")]]
    else:  # only the operator's metric: which ones are injected, not their phases
        active = s.metrics.active
        scenarios, hidden = [Scenario(*k.split("/", 1), phase="Active") for k in active], 0
    title: list[Span] = [("Scenarios", "bold")]
    if not scenarios:
        return [[*title, ("  none live · start one with kubectl apply -f scenarios/FILE.yaml",
                          "dim")]] + ([[(f"  {hidden} ended earlier "
                                         "(kubectl get outagescenarios -A)", "dim")]]
                                      if hidden else [])
    rows = [title]
    keyw = max(len(sc.key) for sc in scenarios)
    for sc in scenarios:
        ended = sc.phase in TERMINAL_PHASES
        dns = f"DNS {rate(dns_rates.get(sc.key, 0.0))}" if s.metrics and not ended else ""
        row: list[Span] = [(f"  {sc.key:<{keyw}}  ", "dim" if ended else ""),
                           (f"{sc.phase:<9}", PHASE_STYLE.get(sc.phase, "")),
                           (f"  {phase_timing(sc, s.now):<22}", "dim" if ended else "")]
        if dns:
            row.append((f"  {dns:<12}", "red" if dns_rates.get(sc.key) else ""))
        if sc.faults:
            row.append((f"  {_faults_text(sc.faults)}", "dim"))
        rows.append(row)
        if sc.message and sc.phase in {"Aborted", "Failed"}:
            rows.append([(f"  {'':<{keyw}}  why: {sc.message}", "red")])
    if hidden:
        rows.append([(f"  + {hidden} ended earlier (kubectl get outagescenarios -A)", "dim")])
    return rows


def _summary_rows(s: Snapshot, width: int, blocks: str) -> list[list[Span]]:
    m = s.metrics
    if m is None:
        return []
    now = last(m.dns_faults)
    by_mode: dict[str, float] = {}
    for mode, _, r in m.dns_by:
        by_mode[mode] = by_mode.get(mode, 0.0) + r
    modes = ", ".join(f"{mode} {rate(r)}" for mode, r in sorted(by_mode.items()) if r > 0)
    spark_w = min(len(m.dns_faults), max(0, width - 40))
    peak = max((v for v in m.dns_faults if not math.isnan(v)), default=0.0)
    if not m.dns_faults:  # no series: CoreDNS has faulted nothing since it started
        return [[("DNS faults answered ", "bold"), ("     none yet", "dim")],
                _customers(m)]
    dns: list[Span] = [("DNS faults answered ", "bold"),
                       (f"{rate(None if math.isnan(now) else now):>9}", "red" if now else "")]
    if spark_w >= 4:
        dns.append((f"  {sparkline(m.dns_faults, spark_w, peak_level(m.dns_faults), blocks)}",
                    "red" if peak else "dim"))
    if modes:
        dns.append((f"  {modes}", ""))
    return [dns, _customers(m)]


def _customers(m: Metrics) -> list[Span]:
    customers: list[Span] = [("Customers ", "bold")]
    parts = []
    if m.users is not None:
        parts.append(f"{m.users:.0f} users")
    if m.customer_success is not None:
        parts.append(f"success {percent(m.customer_success)}")
    if m.breakers_open is not None:
        parts.append(f"breakers open {m.breakers_open:.0f}")
    if m.shed is not None:
        parts.append(f"shed {rate(m.shed)}")
    customers.append(("  " + " · ".join(parts) if parts else "  no load figures", ""))
    return customers


@dataclass(frozen=True)
class _Columns:
    name: int
    spark: int  # 0: no sparklines
    p99: bool


def columns(tiers: Sequence[Tier], width: int, history: int) -> _Columns:
    """Widest layout that fits: sparklines, then numbers only, then availability only."""
    name = min(24, max([12, *(len(t.label) for t in tiers)]))
    fixed = name + 3 + 7 + 9 + 2 + 8  # name cell, availability now, flag, gap, p99 now
    spark = min(history, (width - fixed) // 2)
    if spark >= 4:
        return _Columns(name, spark, True)
    return _Columns(name, 0, width >= fixed + 4)  # "p99 " instead of its sparkline


def _tier_row(t: Tier, c: _Columns, slo: float, blocks: str) -> list[Span]:
    a, p = last(t.availability), last(t.p99)
    degraded = not math.isnan(a) and a < slo
    flag = " DEGRADED" if degraded else (" idle" if math.isnan(a) else "")
    tone = "alert" if degraded else ("dim" if math.isnan(a) else "green")
    row: list[Span] = [(f"  {t.label:<{c.name}} ", "")]
    if c.spark:
        row.append((sparkline(t.availability, c.spark, availability_level(slo), blocks),
                    "red" if degraded else "green"))
    row += [(f"{percent(a):>7}", tone), (f"{flag:<9}", tone)]
    if c.p99:
        row.append(("  ", ""))
        if c.spark:
            row.append((sparkline(t.p99, c.spark, p99_level, blocks), "yellow"))
        else:
            row.append(("p99 ", "dim"))
        row.append((f"{seconds_text(p):>8}", ""))
    return row


def _tier_header(title: str, what: str, c: _Columns) -> list[Span]:
    if not c.spark:
        return [(f"{title:<{c.name + 3}}", "bold"), (f"{'now':>7}", "dim")]

    def label(*choices: str) -> str:
        return next((t for t in choices if len(t) <= c.spark), choices[-1][:c.spark])

    n = c.spark
    avail = label(f"{what} (last {n} s)", f"{what} ({n} s)", f"{what[:5]} ({n} s)", what,
                  what[:5])
    p99 = label("p99, log 1 ms..10 s", "p99 (log)", "p99")
    return [(f"{title:<{c.name + 3}}", "bold"), (f"{avail:<{n}}", "dim"),
            (f"{'now':>7}{'':9}  ", "dim"), (f"{p99:<{n}}{'now':>8}", "dim")]


def _tier_rows(s: Snapshot, width: int, room: int, history: int, blocks: str,
               ) -> list[list[Span]]:
    if s.metrics is None:
        return []
    tiers = s.metrics.tiers
    if not tiers:
        return [[("Tiers", "bold"), ("  no data yet: Prometheus has no chaoslab_service_* "
                                     "samples (is the lab scraped?)", "dim")]]
    c = columns(tiers, width, history)
    groups = [("Customer workflows", "success", [t for t in tiers if t.kind == "workflow"]),
              ("Services", "availability", [t for t in tiers if t.kind != "workflow"])]
    groups = [g for g in groups if g[2]]
    keep = _choose(tiers, room, s.slo)
    rows: list[list[Span]] = []
    for title, what, members in groups:
        kept = [t for t in members if id(t) in keep]
        if kept:
            rows.append(_tier_header(title, what, c))
            rows += [_tier_row(t, c, s.slo, blocks) for t in kept]
    hidden = len(tiers) - len(keep)
    if hidden:
        rows.append([(f"  … {hidden} more tiers not shown (a taller terminal shows them)",
                      "dim")])
    return rows


def _choose(tiers: Sequence[Tier], room: int, slo: float) -> set[int]:
    """The tiers that fit in `room` rows with their group headers and the '…' line:
    the degraded first, then the others in order."""
    order = [t for t in tiers if last(t.availability) < slo]
    order += [t for t in tiers if not last(t.availability) < slo]
    kept: list[Tier] = []
    for t in order:
        trial = [*kept, t]
        groups = len({x.kind == "workflow" for x in trial})
        if len(trial) + groups + (len(trial) < len(order)) > room:
            break
        kept = trial
    return {id(t) for t in kept}


def render(s: Snapshot, width: int = 100, height: int = 40, *, color: bool = False,
           unicode: bool = True, history: int = 60) -> list[str]:
    """The frame's lines, none wider than `width`, at most `height` of them."""
    width, height = max(width, 10), max(height, 1)
    blocks = UNICODE_BLOCKS if unicode else ASCII_BLOCKS
    ellipsis = "…" if unicode else "~"
    top = [_header(s), *_problems(s), *_scenario_rows(s), *_summary_rows(s, width, blocks)]
    spans = top + _tier_rows(s, width, height - len(top), history, blocks)
    if len(spans) > height:
        more = len(spans) - height + 1
        spans = [*spans[:height - 1],
                 [(f"… {more} more lines (a taller terminal shows them)", "dim")]]
    lines = [emit(rstrip(fit(row, width, ellipsis)), color) for row in spans[:height]]
    if unicode:
        return lines
    return [line.translate(_ASCII).encode("ascii", "replace").decode() for line in lines]
