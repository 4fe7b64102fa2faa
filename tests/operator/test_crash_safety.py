"""Crash safety: the operator is SIGKILLed at random points of 30 scenario lifecycles (while
injecting, while active, while reverting, while a deletion waits) and restarted. At the end
the ConfigMap is byte-identical to the pristine one, no scenario is stuck on its finalizer,
and every scenario's status is final."""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass

import pytest
from oplab import (
    ENDPOINTS,
    FINAL,
    OpLab,
    create_scenario,
    delete_scenario,
    scenario_dict,
    wait_for,
)

from chaoslab_operator.timeutil import parse_time

NAMESPACE = "crash"
SEED = 20251020
MODES = ["nxdomain", "servfail", "refused", "nodata", "truncate"]


@pytest.fixture(scope="module", autouse=True)
def namespace(lab: OpLab) -> None:
    lab.cp.kubectl("create", "namespace", NAMESPACE)


def test_deleting_while_the_operator_is_down_reverts_once_it_is_back(lab: OpLab) -> None:
    create_scenario(lab, scenario_dict(
        "down-delete", [{"target": "iam.aws.internal", "mode": "nxdomain"}], "5m", NAMESPACE,
    ))
    lab.wait_dns("iam.aws.internal", "NXDOMAIN")
    lab.kill_operator()
    delete_scenario(lab, "down-delete", NAMESPACE)
    time.sleep(1.0)
    held = lab.get("down-delete", NAMESPACE)
    assert held is not None and held["metadata"].get("deletionTimestamp")  # the finalizer holds
    assert "scenario crash/down-delete" in lab.configmap()  # nobody reverted yet
    lab.start_operator(wait_ready=False)
    wait_for("deletion completed", lambda: lab.get("down-delete", NAMESPACE) is None, 20)
    assert lab.configmap() == lab.base
    lab.wait_dns("iam.aws.internal", "A:127.0.0.1")


@dataclass
class Life:
    name: str
    create_at: float
    start_after: float
    duration: float
    delete_at: float | None


def _plan(rng: random.Random, count: int) -> tuple[list[Life], list[tuple[float, str, str]]]:
    lives: list[Life] = []
    for i in range(count):
        create_at = i * 0.9 + rng.uniform(0, 0.4)
        start_after = rng.choice([0.0, 0.0, 0.5, 1.0])
        duration = round(rng.uniform(1.0, 3.0), 2)
        delete_at = None
        if i % 3 == 0:  # a third are deleted before they would end
            delete_at = create_at + rng.uniform(0.1, start_after + duration)
        lives.append(Life(f"s{i:02d}", create_at, start_after, duration, delete_at))
    # Kill points aimed at each kind of moment, then a restart after a random down time.
    actions: list[tuple[float, str, str]] = []
    for life in lives:
        kind = "deletion" if life.delete_at is not None else rng.choice(
            ["inject", "active", "revert"])
        at = {
            "inject": life.create_at + life.start_after + rng.uniform(0.0, 0.15),
            "active": life.create_at + life.start_after + life.duration / 2,
            "revert": life.create_at + life.start_after + life.duration + rng.uniform(-0.05, 0.2),
            "deletion": (life.delete_at or 0) + rng.uniform(0.0, 0.2),
        }[kind]
        actions.append((at, "kill", kind))
        actions.append((at + rng.uniform(0.05, 0.8), "restart", kind))
    for life in lives:
        actions.append((life.create_at, "create", life.name))
        if life.delete_at is not None:
            actions.append((life.delete_at, "delete", life.name))
    actions.sort()
    return lives, actions


def test_random_kills_over_30_lifecycles(lab: OpLab) -> None:
    rng = random.Random(SEED)
    lives, actions = _plan(rng, 30)
    by_name = {life.name: life for life in lives}
    targets = sorted(ENDPOINTS)
    kills: dict[str, int] = {}
    t0 = time.monotonic()
    for at, action, arg in actions:
        delay = t0 + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if action == "create":
            life = by_name[arg]
            create_scenario(lab, scenario_dict(
                life.name,
                [{"target": rng.choice(targets), "mode": rng.choice(MODES)}],
                f"{life.duration}s", NAMESPACE, f"{life.start_after}s",
            ))
        elif action == "delete":
            delete_scenario(lab, arg, NAMESPACE)
        elif action == "kill" and lab.operator is not None:
            # Kill a working operator (not one still importing kopf): wait for it briefly.
            with contextlib.suppress(AssertionError):
                lab.wait_operator_ready(timeout=2)
            lab.kill_operator()
            kills[arg] = kills.get(arg, 0) + 1
        elif action == "restart" and lab.operator is None:
            lab.start_operator(wait_ready=False)
    if lab.operator is None:
        lab.start_operator(wait_ready=False)
    print(f"operator SIGKILLed {sum(kills.values())} times: {kills}")
    assert sum(kills.values()) >= 15, kills
    assert set(kills) == {"inject", "active", "revert", "deletion"}, kills

    # Let every lifecycle run out with the operator up.
    def all_final() -> bool:
        items = [s for s in lab.scenarios() if not s["metadata"].get("deletionTimestamp")]
        return all((s.get("status") or {}).get("phase") in FINAL for s in items)

    wait_for("every scenario final", all_final, 30, 0.2)
    wait_for("pending deletions done", lambda: not any(
        s["metadata"].get("deletionTimestamp") for s in lab.scenarios()), 20, 0.2)
    wait_for("pristine ConfigMap", lambda: lab.configmap() == lab.base, 10)

    survivors = lab.scenarios()
    for obj in survivors:
        name, status = obj["metadata"]["name"], obj.get("status") or {}
        life = by_name[name]
        assert status["phase"] == "Completed", (name, status)
        injected, accepted = parse_time(status["injectedAt"]), parse_time(status["acceptedAt"])
        ended, reverted = parse_time(status.get("endedAt")), parse_time(status.get("revertedAt"))
        assert injected and accepted and ended, (name, status)
        assert injected - accepted >= life.start_after - 0.001, (name, status)
        assert ended - injected >= life.duration - 0.001, (name, status)
        # The revert is recorded (it may be late by a crash, never missing).
        assert reverted is not None and reverted >= ended, (name, status)
        injected_cond = [c for c in status["conditions"] if c["type"] == "Injected"]
        assert injected_cond and injected_cond[0]["status"] == "False", (name, status)
    deleted = {life.name for life in lives if life.delete_at is not None}
    assert {o["metadata"]["name"] for o in survivors} == {life.name for life in lives} - deleted

    # Every remaining scenario can be deleted at once: no finalizer is stuck.
    lab.cp.kubectl("delete", "outagescenarios", "--all", "-n", NAMESPACE, "--timeout=30s")
    assert lab.scenarios() == []
    assert lab.configmap() == lab.base
