"""The report's PNGs, drawn with matplotlib alone (Agg backend: no display, no graphviz).

- timeline.png: availability of every service and customer workflow, and p99 latency, with
  each scenario's phases shaded (red: DNS fault live; amber: DNS restored, tiers still
  recovering).
- dependency_graph.png: customers → front doors → dependencies, laid out in layers by call
  depth, each tier coloured by its worst availability during the scenario, each edge by the
  share of intended calls that failed; the tiers whose DNS name was faulted are ringed.
- amplification.png: services' attempts per intended call, per dependency (retries), and
  apart, customers' direct calls per second at each front door (no retries of a service).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch

from chaoslab_report.analysis import fqdn_tier, index_range
from chaoslab_report.fmt import clock
from chaoslab_report.model import Tier

if TYPE_CHECKING:
    from chaoslab_report.model import Report

DPI = 100
_HEALTH = colormaps["RdYlGn"]


def write_all(report: Report, out_dir: Path) -> dict[str, str]:
    files = {}
    for name, draw in (("timeline", timeline), ("dependency_graph", dependency_graph),
                       ("amplification", amplification)):
        fig = draw(report)
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        files[name] = path.name
    return files


def _origin(report: Report) -> tuple[float, str]:
    if report.scenarios:
        w = report.scenarios[0].window
        return w.injected_at, f"seconds since {w.key} was injected ({clock(w.injected_at)} UTC)"
    return report.start, f"seconds since {clock(report.start)} UTC"


def _shade(ax: Axes, report: Report, t0: float) -> None:
    for sc in report.scenarios:
        w = sc.window
        end = w.reverted_at if w.reverted_at is not None else sc.eval_end
        ax.axvspan(w.injected_at - t0, end - t0, color="#d62728", alpha=0.12, lw=0)
        ax.axvline(w.injected_at - t0, color="#d62728", lw=1)
        if w.reverted_at is not None:
            ax.axvline(w.reverted_at - t0, color="#2ca02c", lw=1, ls="--")
            if sc.time_to_recovery_s:
                ax.axvspan(w.reverted_at - t0, w.reverted_at + sc.time_to_recovery_s - t0,
                           color="#ff7f0e", alpha=0.15, lw=0)


def _colors(tiers: Sequence[Tier]) -> dict[Tier, tuple[float, ...]]:
    cmap = colormaps["tab20"]
    return {t: cmap(i % 20) for i, t in enumerate(tiers)}


def timeline(report: Report) -> plt.Figure:
    t0, xlabel = _origin(report)
    xs = [t - t0 for t in report.times]
    fig, axes = plt.subplots(3, 1, figsize=(12, 10), sharex=True,
                             gridspec_kw={"height_ratios": [3, 2, 2]})
    colors = _colors(report.tiers)
    panels = (("service", "Service availability"), ("workflow", "Customer workflow availability"))
    for ax, (kind, title) in zip(axes[:2], panels, strict=True):
        for tier in (t for t in report.tiers if t.kind == kind):
            ax.plot(xs, report.availability[tier], lw=1.2, color=colors[tier], label=tier.label)
        ax.axhline(report.slo, color="black", lw=0.8, ls=":", label=f"SLO {report.slo:.2%}")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(title, loc="left", fontsize=11)
        ax.set_ylabel("good ÷ all")
        _shade(ax, report, t0)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    ax = axes[2]
    plotted = False
    for tier in report.tiers:
        values = report.p99.get(tier)
        if values and any(not math.isnan(v) and v > 0 for v in values):
            ax.plot(xs, values, lw=1.0, color=colors[tier], label=tier.label)
            plotted = True
    if plotted:
        ax.set_yscale("log")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    ax.set_title("p99 latency (services and customer workflows)", loc="left", fontsize=11)
    ax.set_ylabel("seconds")
    ax.set_xlabel(xlabel)
    _shade(ax, report, t0)
    fig.tight_layout()
    return fig


def _layers(report: Report) -> dict[Tier, int]:
    """Call depth: customers 0, their front doors 1, a dependency one below its deepest caller."""
    level = {t: 0 for t in report.tiers if t.kind == "workflow"}
    nodes = {e.client for e in report.edges} | {e.dependency for e in report.edges}
    nodes |= {t for t in report.tiers if t.kind == "service"}
    for t in nodes:
        level.setdefault(t, 1)
    for _ in range(len(nodes)):  # longest path, bounded: a cycle cannot loop forever
        changed = False
        for e in report.edges:
            want = level[e.client] + 1
            if level[e.dependency] < want <= len(nodes):
                level[e.dependency] = want
                changed = True
        if not changed:
            break
    return level


def _worst(report: Report) -> dict[Tier, float | None]:
    if report.scenarios:
        impacts = report.scenarios[0].impacts
        return {t: impacts[t.key].min_availability if t.key in impacts else None
                for t in report.tiers}
    return {t: min((v for v in report.availability[t] if not math.isnan(v)), default=None)
            for t in report.tiers}


def dependency_graph(report: Report) -> plt.Figure:
    level = _layers(report)
    worst = _worst(report)
    faulted = {fqdn_tier(f.target) for sc in report.scenarios[:1] for f in sc.window.faults}
    depth = max(level.values(), default=0)
    pos: dict[Tier, tuple[float, float]] = {}
    callers: dict[Tier, list[Tier]] = {}
    for e in report.edges:
        callers.setdefault(e.dependency, []).append(e.client)
    widest = 1
    for d in range(depth + 1):
        # Regions side by side; within one, a node sits under the mean of its callers
        # (one barycentre pass), which keeps most edges from crossing nodes.
        def order(t: Tier) -> tuple[str, float, str]:
            xs = [pos[c][0] for c in callers.get(t, []) if c in pos]
            return (t.region, sum(xs) / len(xs) if xs else 0.5, t.name)

        row = sorted((t for t in level if level[t] == d), key=order)
        widest = max(widest, len(row))
        for i, t in enumerate(row):
            pos[t] = ((i + 0.5) / max(len(row), 1), -d)
    fig, ax = plt.subplots(figsize=(max(10, 1.6 * widest), 2.2 * (depth + 1) + 1))
    lo, hi = 0, len(report.times)
    if report.scenarios:
        sc = report.scenarios[0]
        lo, hi = index_range(report.times, sc.window.injected_at, sc.eval_end)
    for e in report.edges:
        if e.client not in pos or e.dependency not in pos:
            continue
        ratio = e.failure_ratio_between(lo, hi) or 0.0
        color = ("#bbbbbb" if ratio < 1 - report.slo
                 else _HEALTH(_health_scale(1 - ratio, report.slo)))
        ax.add_patch(FancyArrowPatch(
            pos[e.client], pos[e.dependency], arrowstyle="-|>", mutation_scale=12,
            shrinkA=31, shrinkB=31, lw=1 + 3 * min(1.0, ratio), color=color,
            connectionstyle="arc3,rad=0.05", zorder=1))
    for t, (x, y) in pos.items():
        a = worst.get(t)
        face = "#dddddd" if a is None else _HEALTH(_health_scale(a, report.slo))
        ring = "black" if t in faulted else "#555555"
        ax.scatter([x], [y], s=3800, c=[face], edgecolors=ring,
                   linewidths=4 if t in faulted else 1, zorder=2)
        text = t.short + ("" if a is None else f"\n{a:.0%}")
        ax.text(x, y, text, ha="center", va="center", fontsize=7.5, zorder=3,
                color="white" if a is not None and (a < 0.3 or a >= report.slo) else "black")
        if t in faulted:
            ax.text(x, y - 0.3, "DNS fault here", ha="center", va="top", fontsize=8,
                    fontweight="bold", zorder=3)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-depth - 0.75, 0.6)
    ax.axis("off")
    title = "Dependency graph: worst availability per tier"
    if report.scenarios:
        title += f" during {report.scenarios[0].window.key}"
    ax.set_title(title + " (green ≥ SLO, red = 0%)", fontsize=11)
    fig.tight_layout()
    return fig


def _health_scale(a: float, slo: float) -> float:
    """Colour position: at or above the SLO fully green, then linear down to red at 0."""
    return 1.0 if a >= slo else 0.85 * a / slo


def amplification(report: Report) -> plt.Figure:
    t0, xlabel = _origin(report)
    xs = [t - t0 for t in report.times]
    deps = sorted(report.amplification_series)
    fig, axes = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    doors = sorted(report.customer_calls)
    colors = _colors(sorted({*deps, *doors}))
    for tier in deps:
        attempts, _ = report.amplification_series[tier]
        axes[0].plot(xs, attempts, lw=1.2, color=colors[tier], label=tier.label)
    for tier in doors:
        axes[1].plot(xs, report.customer_calls[tier], lw=1.2, color=colors[tier],
                     label=tier.label)
    axes[0].set_title("Retry amplification: services' attempts per intended call, by "
                      "dependency", loc="left", fontsize=11)
    axes[1].set_title("Customers' direct calls at each front door (not retries of a service)",
                      loc="left", fontsize=11)
    axes[0].axhline(1.0, color="black", lw=0.8, ls=":")
    axes[0].set_ylabel("per intended call")
    axes[1].set_ylabel("calls/s")
    for ax, shown in ((axes[0], deps), (axes[1], doors)):
        _shade(ax, report, t0)
        if shown:
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    axes[1].set_xlabel(xlabel)
    fig.tight_layout()
    return fig
