"""What the two soaks share: the game day's schedule, the revert checks and the verdict.

`benchmarks/soak.py` runs it on the local lab, `benchmarks/node_soak.py` on the node lab;
only how a lab applies, verifies, kills and measures differs (a subclass's methods). The
schedule: scenario i is applied every `every` seconds, cycling through the fault modes;
odd ones are deleted a quarter interval later, even ones left to expire after half an
interval. Each end or deletion becomes a Check due GRACE seconds later, when the lab must
show the fault gone. The operator is killed at given fractions of the run; with `quiet`
set, a kill waits until no end or deletion falls in the next `quiet` seconds, so what is
measured is the revert path, not how long a replacement operator takes to start.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GRACE = 6.0  # s after a scenario's end/deletion by which its fault must be gone
GROWTH_LIMIT = 1.5  # a component's memory may grow by at most 50 % over the run
MODES: list[tuple[str, dict[str, object]]] = [
    ("nxdomain", {}), ("servfail", {}), ("nodata", {}), ("delay", {"delay": "800ms"}),
    ("refused", {}), ("truncate", {}), ("servfail", {"probability": 0.5}),
    ("redirect", {"redirectTo": "127.0.0.2"})]


@dataclass
class Check:
    name: str
    target: str
    due: float  # monotonic time by which the fault must be gone
    how: str  # "expired" | "deleted"
    fault: Mapping[str, object]
    ok: bool | None = None
    late_by: float = 0.0


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def prom_scalar(prom: str, query: str) -> float | None:
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=10) as resp:
        result = json.load(resp)["data"]["result"]
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if value != value else value  # NaN: no observations yet


def growth_problems(start: Mapping[str, int], end: Mapping[str, int], what: str,
                    skip: Sequence[str] = ()) -> list[str]:
    """Print start/end/growth of each component's memory; the ones above GROWTH_LIMIT."""
    problems = []
    print(f"\n{'component':40} {what + ' start':>12} {'end':>8} {'growth':>7}")
    for name in sorted(start):
        before, after = start[name], end.get(name, 0)
        growth = after / before if before else 0.0
        print(f"{name:40} {before / 2**20:11.1f}M {after / 2**20:7.1f}M {growth:6.2f}x")
        if name not in skip and before and growth > GROWTH_LIMIT:
            problems.append(f"{name}: {what} grew {growth:.2f}x "
                            f"({before / 2**20:.0f} -> {after / 2**20:.0f} MiB)")
    return problems


class SoakRun(ABC):
    """The schedule and the checks; a lab's soak supplies the I/O."""

    def __init__(self, minutes: float, every: float, targets: Sequence[str],
                 modes: Sequence[tuple[str, dict[str, object]]] = MODES,
                 kill_at: Sequence[float] = (0.35, 0.7), quiet: float = 0.0) -> None:
        self.minutes, self.every = minutes, every
        self.targets, self.modes = list(targets), list(modes)
        self.kill_at, self.quiet = list(kill_at), quiet
        self.checks: list[Check] = []
        self.pending_deletes: list[tuple[float, str, str, Mapping[str, object]]] = []
        self.problems: list[str] = []
        self.started = 0.0
        self.kills = 0
        self._next_apply = self._last_apply = 0.0

    # -- what a lab supplies --------------------------------------------------------------
    @abstractmethod
    def kubectl(self, *argv: str, stdin: str | None = None) -> str: ...

    @abstractmethod
    def still_live(self, check: Check) -> str | None:
        """None when the check's fault is gone everywhere, else what still shows it."""

    @abstractmethod
    def kill_operator(self, nth: int) -> None: ...

    def health(self) -> str | None:
        """A problem that ends the run at once (a component died), polled every tick."""
        return None

    def fault(self, index: int) -> dict[str, object]:
        """Scenario `index`'s one fault: the modes and targets cycled."""
        mode, extra = self.modes[index % len(self.modes)]
        return {"target": self.targets[index % len(self.targets)], "mode": mode, **extra}

    # -- the schedule ----------------------------------------------------------------------
    def t(self) -> str:
        return f"t={time.monotonic() - self.started:5.0f}s"

    def apply(self, index: int) -> None:
        fault = self.fault(index)
        name = f"soak-{index}"
        delete_early = index % 2 == 1
        duration = int(self.every if delete_early else self.every / 2)
        doc = {"apiVersion": "chaoslab.io/v1alpha1", "kind": "OutageScenario",
               "metadata": {"name": name, "namespace": "default"},
               "spec": {"faults": [fault], "duration": f"{duration}s"}}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(doc))
        now = time.monotonic()
        extra = {k: v for k, v in fault.items() if k not in ("target", "mode")}
        print(f"{self.t()} apply {name}: {fault['target']} {fault['mode']} {extra or ''} "
              f"for {duration}s" + (", to be deleted early" if delete_early else ""),
              flush=True)
        target = str(fault["target"])
        if delete_early:
            self.pending_deletes.append((now + self.every / 4, name, target, fault))
        else:
            self.checks.append(Check(name, target, now + duration + GRACE, "expired", fault))

    def delete(self, name: str, target: str, fault: Mapping[str, object]) -> None:
        self.kubectl("delete", "outagescenario", name, "--wait=false")
        print(f"{self.t()} delete {name}", flush=True)
        self.checks.append(Check(name, target, time.monotonic() + GRACE, "deleted", fault))

    def verify_due(self, final: bool = False) -> None:
        now = time.monotonic()
        for check in self.checks:
            if check.ok is not None or (now < check.due and not final):
                continue
            if now < check.due:  # at the end: wait for what is not due yet
                time.sleep(check.due - now)
            live = self.still_live(check)
            check.ok = live is None
            check.late_by = time.monotonic() - check.due
            if live is not None:
                self.problems.append(f"fault of {check.name} ({check.how}) still live "
                                     f"{GRACE:.0f}s after its end: {live}")
            now = time.monotonic()

    def quiet_for(self, now: float) -> float:
        """Seconds until the next end or deletion, the next scenario's early delete
        included: a kill in this window cannot delay a revert."""
        events = [when for when, *_ in self.pending_deletes]
        events += [c.due - GRACE for c in self.checks if c.ok is None]
        if self._next_apply <= self._last_apply:
            events.append(self._next_apply + self.every / 4)
        return min(events, default=float("inf")) - now

    def drive(self) -> None:
        """Apply, delete, kill and verify until the run's end; every fault checked."""
        self.started = self.started or time.monotonic()
        end_at = self.started + self.minutes * 60
        kills = [self.started + f * self.minutes * 60 for f in self.kill_at]
        self._next_apply, index = time.monotonic(), 0
        # The last scenario must have ended (and been checked) before the run does.
        last_apply = self._last_apply = end_at - self.every / 2 - GRACE - 5
        while time.monotonic() < end_at:
            now = time.monotonic()
            if self._next_apply <= now <= last_apply:
                self.apply(index)
                index += 1
                self._next_apply += self.every
            for item in [d for d in self.pending_deletes if d[0] <= now]:
                self.pending_deletes.remove(item)
                self.delete(*item[1:])
            if kills and now >= kills[0] and (self.quiet <= 0 or self.quiet_for(now) >= self.quiet):
                kills.pop(0)
                self.kill_operator(self.kills)
                self.kills += 1
            self.verify_due()
            problem = self.health()
            if problem:
                self.problems.append(problem)
                return
            time.sleep(0.5)
        for _due, name, target, fault in self.pending_deletes:
            self.delete(name, target, fault)
        self.pending_deletes.clear()
        self.verify_due(final=True)
        if kills:
            self.problems.append(f"only {self.kills} of {len(self.kill_at)} operator kills "
                                 "found a quiet moment")

    def verdict(self) -> int:
        """Print the revert tally and every problem; the exit code."""
        on_time = sum(1 for c in self.checks if c.ok)
        late = max((c.late_by for c in self.checks), default=0.0)
        print(f"\nfaults reverted on time: {on_time}/{len(self.checks)} "
              f"(within {GRACE:.0f}s of end or deletion; each checked at most {late:.1f}s "
              "after it was due)")
        for problem in self.problems:
            print(f"FAIL: {problem}")
        print("soak: " + ("FAILED" if self.problems else "ok"), flush=True)
        return 1 if self.problems else 0


def soak_arguments(doc: str, *, minutes: float, every: float, warmup: float,
                   lab_dir: Path) -> argparse.ArgumentParser:
    """The options both soaks take, with each one's defaults (`--users` is the local one's)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=minutes,
                        help="length of the soak once the lab is up, warm-up included "
                        "(default: %(default)s)")
    parser.add_argument("--every", type=float, default=every,
                        help="seconds between two scenarios (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=warmup,
                        help="seconds of load before the start figures (default: %(default)s)")
    parser.add_argument("--lab-dir", type=Path, default=lab_dir)
    return parser


def parse_soak_arguments(parser: argparse.ArgumentParser,
                         argv: list[str] | None) -> argparse.Namespace:
    """Bounded, whatever is asked: a soak never runs for more than a day."""
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 24 * 60 or args.every < 20:
        parser.error("--minutes must be in (0, 1440] and --every at least 20")
    return args
