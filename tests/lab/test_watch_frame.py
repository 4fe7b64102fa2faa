"""`chaoslab watch`'s frames, rendered from data the test writes: exact lines for each layout.

The view is pure (`chaoslab.watch.frame`), so what a person sees in a wide, narrow or short
terminal, with Prometheus silent or the cluster unreadable, is pinned here line for line;
tests/lab/test_watch_live.py runs the real thing in tmux against a real lab.
"""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from chaoslab.watch import frame
from chaoslab.watch.frame import Metrics, Scenario, Snapshot, Tier, render

NOW = 1_764_640_000.0  # 01:46:40 UTC
NAN = math.nan
ACTIVE = Scenario("default", "ddb-nodata", "Active",
                  faults=("nodata dynamodb.us-east-1.aws.internal",),
                  injected_at=NOW - 20, end_at=NOW + 100)
ABORTED = Scenario("default", "slow", "Aborted", message="stop condition 0 above 0.5 for 30s",
                   faults=("delay 800ms *.aws.internal", "nxdomain iam.aws.internal"),
                   injected_at=NOW - 90, ended_at=NOW - 50)
OLD = Scenario("team-a", "ancient", "Completed", ended_at=NOW - 5000)
TIERS = (
    Tier("workflow", "signin", "us-east-1", (1.0,) * 6 + (0.4,) * 4, (0.01,) * 6 + (2.0,) * 4),
    Tier("service", "dynamodb", "us-east-1", (1.0,) * 10, (0.003,) * 10),
    Tier("service", "iam", "us-east-1", (1.0,) * 6 + (0.2, 0.1, 0.2, 0.1),
         (0.004,) * 6 + (1.5,) * 4),
    Tier("service", "s3", "us-west-2", (NAN,) * 10, (NAN,) * 10),
)
METRICS = Metrics(at=NOW - 1, tiers=TIERS, dns_faults=(0.0,) * 6 + (30.0,) * 4,
                  dns_by=(("nodata", "default/ddb-nodata", 30.0),), users=20,
                  customer_success=0.6, breakers_open=1, shed=0.0,
                  active=("default/ddb-nodata",))
SNAP = Snapshot(now=NOW, prometheus_url="http://127.0.0.1:9090", metrics=METRICS,
                scenarios=(ACTIVE, ABORTED, OLD), kubeconfig="/lab/kubeconfig", keys=True)


def test_wide_frame() -> None:
    assert render(SNAP, 110, 40, history=10) == [
        "DNS Chaos Lab · watch  01:46:40 UTC · every 1s · q or Ctrl-C quits",
        "Scenarios",
        "  default/ddb-nodata  Active     20s in, 1m40s left      DNS 30.0/s"
        "    nodata dynamodb.us-east-1.aws.internal",
        "  default/slow        Aborted    ended 50s ago           "
        "delay 800ms *.aws.internal +1 more",
        "                      why: stop condition 0 above 0.5 for 30s",
        "  + 1 ended earlier (kubectl get outagescenarios -A)",
        "DNS faults answered    30.0/s  ▁▁▁▁▁▁████  nodata 30.0/s",
        "Customers   20 users · success 60.0% · breakers open 1 · shed 0/s",
        "Customer workflows   success       now           p99 (log)      now",
        "  signin us-east-1   ██████▃▃▃▃  40.0% DEGRADED  ▃▃▃▃▃▃▇▇▇▇  2.00 s",
        "Services             avail         now           p99 (log)      now",
        "  dynamodb us-east-1 ██████████ 100.0%           ▂▂▂▂▂▂▂▂▂▂    3 ms",
        "  iam us-east-1      ██████▂▁▂▁  10.0% DEGRADED  ▂▂▂▂▂▂▇▇▇▇  1.50 s",
        "  s3 us-west-2                       - idle                       -",
    ]


def test_narrow_terminal_drops_sparklines_then_latency() -> None:
    lines = render(SNAP, 51, 40, history=10)
    assert all(len(line) <= 51 for line in lines)
    assert lines[-4:] == [
        "Services                 now",
        "  dynamodb us-east-1  100.0%           p99     3 ms",
        "  iam us-east-1        10.0% DEGRADED  p99   1.50 s",
        "  s3 us-west-2             - idle      p99        -",
    ]
    assert render(SNAP, 40, 40)[-2] == "  iam us-east-1        10.0% DEGRADED"
    assert render(SNAP, 30, 40)[2] == "  default/ddb-nodata  Active …"


@pytest.mark.parametrize("width", range(10, 161, 7))
@pytest.mark.parametrize("height", [1, 5, 12, 40])
def test_nothing_is_wider_or_taller_than_the_terminal(width: int, height: int) -> None:
    lines = render(SNAP, width, height, color=True)
    assert len(lines) <= height
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]
    assert all(len(line) <= width for line in plain)
    assert plain == render(SNAP, width, height)  # colour never changes the text


def test_short_terminal_keeps_the_degraded_tiers() -> None:
    lines = render(SNAP, 100, 11, history=10)
    assert lines[-3:] == [
        "Customer workflows   success       now           p99 (log)      now",
        "  signin us-east-1   ██████▃▃▃▃  40.0% DEGRADED  ▃▃▃▃▃▃▇▇▇▇  2.00 s",
        "  … 3 more tiers not shown (a taller terminal shows them)",
    ]
    lines = render(SNAP, 100, 13, history=10)
    assert [line for line in lines if "DEGRADED" in line] == [
        "  signin us-east-1   ██████▃▃▃▃  40.0% DEGRADED  ▃▃▃▃▃▃▇▇▇▇  2.00 s",
        "  iam us-east-1      ██████▂▁▂▁  10.0% DEGRADED  ▂▂▂▂▂▂▇▇▇▇  1.50 s",
    ]
    assert lines[-1] == "  … 2 more tiers not shown (a taller terminal shows them)"


def test_prometheus_silent_keeps_the_last_figures_and_says_how_old() -> None:
    snap = dataclasses.replace(SNAP, now=NOW + 12, prometheus_error="connection refused")
    lines = render(snap, 100, 40, history=10)
    assert lines[1:3] == [
        "! Prometheus is not answering (http://127.0.0.1:9090): connection refused",
        "  figures below are from 01:46:39 UTC, 13s old",
    ]
    assert "  iam us-east-1      ██████▂▁▂▁  10.0% DEGRADED  ▂▂▂▂▂▂▇▇▇▇  1.50 s" in lines
    first = Snapshot(now=NOW, prometheus_url="http://127.0.0.1:9", prometheus_error="timed out",
                     scenarios=(), kubeconfig="/lab/kubeconfig")
    assert render(first, 100, 40) == [
        "DNS Chaos Lab · watch  01:46:40 UTC · every 1s · Ctrl-C quits",
        "! Prometheus is not answering (http://127.0.0.1:9): timed out",
        "  no figures until it answers",
        "Scenarios  none live · start one with kubectl apply -f scenarios/FILE.yaml",
    ]


def test_unreadable_cluster_falls_back_to_the_operators_metric() -> None:
    snap = dataclasses.replace(SNAP, scenarios=None, kubernetes_error="connection refused")
    assert render(snap, 100, 40)[1:4] == [
        "! Kubernetes: connection refused; scenarios below come from the operator's metric",
        "Scenarios",
        "  default/ddb-nodata  Active                             DNS 30.0/s",
    ]
    no_kube = dataclasses.replace(SNAP, scenarios=None, kubeconfig="")
    assert render(no_kube, 100, 40)[1] == (
        "no kubeconfig: scenarios come from the operator's metric (phases need --kubeconfig)")


def test_phases_read_as_what_happens_next() -> None:
    at = NOW
    cases = [
        (Scenario("d", "a", "Pending"), "waiting for the operator"),
        (Scenario("d", "a", "Scheduled", start_at=at + 75), "injects in 1m15s"),
        (Scenario("d", "a", "Active", injected_at=at - 3, end_at=at + 7200), "3s in, 2h00m left"),
        (Scenario("d", "a", "Paused", end_at=at + 30), "paused, ends in 30s"),
        (Scenario("d", "a", "Completed", ended_at=at - 61), "ended 1m01s ago"),
        (Scenario("d", "a", "Failed"), "ended"),
    ]
    for sc, text in cases:
        assert frame.phase_timing(sc, at) == text


def test_only_recent_ended_scenarios_are_listed_live_first() -> None:
    recent = Scenario("z", "done", "Completed", ended_at=NOW - 10)
    shown, hidden = frame.shown_scenarios([recent, OLD, ACTIVE], NOW)
    assert [s.key for s in shown] == ["default/ddb-nodata", "z/done"] and hidden == 1


def test_sparklines() -> None:
    avail = frame.availability_level(0.99)
    assert frame.sparkline([1.0, 0.99, 0.985, 0.5, 0.0, NAN], 8, avail, frame.UNICODE_BLOCKS) \
        == "  ██▇▄▁ "
    assert frame.sparkline([1.0] * 20, 5, avail, frame.ASCII_BLOCKS) == "#####"
    assert frame.sparkline([0.001, 0.1, 10.0, 100.0], 4, frame.p99_level,
                           frame.UNICODE_BLOCKS) == "▁▅██"


def test_formatters() -> None:
    assert [frame.duration(s) for s in (-5, 0, 59.9, 60, 3599, 3600, 86399)] == [
        "0s", "0s", "59s", "1m00s", "59m59s", "1h00m", "23h59m"]
    assert [frame.rate(v) for v in (None, NAN, 0.0, 0.04, 12.34, 150, 2500)] == [
        "-/s", "-/s", "0/s", "0.0/s", "12.3/s", "150/s", "2.5k/s"]
    assert [frame.seconds_text(v) for v in (NAN, 0.0004, 0.25, 1.0, 12.5)] == [
        "-", "0 ms", "250 ms", "1.00 s", "12.50 s"]


def test_a_lab_that_never_faulted_says_none_yet() -> None:
    quiet = dataclasses.replace(METRICS, dns_faults=(), dns_by=(), users=None,
                                customer_success=None, breakers_open=None, shed=None)
    lines = render(dataclasses.replace(SNAP, metrics=quiet, scenarios=()), 100, 40)
    assert lines[2:4] == ["DNS faults answered      none yet", "Customers   no load figures"]


def test_ascii_terminals_get_only_ascii_at_the_same_widths() -> None:
    for width, height in ((120, 40), (45, 11)):
        lines = render(SNAP, width, height, unicode=False, history=10)
        assert all(line.isascii() for line in lines), lines
        assert [len(a) for a in lines] == [len(u) for u in render(SNAP, width, height,
                                                                   history=10)]
    assert "  iam us-east-1      ######._._  10.0% DEGRADED  ......****  1.50 s" in render(
        SNAP, 120, 40, unicode=False, history=10)
