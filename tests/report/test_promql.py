"""Every PromQL expression of every dashboard and of the report runs on the real Prometheus
and returns data from the synthetic lab (which serves every ARCHITECTURE.md metric); the
dashboard JSON is well-formed and equal to its generator's output."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import synthetic_lab as lab

from chaoslab_report import dashboards, queries
from chaoslab_report.prom import Prometheus

ROOT = Path(__file__).resolve().parents[2]
BOARD_DIR = ROOT / "charts" / "chaoslab" / "dashboards"
ARCHITECTURE = ROOT / "ARCHITECTURE.md"
ARCH_NAME = re.compile(r"`(chaoslab_(?:service|loadtest|operator)_[a-z_]+)")


def boards() -> dict[str, dict[str, Any]]:
    return dashboards.load_boards(BOARD_DIR)


ALL = [*dashboards.expressions(boards()),
       *((f"report {n}", e) for n, e in queries.all_expressions().items())]


def test_dashboards_are_generated_and_committed() -> None:
    rendered = dashboards.render_all()
    assert sorted(rendered) == sorted(p.name for p in BOARD_DIR.glob("*.json"))
    for name, text in rendered.items():
        assert (BOARD_DIR / name).read_text() == text, \
            f"{name} is stale: run python -m chaoslab_report.dashboards"


@pytest.mark.parametrize("name", sorted(p.name for p in BOARD_DIR.glob("*.json")))
def test_dashboard_structure(name: str) -> None:
    board = boards()[name]
    assert board["uid"].startswith("chaoslab-") and board["title"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    for panel in board["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']}: no unit"
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == "prometheus" and t["expr"].strip()
    for a in board["annotations"]["list"]:
        assert a.get("builtIn") == 1 or a["datasource"]["uid"] == "prometheus"
    for v in board["templating"]["list"]:
        assert v["datasource"]["uid"] == "prometheus"
    uids = [b["uid"] for b in boards().values()]
    assert len(uids) == len(set(uids))


def test_synthetic_lab_serves_every_architecture_metric(synthetic_lab) -> None:
    synthetic_lab.wait_for(lab.INJECT + 4)
    names = set(ARCH_NAME.findall(ARCHITECTURE.read_text()))
    assert len(names) >= 19, names  # 10 service, 3 load, 6 operator metrics
    result = Prometheus(synthetic_lab.prometheus).query(
        'count by (__name__) ({__name__=~"chaoslab_.+"})')
    served = {labels["__name__"] for labels, _ in result}
    for name in names:
        assert name in served or f"{name}_count" in served, f"{name} not served"


def test_scalar_is_the_first_value_and_none_without_data(synthetic_lab) -> None:
    synthetic_lab.wait_for(lab.INJECT + 4)
    prom = Prometheus(synthetic_lab.prometheus)
    assert prom.scalar("vector(2) * 3") == 6.0
    assert prom.scalar('chaoslab_no_such_metric{job="x"}') is None
    assert prom.scalar("vector(0) / vector(0)") is None  # a ratio before any traffic


def test_scrape_times_are_the_real_scrapes_not_the_grid(synthetic_lab) -> None:
    """The report dates changes between the scrapes around them, so its stamps must be the
    samples' own times; `timestamp(up == 1)` gave the evaluation grid instead."""
    synthetic_lab.wait_for(lab.INJECT)
    prom = Prometheus(synthetic_lab.prometheus)
    end = math.floor(synthetic_lab.t0 + lab.INJECT)
    (series,) = prom.query_range(queries.QUERIES["scrape_times"].render("5s"), end - 6, end, 1.0)
    raw = requests.get(f"{synthetic_lab.prometheus}/api/v1/query",  # a range: raw samples
                       params={"query": "up[10s]", "time": str(end)}, timeout=10).json()
    real = {round(float(t), 3) for item in raw["data"]["result"] for t, _ in item["values"]}
    stamps = [round(v, 3) for v in series.values if not math.isnan(v)]
    assert len(stamps) >= 5
    assert set(stamps) <= real, (stamps, sorted(real))
    assert all(g - 1.5 < v <= g for g, v in zip(series.times, series.values, strict=True)
               if not math.isnan(v))


def test_every_architecture_metric_is_on_a_dashboard_or_in_the_report() -> None:
    text = " ".join(e for _, e in ALL)
    for name in set(ARCH_NAME.findall(ARCHITECTURE.read_text())):
        assert name in text, f"{name} is used by no dashboard and no report query"


@pytest.mark.parametrize(("where", "expr"), ALL, ids=[w for w, _ in ALL])
def test_expression_returns_data(synthetic_lab, where: str, expr: str) -> None:
    synthetic_lab.wait_for(lab.END)
    prom = Prometheus(synthetic_lab.prometheus)
    series = prom.query_range(expr, synthetic_lab.t0,
                              synthetic_lab.t0 + lab.END, 1.0)
    finite = [v for s in series for v in s.values if not math.isnan(v)]
    assert finite, f"{where}: no data for {expr}"
