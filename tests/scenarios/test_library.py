"""Every scenario in `scenarios/` applied on a real local lab, its hypothesis checked.

The quick ones share one lab (backoff-jitter clients, customers in both regions so the
failover drill's us-west-2 sign-in is exercised too) and run as shortened copies, one
after the other, each from a healthy lab. The retry storm needs a lab per profile: it is
`tests/experiments/test_retry_storm.py`. Each check is the one `chaoslab experiment` prints
(`chaoslab.experiment.hypotheses`), so what is asserted here is what users are told.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chaoslab.experiment import compare, hypotheses
from chaoslab.experiment.runner import RunOptions, run_on_lab, warm_up
from chaoslab.experiment.scenario import ScenarioFile
from chaoslab.local.runtime import LabOptions, LocalLab
from chaoslab.local.state import LabState
from chaoslab.toolpaths import REPO_ROOT

LIBRARY = REPO_ROOT / "scenarios"
# In this order on the shared lab: the ones that leave nothing behind first.
SHARED = ("truncation", "slow-dns", "partial-servfail", "us-east-1-dynamodb-dns",
          "us-east-1-2025-phases", "regional-failover-drill")
ELSEWHERE = {"retry-storm": "tests/experiments/test_retry_storm.py",
             "lambda-loses-iam": "tests/lab/test_client_scope.py"}
FAULT_S = 10.0
# A 30% SERVFAIL reaches cached resolvers only when a record expires (every ~5 s per name
# and process): 20 s gives a dozen lookups, so some are faulted (0.7^12 < 1.5% none).
# The 2025 phases scaled to 40 s keep their shape: 15 s empty, 10 s draining, a 10 s gap,
# 5 s of STS SERVFAIL (long enough for a probe every ~3.5 s to land in each).
FAULT_SECONDS = {"partial-servfail": 20.0, "us-east-1-2025-phases": 40.0}
# The flagship: its declared "back within 30 s" is judged from 30 s after the revert to the
# window's end, so 10 s of that (also the report's recovery hold). The phases too.
OBSERVE_S = {"us-east-1-dynamodb-dns": 40.0, "us-east-1-2025-phases": 40.0}
DEFAULT_OBSERVE_S = 10.0
PROFILE = "backoff-jitter"  # the lab's default, which the flagship's hypothesis is about


def _library() -> dict[str, ScenarioFile]:
    files = (ScenarioFile.load(p) for p in sorted(LIBRARY.glob("*.yaml")))
    return {s.name: s for s in files}


def test_every_scenario_has_a_hypothesis_a_check_and_a_test() -> None:
    library = _library()
    assert set(library) == set(SHARED) | set(ELSEWHERE), "a scenario without a test"
    for name, scenario in library.items():
        assert scenario.hypothesis, f"{name}: no chaoslab.io/hypothesis annotation"
        assert name in hypotheses.CHECKS, f"{name}: no hypothesis check"
        shortened = scenario.modified(duration=FAULT_S)
        assert shortened.duration == FAULT_S and shortened.spec.faults == scenario.spec.faults
        assert [p.name for p in shortened.spec.phases] == [p.name for p in scenario.spec.phases]


@dataclass
class SharedLab:
    state: LabState
    out: Path
    last_end: float = 0.0
    runs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def shared_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedLab]:
    root = tmp_path_factory.mktemp("scenarios")
    lab = LocalLab(LabOptions(lab_dir=root / "lab", profile=PROFILE, users=20,
                              customer_regions="us-east-1,us-west-2"),
                   progress=lambda m: print(f"up: {m}", flush=True))
    try:
        state = lab.up()
        warm_up(state, RunOptions(out=root, warmup=15.0))
        yield SharedLab(state, root, last_end=time.time())
    finally:
        lab.stop()


@pytest.mark.slow
@pytest.mark.parametrize("name", SHARED)
def test_hypothesis_holds(name: str, shared_lab: SharedLab) -> None:
    scenario = _library()[name].modified(duration=FAULT_SECONDS.get(name, FAULT_S))
    opts = RunOptions(out=shared_lab.out, warmup=5.0, warmup_timeout=90.0,
                      observe=OBSERVE_S.get(name, DEFAULT_OBSERVE_S))
    warm_up(shared_lab.state, opts)  # healthy again after the previous scenario
    since = max(shared_lab.last_end, time.time() - 20.0)
    run = run_on_lab(shared_lab.state, scenario, name, shared_lab.out / name, opts,
                     progress=lambda m: print(m, flush=True), since=since)
    shared_lab.last_end = run.observed_until
    row = compare.row(PROFILE, run.report)
    verdict = hypotheses.evaluate(name, hypotheses.Evidence(PROFILE, run.report, row,
                                                            run.probes))
    assert verdict is not None
    print(verdict.describe())
    assert verdict.held, verdict.describe() + "\n\nreport:\n" + "\n".join(run.report.summary)
