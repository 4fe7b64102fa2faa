"""comparison.png: the customers' error share around the DNS restore, and how long each
profile stayed below its SLO afterwards, side by side (matplotlib, Agg backend)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from chaoslab.experiment.compare import METASTABLE_FACTOR, Comparison, customer_timeline
from chaoslab_report.analysis import rolling_ratio

if TYPE_CHECKING:
    from chaoslab_report.model import Report

COLORS = {"naive": "#d62728", "backoff-jitter": "#ff7f0e", "resilient": "#2ca02c",
          "resilient-stale": "#1f77b4"}


def draw(comparison: Comparison, reports: Sequence[Report], out: Path) -> Path:
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(14, 5), width_ratios=(2, 1))
    fault = max((r.fault_s for r in comparison.rows), default=0.0)
    ax.axvspan(-fault, 0, color="#d62728", alpha=0.10, lw=0, label="DNS fault live")
    ax.axvline(0, color="#2ca02c", lw=1, ls="--")
    for i, (row, report) in enumerate(zip(comparison.rows, reports, strict=True)):
        w = report.scenarios[0].window
        restored = w.reverted_at if w.reverted_at is not None else report.scenarios[0].eval_end
        total, bad = customer_timeline(report)
        share = rolling_ratio(bad, total, 5)
        xs = [t - restored for t in report.times]
        keep = [(x, 100 * s) for x, s in zip(xs, share, strict=True)
                if x >= -fault - 20 and not math.isnan(s)]
        color = COLORS.get(row.profile, f"C{i}")
        ax.plot([k[0] for k in keep], [k[1] for k in keep], color=color, lw=1.6,
                label=row.profile)
        if row.relief_users is not None:  # the load cut that ended a stuck profile
            ax.axvline(row.below_slo_s, color=color, lw=1, ls=":")
            ax.annotate(f"{row.profile}: load cut to {row.relief_users} customers",
                        (row.below_slo_s, 50), rotation=90, fontsize=8, color=color,
                        ha="right", va="center")
    ax.set_xlabel("seconds since DNS was restored")
    ax.set_ylabel("customer workflows failing, % (5 s window)")
    ax.set_ylim(-2, 102)
    ax.set_title(f"{comparison.scenario}: customers through fault and recovery")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=9)

    labels = [r.profile for r in comparison.rows]
    values = [r.below_slo_s for r in comparison.rows]
    colors = [COLORS.get(r.profile, f"C{i}") for i, r in enumerate(comparison.rows)]
    hatches = ["" if r.recovered_by in ("itself", "unaffected") else "//"
               for r in comparison.rows]
    for y, (v, c, h) in enumerate(zip(values, colors, hatches, strict=True)):
        bars.barh(y, v, color=c, hatch=h, edgecolor="black", lw=0.5)
        text = f"{v:.0f} s" + ("" if h == "" else " (did not recover by itself)")
        bars.text(v, y, " " + text, va="center", fontsize=9)
    bars.set_yticks(range(len(labels)), labels)
    bars.invert_yaxis()
    if fault:
        bars.axvline(METASTABLE_FACTOR * fault, color="black", ls=":", lw=1,
                     label=f"{METASTABLE_FACTOR:.0f}x the fault: {METASTABLE_FACTOR * fault:.0f} s")
        bars.legend(loc="lower right", fontsize=8)
    bars.set_xlim(0, max([*values, METASTABLE_FACTOR * fault, 1.0]) * 1.6)
    bars.set_xlabel("seconds below the SLO after the DNS restore")
    bars.set_title("time to recovery (hatched: stuck)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
