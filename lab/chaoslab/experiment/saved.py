"""A run's raw data kept beside its report, so a comparison can be redone without a lab.

The runner saves what `chaoslab_report.build.collect` fetched from Prometheus and the
scenario windows read from the cluster (`data.json`); `chaoslab experiment --reanalyse
DIR` feeds them to the report's `analyse` again — with another SLO, or after a fix to
the comparison — and rewrites every report and the comparison.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from chaoslab_report.model import Collected
from chaoslab_report.prom import Series
from chaoslab_report.timeline import Fault, ScenarioWindow

SCHEMA = "chaoslab.experiment.data/v1"


def _num(v: float) -> float | None:
    return None if math.isnan(v) else v


def dump(data: Collected, timeline: list[ScenarioWindow] | None, path: Path) -> None:
    doc: dict[str, Any] = {
        "schema": SCHEMA, "start": data.start, "end": data.end, "step": data.step,
        "series": {name: [{"labels": dict(s.labels), "times": list(s.times),
                           "values": [_num(v) for v in s.values]} for s in series]
                   for name, series in data.series.items()},
        "timeline": None if timeline is None else [
            {"namespace": w.namespace, "name": w.name, "injected_at": w.injected_at,
             "reverted_at": w.reverted_at, "phase": w.phase, "message": w.message,
             "faults": [{"target": f.target, "mode": f.mode, "probability": f.probability}
                        for f in w.faults]} for w in timeline],
    }
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")


def load(path: Path) -> tuple[Collected, list[ScenarioWindow] | None]:
    doc = json.loads(path.read_text())
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a chaoslab experiment data file")
    series = {name: [Series(s["labels"], tuple(s["times"]),
                            tuple(math.nan if v is None else v for v in s["values"]))
                     for s in items] for name, items in doc["series"].items()}
    timeline = None if doc["timeline"] is None else [
        ScenarioWindow(w["namespace"], w["name"], w["injected_at"], w["reverted_at"],
                       w["phase"], tuple(Fault(**f) for f in w["faults"]), w["message"])
        for w in doc["timeline"]]
    return Collected(doc["start"], doc["end"], doc["step"], series), timeline
