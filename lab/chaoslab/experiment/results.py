"""Turns an experiment's runs into `comparison.md`, `comparison.json` and `comparison.png`,
with each library scenario's hypothesis judged per profile."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from chaoslab.experiment import compare, hypotheses, plot
from chaoslab.experiment.runner import RunOptions, ScenarioRun
from chaoslab.experiment.scenario import ScenarioFile


def faults_text(scenario: ScenarioFile) -> str:
    parts = []
    for f in scenario.spec.faults:
        share = "" if f.probability >= 1 else f" for {f.probability:.0%} of lookups"
        parts.append(f"{f.mode} on `{f.target}`{share}")
    return "; ".join(parts) + f", {scenario.duration:g} s"


def comparison_for(scenario: ScenarioFile, runs: Sequence[ScenarioRun], opts: RunOptions,
                   command: str = "") -> tuple[compare.Comparison, list[hypotheses.Verdict]]:
    rows, verdicts = [], []
    for run in runs:
        row = compare.row(run.label, run.report, relief_at=run.relief_at,
                          relief_users=run.relief_users)
        rows.append(row)
        verdict = hypotheses.evaluate(scenario.name, hypotheses.Evidence(
            run.label, run.report, row, run.probes))
        if verdict is not None:
            verdicts.append(verdict)
    notes = []
    if opts.tuning.services or opts.tuning.load:
        notes.append("lab tuning (`--lab-tuning storm`): "
                     + json.dumps(opts.tuning.to_json(), sort_keys=True))
    c = compare.compare(scenario.name, scenario.hypothesis, faults_text(scenario), rows,
                        slo=opts.slo, hold=opts.hold, command=command, notes=notes)
    return c, verdicts


def write(scenario: ScenarioFile, runs: Sequence[ScenarioRun], opts: RunOptions,
          command: str = "") -> tuple[compare.Comparison, list[hypotheses.Verdict]]:
    out = opts.out
    out.mkdir(parents=True, exist_ok=True)
    c, verdicts = comparison_for(scenario, runs, opts, command)
    text = compare.markdown(c)
    if verdicts:
        text += "\nHypothesis checks:\n\n" + "\n".join(
            f"- **{v.profile}**: {'held' if v.held else 'did NOT hold'} — "
            + "; ".join(v.evidence) for v in verdicts) + "\n"
    reports = "\n".join(f"- {r.label}: [{r.report_dir.relative_to(out)}/report.html]"
                        f"({r.report_dir.relative_to(out)}/report.html)" for r in runs)
    text += f"\nGame-day reports:\n\n{reports}\n"
    (out / "comparison.md").write_text(text)
    data = c.to_json()
    data["verdicts"] = [{"profile": v.profile, "held": v.held, "evidence": v.evidence}
                        for v in verdicts]
    data["runs"] = [r.to_json() for r in runs]
    (out / "comparison.json").write_text(json.dumps(data, indent=1) + "\n")
    plot.draw(c, [r.report for r in runs], out / "comparison.png")
    return c, verdicts


def load(out: Path) -> dict:
    """comparison.json of a finished experiment."""
    return json.loads((out / "comparison.json").read_text())
