"""Crash safety: the operator is SIGKILLed at random points of 30 scenario lifecycles (while
injecting, while active, while reverting, while a deletion waits) and restarted. At the end
the ConfigMap is byte-identical to the pristine one, no scenario is stuck on its finalizer,
and every scenario's status is final.

Some lifecycles lose their operator for good (the dead-man's switch): killed while the
fault is active and not restarted until after the scenario's end, the fault is gone from
DNS within 2 s of that end, with the rule still in the Corefile, so it was the CoreDNS
plugin, not an operator, that ended it."""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from dataclasses import dataclass

import pytest
from oplab import (
    BASE_ANSWER,
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
# Lifecycles whose operator is killed while active and stays down past the scenario's end.
# Five of the 30, not all: each one waits out its scenario (about 4 s), and the others keep
# the random kill/restart coverage. Their target is theirs alone, so DNS pristine at their
# end means their own fault is gone.
ORPHANS = {2, 7, 13, 17, 23}
ORPHAN_TARGET = "kms.us-east-1.aws.internal"
ORPHAN_DURATION = 2.5
# The plugin's clock-skew margin is 1 s (dns/coredns/chaoslab/rule.go); the bound:
WITHIN = 2.0


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


def orphan_lifecycle(lab: OpLab, name: str, fault_answer: str) -> float:
    """Kill the operator once `name` is injected; return how long after its end DNS is clean.

    The operator stays down (the caller restarts it later); asserts the fault lasted to the
    end, was gone within WITHIN of it, and that the Corefile still held the rule meanwhile.
    """
    if lab.operator is None:
        lab.start_operator(wait_ready=False)
    status = wait_for(f"{name} injected", lambda: (s := lab.status(name, NAMESPACE)).get(
        "endAt") and any(c["type"] == "Injected" and c["status"] == "True"
                         for c in s.get("conditions", [])) and s, 15)
    lab.wait_dns(ORPHAN_TARGET, fault_answer, timeout=5)
    lab.kill_operator()
    end = parse_time(status["endAt"])
    assert end is not None and time.time() < end - 0.3, ("injected too late to test", status)
    # Nothing cuts the fault short of its scenario ...
    for _ in range(200):
        if time.time() >= end - 0.2:
            break
        assert lab.resolve(ORPHAN_TARGET, 0.3) == fault_answer
        time.sleep(0.05)
    # ... and nothing is left of it shortly after, with no operator to rewrite the Corefile.
    wait_for(f"{ORPHAN_TARGET} pristine after {name}'s end",
             lambda: lab.resolve(ORPHAN_TARGET, 0.2) == BASE_ANSWER,
             max(0.1, end + WITHIN - time.time()), interval=0.02)
    gone_after = time.time() - end
    assert gone_after <= WITHIN, gone_after
    assert f"scenario {NAMESPACE}/{name}\n" in lab.configmap()  # the plugin ended it
    return gone_after


def test_a_fault_does_not_outlive_a_killed_operator(lab: OpLab) -> None:
    """The acceptance case: SIGKILLed after injection and never restarted."""
    create_scenario(lab, scenario_dict(
        "dead-man", [{"target": ORPHAN_TARGET, "mode": "servfail"}], "3s", NAMESPACE,
    ))
    gone_after = orphan_lifecycle(lab, "dead-man", "SERVFAIL")
    print(f"fault gone {gone_after:.2f}s after the scenario's end, operator dead")
    assert lab.operator is None
    lab.start_operator(wait_ready=False)  # clean up: it completes the scenario and reverts
    done = lab.wait_phase("dead-man", "Completed", NAMESPACE, timeout=20)
    assert done["reason"] == "DurationElapsed"
    wait_for("pristine ConfigMap", lambda: lab.configmap() == lab.base, 10)
    lab.delete("dead-man", NAMESPACE)


RULE = re.compile(r"^\s*fault (\S+) .* until (\S+) scenario (\S+)\s*$", re.M)


class NoStaleFaults:
    """Samples DNS for every target all along: a faulted answer must come from a rule that
    was in the ConfigMap less than WITHIN ago and whose end is less than WITHIN ago. That is
    "DNS pristine at every scenario end" for all lifecycles at once, operator up or down."""

    def __init__(self, lab: OpLab) -> None:
        self.lab = lab
        self.last_seen: dict[tuple[str, float], float] = {}  # (target, until) -> time
        self.violations: list[str] = []
        self.samples = self.faulted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _read(self) -> None:
        now = time.time()
        for target, until, _ in RULE.findall(self.lab.configmap()):
            end = parse_time(until)
            assert end is not None, until
            self.last_seen[(target, end)] = now

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self._read()  # before and after the queries: every rule they may meet
                answers = {name: self.lab.resolve(name, 0.3) for name in ENDPOINTS}
                self._read()
            except Exception:  # an API hiccup: skip this sample
                continue
            now = time.time()
            self.samples += 1
            for name, answer in answers.items():
                if answer == BASE_ANSWER:
                    continue
                self.faulted += 1
                if not any(t == name and now < min(end, seen) + WITHIN
                           for (t, end), seen in self.last_seen.items()):
                    self.violations.append(f"{name} {answer} at {now:.2f}: no rule for it "
                                           f"ended or was removed within {WITHIN}s")

    def __enter__(self) -> NoStaleFaults:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


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
        if i in ORPHANS:
            start_after, duration = 0.0, ORPHAN_DURATION
        elif i % 3 == 0:  # a third are deleted before they would end
            delete_at = create_at + rng.uniform(0.1, start_after + duration)
        lives.append(Life(f"s{i:02d}", create_at, start_after, duration, delete_at))
    # Kill points aimed at each kind of moment, then a restart after a random down time.
    actions: list[tuple[float, str, str]] = []
    for i, life in enumerate(lives):
        if i in ORPHANS:  # killed once injected, restarted by whichever restart comes next
            actions.append((life.create_at + 0.05, "orphan", life.name))
            continue
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
    orphans = {lives[i].name for i in ORPHANS}
    targets = sorted(set(ENDPOINTS) - {ORPHAN_TARGET})
    kills: dict[str, int] = {}
    gone_after: dict[str, float] = {}
    with NoStaleFaults(lab) as stale:
        t0 = time.monotonic()
        for at, action, arg in actions:
            delay = t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if action == "create":
                life = by_name[arg]
                fault = ({"target": ORPHAN_TARGET, "mode": "nxdomain"} if life.name in orphans
                         else {"target": rng.choice(targets), "mode": rng.choice(MODES)})
                create_scenario(lab, scenario_dict(
                    life.name, [fault], f"{life.duration}s", NAMESPACE, f"{life.start_after}s",
                ))
            elif action == "orphan":
                gone_after[arg] = orphan_lifecycle(lab, arg, "NXDOMAIN")
                kills["orphan"] = kills.get("orphan", 0) + 1
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
        print("orphaned faults gone after their end: "
              + ", ".join(f"{n} {s:.2f}s" for n, s in sorted(gone_after.items())))
        assert sum(kills.values()) >= 15, kills
        assert set(kills) == {"inject", "active", "revert", "deletion", "orphan"}, kills
        assert set(gone_after) == orphans

        # Let every lifecycle run out with the operator up.
        def all_final() -> bool:
            items = [s for s in lab.scenarios() if not s["metadata"].get("deletionTimestamp")]
            return all((s.get("status") or {}).get("phase") in FINAL for s in items)

        wait_for("every scenario final", all_final, 30, 0.2)
        wait_for("pending deletions done", lambda: not any(
            s["metadata"].get("deletionTimestamp") for s in lab.scenarios()), 20, 0.2)
        wait_for("pristine ConfigMap", lambda: lab.configmap() == lab.base, 10)
    print(f"DNS sampled {stale.samples} times, {stale.faulted} faulted answers, all within "
          f"{WITHIN}s of a rule's end or removal")
    assert not stale.violations, stale.violations[:5]
    assert stale.samples >= 100 and stale.faulted >= 50, (stale.samples, stale.faulted)

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
