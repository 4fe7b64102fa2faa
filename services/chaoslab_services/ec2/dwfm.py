"""DropletWorkflow Manager (DWFM): host leases kept through DynamoDB, and its collapse.

Pure and clocked (no I/O), so the model is unit-tested and simulated; ``ec2.server`` drives
it with asyncio workers and real DynamoDB calls. Every host holds a lease renewed every
``renew_interval`` (jittered) and lost ``lease_ttl`` after the last success. All work --
renewals and re-establishing a lost lease -- goes through one FIFO queue served by
``workers``; a piece of work that completes more than ``work_timeout`` after it was queued
is discarded and re-queued at the back. While the queue is short that never happens;
once it holds more than about ``work_timeout * workers / establish_time`` items, every item
waits past its timeout, the re-queued work keeps the queue full and goodput stays near
zero although DynamoDB is healthy: a metastable congestive collapse, as on 2025-10-20.
The mitigation (``throttle``) admits new work only while the queue is shorter than
``throttle_depth`` and returns the backlog beyond it to the pool, as AWS's throttling of
incoming work and restart of DWFM hosts did.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from chaoslab_services.common.config import parse_duration
from chaoslab_services.common.errors import ConfigError

_INT_KEYS = ("hosts", "slots_per_host", "workers", "queue_limit", "throttle_depth")
_DURATION_KEYS = ("establish_time", "renew_time", "work_timeout", "lease_ttl",
                  "renew_interval", "failure_backoff", "tick")


@dataclass(frozen=True)
class DwfmPolicy:
    hosts: int = 200               # physical hosts DWFM holds leases on
    slots_per_host: int = 4        # instances a host can run
    workers: int = 4               # DWFM work items processed at once
    establish_time: float = 0.2    # handshake to (re-)establish a lost lease
    renew_time: float = 0.02       # handshake to renew a held one
    work_timeout: float = 2.0      # from queueing to completion; later = discarded, re-queued
    queue_limit: int = 4096        # the bounded work queue
    lease_ttl: float = 8.0         # a lease lasts this long after its last renewal
    renew_interval: float = 3.0    # renewals are queued this often per host (x0.75..1.25)
    failure_backoff: float = 1.0   # after a failed DynamoDB write, before queueing again
    tick: float = 0.1              # how often the scanner expires leases and queues work
    throttle: bool = False         # the mitigation: queue-size-based admission
    throttle_depth: int = 20       # with throttle, admit only while the queue is shorter

    @classmethod
    def from_doc(cls, doc: dict[str, Any], where: str = "settings.dwfm") -> DwfmPolicy:
        unknown = sorted(set(doc) - set(_INT_KEYS) - set(_DURATION_KEYS) - {"throttle"})
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}")
        values: dict[str, Any] = {}
        for key in _INT_KEYS:
            if key in doc:
                value = doc[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigError(f"{where}.{key}: expected an integer >= 1, got {value!r}")
                values[key] = value
        for key in _DURATION_KEYS:
            if key in doc:
                values[key] = parse_duration(doc[key], f"{where}.{key}")
                if values[key] <= 0 and key not in ("renew_time", "establish_time"):
                    raise ConfigError(f"{where}.{key}: must be > 0")
        if "throttle" in doc:
            if not isinstance(doc["throttle"], bool):
                raise ConfigError(f"{where}.throttle: expected true or false")
            values["throttle"] = doc["throttle"]
        return cls(**values)

    @property
    def collapse_depth(self) -> float:
        """Queue depth past which every establish item waits longer than its timeout."""
        return self.work_timeout * self.workers / max(self.establish_time, 1e-9)


@dataclass(eq=False)
class Host:
    id: str
    expires_at: float = 0.0        # 0: no lease
    renew_at: float = 0.0
    next_try: float = 0.0
    queued: bool = False
    used: int = 0                  # instance slots taken


@dataclass(eq=False)
class Work:
    host: Host
    enqueued_at: float
    kind: str = ""                 # set when taken: renew (lease held) | establish


@dataclass
class Counters:
    ok: dict[str, int] = field(default_factory=lambda: {"renew": 0, "establish": 0})
    failed: dict[str, int] = field(default_factory=lambda: {"renew": 0, "establish": 0})
    timed_out: dict[str, int] = field(default_factory=lambda: {"renew": 0, "establish": 0})
    requeued: int = 0
    expired: int = 0
    shed: int = 0                  # queued work returned to the pool by the throttle


class LeaseBook:
    """Hosts, their leases and the work queue. Every method takes ``now`` (monotonic s)."""

    def __init__(self, policy: DwfmPolicy, now: float, rng: random.Random | None = None,
                 prefix: str = "h", armed: bool = True) -> None:
        self.policy = policy
        # Unarmed, leases do not age until the first piece of work succeeds: a process
        # started before its DynamoDB (a lab coming up) must not lose the fleet it took
        # over. Renewals are tried all the while; DWFM's clock starts at the first answer.
        self.armed, self._clock = armed, now
        self.throttle = policy.throttle
        self.rng = rng or random.Random()
        self.counters = Counters()
        self.queue: deque[Work] = deque()
        # The fleet was leased before this process started: spread renewals over an
        # interval, so start-up is not itself a burst of work.
        self.hosts = []
        for i in range(policy.hosts):
            renew_at = now + self.rng.uniform(0.0, policy.renew_interval)
            self.hosts.append(Host(f"{prefix}-{i:05d}", renew_at - policy.renew_interval
                                   + policy.lease_ttl, renew_at))

    def held(self, now: float) -> int:
        return sum(1 for h in self.hosts if h.expires_at > now)

    def _limit(self) -> int:
        p = self.policy
        return min(p.throttle_depth, p.queue_limit) if self.throttle else p.queue_limit

    def _offer(self, host: Host, now: float) -> bool:
        if len(self.queue) >= self._limit():
            return False
        self.queue.append(Work(host, now))
        host.queued = True
        return True

    def scan(self, now: float) -> None:
        """Expires lapsed leases and queues the work that is due, as admission allows."""
        if not self.armed:
            for host in self.hosts:
                if host.expires_at:
                    host.expires_at += now - self._clock
            self._clock = now
        for host in self.hosts:
            if host.expires_at and host.expires_at <= now:
                host.expires_at = 0.0
                self.counters.expired += 1
            if host.queued or now < host.next_try:
                continue
            if (host.expires_at == 0.0 or now >= host.renew_at) and not self._offer(host, now):
                return  # the queue is full: nothing more can be admitted this tick

    def take(self, now: float) -> Work | None:
        if not self.queue:
            return None
        work = self.queue.popleft()
        work.kind = "renew" if work.host.expires_at > now else "establish"
        return work

    def work_time(self, work: Work) -> float:
        p = self.policy
        return p.renew_time if work.kind == "renew" else p.establish_time

    def complete(self, work: Work, now: float, ok: bool) -> str:
        """Applies a finished piece of work: ``ok`` | ``failed`` | ``timed_out``."""
        host, p, c = work.host, self.policy, self.counters
        host.queued = False
        if not ok:
            c.failed[work.kind] += 1
            host.next_try = now + p.failure_backoff
            return "failed"
        if now - work.enqueued_at > p.work_timeout:
            c.timed_out[work.kind] += 1
            if self._offer(host, now):
                c.requeued += 1
            return "timed_out"
        c.ok[work.kind] += 1
        self.armed = True
        host.expires_at = now + p.lease_ttl
        host.renew_at = now + p.renew_interval * self.rng.uniform(0.75, 1.25)
        return "ok"

    def set_throttle(self, on: bool) -> int:
        """Switches the mitigation; on, the backlog beyond ``throttle_depth`` goes back to
        the pool (to be admitted later). Returns how many items that was."""
        self.throttle = on
        shed = 0
        while on and len(self.queue) > self._limit():
            self.queue.pop().host.queued = False
            shed += 1
        self.counters.shed += shed
        return shed

    def place(self, count: int, now: float) -> list[Host] | None:
        """Hosts for ``count`` instances (one slot each) on leased hosts, or None."""
        free = [h for h in self.hosts if h.expires_at > now and h.used < self.policy.slots_per_host]
        chosen: list[Host] = []
        for host in free:
            while host.used + chosen.count(host) < self.policy.slots_per_host \
                    and len(chosen) < count:
                chosen.append(host)
            if len(chosen) == count:
                break
        if len(chosen) < count:
            return None
        for host in chosen:
            host.used += 1
        return chosen


def simulate(policy: DwfmPolicy, *, outage: tuple[float, float], duration: float,
             throttle_at: float | None = None, failure_time: float = 0.05,
             step: float = 0.005, seed: int = 1) -> list[tuple[float, int, int]]:
    """Discrete-time run of the model: (t, leases held, queue depth) once a second.

    DynamoDB fails between ``outage[0]`` and ``outage[1]``; a failed write takes
    ``failure_time``. The unit tests and the README's threshold come from this.
    """
    book = LeaseBook(policy, 0.0, random.Random(seed))
    busy: list[tuple[float, Work, bool] | None] = [None] * policy.workers
    out: list[tuple[float, int, int]] = []
    next_scan = next_sample = 0.0
    t = 0.0
    while t <= duration:
        if throttle_at is not None and not book.throttle and t >= throttle_at:
            book.set_throttle(True)
        if t >= next_scan:
            book.scan(t)
            next_scan += policy.tick
        for i, slot in enumerate(busy):
            if slot is not None and slot[0] <= t:
                book.complete(slot[1], t, slot[2])
                busy[i] = slot = None
            if slot is None:
                work = book.take(t)
                if work is not None:
                    ok = not (outage[0] <= t < outage[1])
                    busy[i] = (t + (book.work_time(work) if ok else failure_time), work, ok)
        if t >= next_sample:
            out.append((round(t, 3), book.held(t), len(book.queue)))
            next_sample += 1.0
        t += step
    return out
