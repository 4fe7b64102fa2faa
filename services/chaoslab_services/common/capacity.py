"""Capacity model: a fixed number of workers, a bounded FIFO queue, a service time per method.

This is what makes overload real: at most ``max_concurrency`` requests are in service (each
holds its slot for its service time *and* for its dependency calls, as a thread-per-request
server does), up to ``queue_limit`` more wait, the rest are shed with RESOURCE_EXHAUSTED.
Like real servers, queued work is processed even when its client has already given up
(``drop_expired: false``): the handler runs detached from the RPC, so a cancelled call does
not free its slot. That wasted work is the mechanism that lets a retry storm keep a tier
overloaded after the trigger is gone (a metastable failure); ``drop_expired: true`` is the
mitigation to compare against.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from chaoslab_services.common.config import parse_duration
from chaoslab_services.common.errors import ConfigError

_KEYS = {"max_concurrency", "queue_limit", "service_time", "drop_expired"}


@dataclass(frozen=True)
class CapacityPolicy:
    max_concurrency: int
    queue_limit: int
    service_time: dict[str, float]     # per method; "default" for the rest
    drop_expired: bool = False

    def time_for(self, method: str) -> float:
        return self.service_time.get(method, self.service_time.get("default", 0.0))

    @classmethod
    def from_doc(cls, doc: dict[str, Any], where: str = "capacity") -> CapacityPolicy:
        unknown = sorted(set(doc) - _KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(_KEYS)}")
        conc, queue = doc.get("max_concurrency"), doc.get("queue_limit")
        if isinstance(conc, bool) or not isinstance(conc, int) or conc < 1:
            raise ConfigError(f"{where}.max_concurrency: expected an integer >= 1, got {conc!r}")
        if isinstance(queue, bool) or not isinstance(queue, int) or queue < 0:
            raise ConfigError(f"{where}.queue_limit: expected an integer >= 0, got {queue!r}")
        times = doc.get("service_time") or {}
        if not isinstance(times, dict):
            raise ConfigError(f"{where}.service_time: expected a mapping of method to duration")
        parsed = {str(k): parse_duration(v, f"{where}.service_time.{k}") for k, v in times.items()}
        return cls(conc, queue, parsed, bool(doc.get("drop_expired", False)))


class Capacity:
    """Slots + FIFO queue. ``admit`` never blocks; ``wait`` hands over a slot in order."""

    def __init__(self, policy: CapacityPolicy) -> None:
        self.policy = policy
        self.inflight = 0
        self._queue: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def admit(self) -> asyncio.Future[None] | bool:
        """True: a slot is taken now. A future: queued, resolves when a slot is handed over.
        False: the queue is full, shed the request."""
        if self.inflight < self.policy.max_concurrency:
            self.inflight += 1
            return True
        if len(self._queue) < self.policy.queue_limit:
            fut = asyncio.get_running_loop().create_future()
            self._queue.append(fut)
            return fut
        return False

    def release(self) -> None:
        """Frees a slot, handing it straight to the oldest live waiter."""
        while self._queue:
            fut = self._queue.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.inflight -= 1
