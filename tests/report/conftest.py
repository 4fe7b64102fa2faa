"""One real Prometheus scraping the scripted synthetic lab (synthetic_lab.py) every second.

Session-scoped: the scripted cascade takes ~35 s of wall time, shared by the ground-truth
test, the PromQL checks of every dashboard and report query, and the browser test.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import synthetic_lab as lab

from chaoslab.procs import Proc, free_port, spawn, wait_until
from chaoslab.testkit import prometheus
from chaoslab_report.build import build_report
from chaoslab_report.model import Report
from chaoslab_report.timeline import Fault, ScenarioWindow

HERE = Path(__file__).parent


@dataclass
class SyntheticLab:
    prometheus: str  # URL
    exporter: str  # host:port
    t0: float  # the script's time zero (unix seconds)
    workdir: Path

    def wait_for(self, elapsed: float) -> None:
        """Block until the script has run `elapsed` seconds and Prometheus has scraped it."""
        delay = self.t0 + elapsed + 1.5 - time.time()
        if delay > 0:
            time.sleep(delay)


@pytest.fixture(scope="session")
def synthetic_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyntheticLab]:
    work = tmp_path_factory.mktemp("synthetic")
    port = free_port()
    t0 = time.time() + 3.0  # Prometheus is up and scraping before the script starts
    exporter: Proc = spawn("synthetic-lab", [sys.executable, str(HERE / "synthetic_lab.py"),
                                             str(port), f"{t0:.3f}"], work / "exporter.log")
    prom = None
    try:
        wait_until("synthetic exporter",
                   lambda: requests.get(f"http://127.0.0.1:{port}/metrics",
                                        timeout=1).status_code == 200, 20, [exporter])
        prom = prometheus.start(work / "prometheus", {"lab": f"127.0.0.1:{port}"})
        yield SyntheticLab(prom.url, f"127.0.0.1:{port}", t0, work)
    finally:
        if prom is not None:
            prom.stop()
        exporter.stop()


@pytest.fixture(scope="session")
def synthetic_report(synthetic_lab: SyntheticLab,
                     tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The report of the scripted cascade, with the scenario's timeline given explicitly."""
    synthetic_lab.wait_for(lab.END)
    t0 = synthetic_lab.t0
    timeline = [ScenarioWindow(*lab.SCENARIO, injected_at=t0 + lab.INJECT,
                               reverted_at=t0 + lab.REVERT, phase="Completed",
                               faults=(Fault("dynamodb.us-east-1.aws.internal", "nodata"),))]
    return build_report(synthetic_lab.prometheus, timeline, tmp_path_factory.mktemp("report"),
                        start=t0 - 2, end=t0 + lab.END, slo=0.99, hold=lab.HOLD)
