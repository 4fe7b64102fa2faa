"""report.html: one self-contained file (PNGs inline as base64, CSS inline, no script), so it
can be mailed, attached to a ticket or opened offline years later and look the same."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chaoslab_report.fmt import DASH, X, clock, duration, pct
from chaoslab_report.model import baseline_note

if TYPE_CHECKING:
    from chaoslab_report.model import Report, ScenarioReport

NONE = DASH  # an empty table cell

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
max-width:1180px;color:#1b1f24;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid
#d0d7de;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.meta{color:#57606a;font-size:12px}
.summary{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:10px 16px}
.summary li{margin:4px 0}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 12px;width:100%}
th,td{border:1px solid #d0d7de;padding:3px 7px;text-align:right}
th{background:#f6f8fa}td:first-child,th:first-child{text-align:left}
tr.bad td:first-child{border-left:4px solid #cf222e}tr.ok td:first-child{border-left:4px
solid #2da44e}
img{max-width:100%;border:1px solid #d0d7de;border-radius:4px;margin:6px 0}
code{background:#f6f8fa;padding:0 3px;border-radius:3px}
"""


def _e(x: object) -> str:
    return html.escape(str(x))


def _table(head: Sequence[str], rows: Iterable[tuple[str, Sequence[object]]]) -> str:
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for cls, cells in rows:
        out.append(f'<tr class="{cls}">' + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _secs(x: float | None) -> str:
    return NONE if x is None else f"{x:.1f} s"


def _ms(x: float | None) -> str:
    return NONE if x is None else f"{x * 1000:.0f} ms"


def _scenario(sc: ScenarioReport) -> str:
    w = sc.window
    faults = ", ".join(f"{f.target} → {f.mode}" + (f" (p={f.probability:g})"
                                                    if f.probability < 1 else "")
                       for f in w.faults) or "(not recorded)"
    rows = [("", ["phase", (w.phase or "?") + (" (deleted with kubectl delete)"
                                               if w.deleted else "")])]
    if w.message:
        rows.append(("bad" if w.phase in ("Aborted", "Failed") else "",
                     ["why" if w.phase in ("Aborted", "Failed") else "message", w.message]))
    rows += [("", ["stop condition", c.describe()]) for c in w.stop_conditions]
    back = sc.tiers_back_at
    facts = _table(["", ""], [
        *rows,
        ("", ["faults", faults]),
        ("", ["injected", f"{clock(w.injected_at)} UTC"]),
        ("", ["reverted", f"{clock(w.reverted_at)} UTC" if w.reverted_at else "not yet"]),
        ("", ["impact window", f"{clock(w.injected_at)}{DASH}{clock(sc.eval_end)} UTC "
              + (f"(DNS restored and the tiers it hit back by {clock(back)}, then the hold)"
                 if back is not None else "(to the end of the data)")]),
        ("", ["baseline", baseline_note(sc)]),
        ("", ["DNS answers faulted", ", ".join(f"{n:,.0f} {m}" for m, n in
                                               sorted(sc.dns_faults_injected.items())) or NONE]),
        ("", ["time to recovery (slowest tier)",
              duration(sc.time_to_recovery_s) if sc.time_to_recovery_s is not None
              else ("not recovered" if sc.degraded() else NONE)]),
    ])
    impacts = sorted(sc.impacts.values(),
                     key=lambda i: (not i.degraded, i.first_impact_at or 0.0, i.tier))
    tiers = _table(
        ["tier", "baseline", "worst", "during", "first impact (after injection)", "below SLO",
         "recovered (after revert)", "shared with", "failed / calls", "burn rate",
         "p99 before", "p99 peak"],
        [("bad" if i.degraded else "ok", [
            i.tier.label, pct(i.baseline_availability), pct(i.min_availability),
            pct(i.availability_during),
            NONE if i.first_impact_after_s is None else (
                "already below at injection" if i.degraded_at_injection
                else f"+{i.first_impact_after_s:.1f} s"),
            _secs(i.seconds_below_slo) if i.degraded else NONE,
            _secs(i.recovery_after_revert_s) if i.degraded else NONE,
            ", ".join(i.shared_with) or NONE,
            f"{i.failed_during:,.0f} / {i.requests_during:,.0f}",
            NONE if i.burn_rate is None else f"{i.burn_rate:.1f}{X}",
            _ms(i.p99_baseline_s), _ms(i.p99_peak_s)]) for i in impacts])
    edges = _table(
        ["caller → dependency", "intended calls", "attempts", "attempts ÷ intended",
         "before the fault", "peak attempts ÷ intended"],
        [("", [f"{a.client.label} → {a.dependency.label}", f"{a.intended:,.0f}",
               f"{a.attempts:,.0f}", _ratio(a.attempts_per_intended),
               _ratio(a.baseline_attempts_per_intended),
               _ratio(a.peak_attempts_per_intended)
               + (f" at {clock(a.peak_at)}" if a.peak_at else "")])
         for a in sc.edge_amplification])
    amps = _table(
        ["dependency", "intended calls", "attempts", "received", "attempts ÷ intended",
         "customers' direct calls/s", "before the fault"],
        [("", [a.tier.label, f"{a.intended:,.0f}", f"{a.attempts:,.0f}", f"{a.received:,.0f}",
               _ratio(a.attempts_per_intended),
               NONE if a.customer_calls_per_s is None else f"{a.customer_calls_per_s:,.1f}",
               NONE if a.baseline_customer_calls_per_s is None
               else f"{a.baseline_customer_calls_per_s:,.1f}"])
         for a in sc.amplification])
    return (f"<h2>Scenario {_e(w.key)}</h2>{facts}{_phases(sc)}<h3>Tiers</h3>{tiers}"
            f"<h3>Retry amplification, service to service</h3>{edges}"
            f"<h3>What each dependency received (customers' direct calls apart)</h3>{amps}")


def _phases(sc: ScenarioReport) -> str:
    """A phased scenario: one row per phase that ran, each its own window."""
    if not sc.phases:
        return ""
    workflows = sorted({k for p in sc.phases for k in p.customers})
    head = ["phase", "window (UTC)", "faults", "DNS answers faulted",
            *(f"customers: {k.removeprefix('workflow:')}" for k in workflows)]
    rows = []
    for p in sc.phases:
        faults = ", ".join(f"{f.target} → {f.mode}" + (f" (p={f.probability:g})"
                                                        if f.probability < 1 else "")
                           for f in p.faults) or NONE
        dns = ", ".join(f"{n:,.0f} {m}" for m, n in sorted(p.dns_faults_injected.items()))
        rows.append(("", [p.name, f"{clock(p.start)}{DASH}{clock(p.end)}", faults, dns or NONE,
                          *(pct(p.customers.get(k)) for k in workflows)]))
    return f"<h3>Phases</h3>{_table(head, rows)}"


def _hypotheses(report: Report) -> str:
    """Declared hypotheses (spec.hypotheses): held or failed, the values seen, the evidence."""
    if not report.hypotheses:
        return ""
    held = sum(v.held for v in report.hypotheses)
    rows = [("ok" if v.held else "bad", [
        f"{v.scenario}: {v.name}", "held" if v.held else "FAILED",
        f"{v.hypothesis.window.value} {v.hypothesis.bounds()}",
        NONE if v.min_seen is None else f"{v.min_seen:.4g}",
        NONE if v.max_seen is None else f"{v.max_seen:.4g}",
        v.reason + ("; " + ", ".join(v.evidence()) if v.evidence() else "")])
        for v in report.hypotheses]
    return (f"<h2>Hypotheses: {held} held, {len(report.hypotheses) - held} failed</h2>"
            + _table(["hypothesis", "verdict", "bound", "min seen", "max seen",
                      "why (violating evaluations)"], rows)
            + "<p class=\"meta\">queries: " + "; ".join(
                f"<code>{_e(v.hypothesis.query)}</code>" for v in report.hypotheses) + "</p>")


def _ratio(x: float | None) -> str:
    return NONE if x is None else f"{x:.2f}{X}"


def page(report: Report, out_dir: Path) -> str:
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
        "<title>Game-day report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>DNS Chaos Lab — game-day report</h1>",
        f'<p class="meta">{clock(report.start)}{DASH}{clock(report.end)} UTC · SLO '
        f"{report.slo:.2%} · recovery = availability ≥ SLO for {report.hold:g} s · "
        f"{report.step:g} s resolution · Prometheus <code>{_e(report.prometheus)}</code> · "
        'machine-readable: <a href="report.json">report.json</a></p>',
        '<div class="summary"><ul>',
        *(f"<li>{_e(line)}</li>" for line in report.summary),
        "</ul></div>",
        _hypotheses(report),
        "<h2>Timeline</h2>",
        _img(out_dir / report.files["timeline"], "availability and latency timeline"),
        "<h2>Dependency graph</h2>",
        _img(out_dir / report.files["dependency_graph"], "dependency graph coloured by impact"),
    ]
    parts.extend(_scenario(sc) for sc in report.scenarios)
    parts += [
        "<h2>Amplification over time</h2>",
        _img(out_dir / report.files["amplification"], "retry amplification"),
        "<h2>Dependency edges (whole window)</h2>",
        _table(["caller", "dependency", "calls", "failed", "failed share", "causes"],
               [("bad" if (e.failure_ratio or 0) > 1 - report.slo else "ok", [
                   e.client.label, e.dependency.label, f"{e.calls:,.0f}", f"{e.failed:,.0f}",
                   pct(e.failure_ratio),
                   ", ".join(f"{k} {v:,.0f}" for k, v in sorted(e.causes.items())) or NONE])
                for e in report.edges]),
        "</body></html>\n",
    ]
    return "".join(parts)

