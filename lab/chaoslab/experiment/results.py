"""Turns an experiment's runs into `comparison.md`, `comparison.json` and `comparison.png`,
with each library scenario's hypothesis judged per profile."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from chaoslab.experiment import compare, hypotheses, plot, saved
from chaoslab.experiment.labtuning import LabTuning
from chaoslab.experiment.probe import Probe
from chaoslab.experiment.runner import RunOptions, ScenarioRun, judge_hypotheses
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
    data["tuning"] = opts.tuning.to_json()
    (out / "comparison.json").write_text(json.dumps(data, indent=1) + "\n")
    plot.draw(c, [r.report for r in runs], out / "comparison.png")
    return c, verdicts


def reanalyse(out: Path, slo: float | None = None) -> tuple[ScenarioFile, list[ScenarioRun],
                                                               RunOptions, str]:
    """The runs of a finished experiment, analysed again from their saved data."""
    from chaoslab_report.build import analyse, write

    done = json.loads((out / "comparison.json").read_text())
    tuning = done.get("tuning") or {}
    opts = RunOptions(out=out, slo=slo if slo is not None else done["slo"], hold=done["hold_s"],
                      tuning=LabTuning(tuning.get("services") or {}, tuning.get("load") or {},
                                       Path(tuning["policy"]) if tuning.get("policy") else None))
    runs, scenario = [], None
    for meta in done["runs"]:
        folder = out / meta["label"]
        scenario = ScenarioFile.load(folder / f"{meta['scenario']}.yaml")
        data, timeline = saved.load(folder / "data.json")
        report = analyse(data, timeline, slo=opts.slo, hold=opts.hold)
        judge_hypotheses(report, data, scenario)
        report = write(report, folder / "report")
        probes = [Probe(**{**p, "addresses": tuple(p["addresses"])}) for p in meta["probes"]]
        runs.append(ScenarioRun(meta["label"], scenario, report, folder / "report",
                                meta["since"], meta["applied_at"], meta["phase"],
                                meta["observed_until"], probes, meta["relief_at"],
                                meta["relief_users"], meta.get("timings_s") or {}))
    if scenario is None:
        raise ValueError(f"{out}/comparison.json lists no runs")
    return scenario, runs, opts, done.get("command", "")
