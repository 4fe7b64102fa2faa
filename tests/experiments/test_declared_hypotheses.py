"""`chaoslab experiment` judges a scenario's declared hypotheses from the run's saved data,
so `--reanalyse` gives the same verdict as the run did (the judge is the report's)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from chaoslab.experiment import saved
from chaoslab.experiment.runner import HYPOTHESIS_SERIES, judge_hypotheses
from chaoslab.experiment.scenario import ScenarioFile
from chaoslab_report.build import Collected
from chaoslab_report.prom import Series
from chaoslab_report.timeline import ScenarioWindow

T0 = 1_760_000_000.0


def scenario() -> ScenarioFile:
    return ScenarioFile.from_manifest(yaml.safe_load("""
apiVersion: chaoslab.io/v1alpha1
kind: OutageScenario
metadata: {name: s, namespace: default}
spec:
  faults: [{target: dynamodb.us-east-1.aws.internal, mode: nodata}]
  duration: 10s
  hypotheses:
    - {name: stays up, query: 'vector(1)', during: {min: 0.99}}
    - {name: back, query: 'vector(2)', after: {min: 0.99, within: 5s}}
    - {name: lost, query: 'vector(3)', during: {max: 1}}
"""))


def test_verdicts_from_saved_data_survive_a_round_trip(tmp_path: Path) -> None:
    grid = tuple(T0 + i for i in range(31))
    up = Series({}, grid, tuple(1.0 for _ in grid))
    back = Series({}, grid, tuple(0.0 if i < 26 else 1.0 for i in range(31)))  # down to +26 s
    data = Collected(T0, T0 + 30, 1.0, {HYPOTHESIS_SERIES + "stays up": [up],
                                        HYPOTHESIS_SERIES + "back": [back]})
    window = ScenarioWindow("default", "s", T0 + 5, T0 + 15, phase="Completed")
    saved.dump(data, [window], tmp_path / "data.json")
    again, timeline = saved.load(tmp_path / "data.json")
    assert timeline is not None
    report: Any = SimpleNamespace(scenarios=[SimpleNamespace(window=timeline[0])], hypotheses=[])
    judge_hypotheses(report, again, scenario())
    verdicts = {v.name: v for v in report.hypotheses}
    assert verdicts["stays up"].held and verdicts["stays up"].evaluations == 11
    assert not verdicts["back"].held  # judged from +20 s: +20..+25 still down
    assert [e.at - T0 for e in verdicts["back"].violations] == [20, 21, 22, 23, 24, 25]
    assert not verdicts["lost"].held and "failed when the run was recorded" in (
        verdicts["lost"].reason)
    assert all(not math.isnan(v.min_seen or 0.0) for v in report.hypotheses)
