"""Health-checked DNS failover: which targets stay in DNS, given the probes (pure).

Route 53 health checks / an NLB take a target out of the endpoint's DNS answer after
``unhealthy_threshold`` failed probes in a row and put it back after ``healthy_threshold``
passes. On 2025-10-20 the probes failed for a reason other than the targets: new
instances' network configuration had not propagated, so failover removed capacity that
served fine (5:30 AM-2:09 PM), until it was switched off by hand. AWS's fix is a velocity
control: at most ``max_removed_share`` of the target group may be removed per
``interval``. ``decide`` is that policy as a function of (policy, previous state, probe
results, now); ``checker`` does the probing and writes the zone file CoreDNS serves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chaoslab_services.common.config import parse_duration
from chaoslab_services.common.errors import ConfigError

_INT_KEYS = ("unhealthy_threshold", "healthy_threshold", "ttl")
_DURATION_KEYS = ("check_interval", "timeout")
_LIMIT_KEYS = ("max_removed_share", "interval")


@dataclass(frozen=True)
class VelocityLimit:
    max_removed_share: float = 0.25  # of the whole target group, per interval
    interval: float = 10.0           # sliding window the share is counted over

    def budget(self, capacity: int) -> int:
        """Removals allowed per window: floor, so the promised share is always kept."""
        return math.floor(self.max_removed_share * capacity + 1e-9)


@dataclass(frozen=True)
class FailoverPolicy:
    check_interval: float = 1.0     # every target is probed this often
    timeout: float = 0.5            # per probe; no answer in time = failed
    unhealthy_threshold: int = 2    # failed probes in a row before a target is unhealthy
    healthy_threshold: int = 2      # passed probes in a row before it is healthy again
    ttl: int = 1                    # seconds: the A records' TTL and the negative TTL
    velocity_limit: VelocityLimit | None = field(default_factory=VelocityLimit)  # None: off

    @classmethod
    def from_doc(cls, doc: Any, where: str = "failover") -> FailoverPolicy:
        """The policy from a YAML mapping; every error names the offending key."""
        if not isinstance(doc, dict):
            raise ConfigError(f"{where}: expected a mapping, got {doc!r}")
        unknown = sorted(set(doc) - set(_INT_KEYS) - set(_DURATION_KEYS) - {"velocity_limit"})
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
                if values[key] <= 0:
                    raise ConfigError(f"{where}.{key}: must be > 0, got {doc[key]!r}")
        policy = cls(**values)
        if policy.timeout > policy.check_interval:
            raise ConfigError(f"{where}.timeout: must be <= check_interval "
                              f"({policy.check_interval}s), got {policy.timeout}s")
        if "velocity_limit" in doc:
            policy = replace(policy, velocity_limit=_limit(doc["velocity_limit"],
                                                           f"{where}.velocity_limit"))
        return policy


def _limit(doc: Any, where: str) -> VelocityLimit | None:
    if doc is None or doc is False:
        return None  # off: failover removes every unhealthy target at once
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: expected a mapping, null or false, got {doc!r}")
    unknown = sorted(set(doc) - set(_LIMIT_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}")
    values: dict[str, Any] = {}
    if "max_removed_share" in doc:
        share = doc["max_removed_share"]
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise ConfigError(f"{where}.max_removed_share: expected a number in [0, 1], "
                              f"got {share!r}")
        values["max_removed_share"] = float(share)
    if "interval" in doc:
        values["interval"] = parse_duration(doc["interval"], f"{where}.interval")
        if values["interval"] <= 0:
            raise ConfigError(f"{where}.interval: must be > 0, got {doc['interval']!r}")
    return VelocityLimit(**values)


@dataclass(frozen=True)
class FailoverState:
    targets: tuple[str, ...]             # the target group, in its configured order
    in_dns: frozenset[str]               # what the endpoint's A records are
    streaks: Mapping[str, int]           # > 0 passes in a row, < 0 failures in a row
    removals: tuple[float, ...] = ()     # when each removal inside the window happened
    enabled: bool = True                 # automatic failover on (an operator may stop it)


def initial(targets: tuple[str, ...]) -> FailoverState:
    """A group the checker takes over in service: every target in DNS, nothing proven."""
    if not targets or len(set(targets)) != len(targets):
        raise ConfigError(f"targets: expected distinct addresses, got {list(targets)}")
    return FailoverState(targets, frozenset(targets), {t: 0 for t in targets})


@dataclass(frozen=True)
class Decision:
    state: FailoverState
    removed: tuple[str, ...] = ()   # taken out of DNS now
    restored: tuple[str, ...] = ()  # put back now
    refused: tuple[str, ...] = ()   # unhealthy, kept in DNS by the velocity limit


def healthy(policy: FailoverPolicy, state: FailoverState) -> tuple[str, ...]:
    return tuple(t for t in state.targets if state.streaks[t] >= policy.healthy_threshold)


def decide(policy: FailoverPolicy, state: FailoverState, probes: Mapping[str, bool],
           now: float) -> Decision:
    """One check round: ``probes`` maps a target to whether its health check passed (a
    target without a result keeps its streak). Unhealthy targets leave DNS, longest-failing
    first, as far as the velocity limit's budget in the window ending ``now`` allows;
    healthy ones come back without limit. With failover disabled every target is in DNS."""
    streaks = dict(state.streaks)
    for target in state.targets:
        if target in probes:
            s = streaks[target]
            streaks[target] = max(s, 0) + 1 if probes[target] else min(s, 0) - 1
    limit = policy.velocity_limit
    window = tuple(r for r in state.removals if limit and r > now - limit.interval)
    if not state.enabled:
        restored = tuple(t for t in state.targets if t not in state.in_dns)
        new = replace(state, in_dns=frozenset(state.targets), streaks=streaks, removals=window)
        return Decision(new, restored=restored)
    restored = tuple(t for t in state.targets
                     if t not in state.in_dns and streaks[t] >= policy.healthy_threshold)
    order = {t: i for i, t in enumerate(state.targets)}
    unhealthy = sorted((t for t in state.targets
                        if t in state.in_dns and streaks[t] <= -policy.unhealthy_threshold),
                       key=lambda t: (streaks[t], order[t]))
    if limit is None:
        removed, refused = tuple(unhealthy), ()
    else:
        allowed = max(0, limit.budget(len(state.targets)) - len(window))
        removed, refused = tuple(unhealthy[:allowed]), tuple(unhealthy[allowed:])
        window += (now,) * len(removed)
    in_dns = (state.in_dns | set(restored)) - set(removed)
    new = replace(state, in_dns=frozenset(in_dns), streaks=streaks, removals=window)
    return Decision(new, removed, restored, refused)


def set_enabled(state: FailoverState, enabled: bool) -> FailoverState:
    """The operator's switch (AWS disabled automatic failover at 9:36 AM)."""
    return replace(state, enabled=enabled)


def zone_text(fqdn: str, addresses: list[str], serial: int, ttl: int) -> str:
    """The RFC 1035 zone CoreDNS's ``file`` plugin serves for the endpoint: its A records,
    and an SOA whose minimum is the negative TTL, so an empty set is a cacheable NODATA.
    The ``file`` plugin reloads only when the serial grows, so each write passes a larger one."""
    origin = fqdn.rstrip(".") + "."
    lines = [f"$ORIGIN {origin}",
             f"@ {ttl} IN SOA ns.{origin} hostmaster.{origin} {serial} 1 1 60 {ttl}",
             f"@ {ttl} IN NS ns.{origin}",
             f"ns {ttl} IN A 127.0.0.1"]
    lines += [f"@ {ttl} IN A {a}" for a in addresses]
    return "\n".join(lines) + "\n"
