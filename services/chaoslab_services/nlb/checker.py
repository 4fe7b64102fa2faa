"""The health checker: probes every target, applies ``policy.decide``, writes the zone.

Every ``check_interval`` each target's ``GET /health`` is probed at once (failed = no 200
within ``timeout``: refused, reset, 503 or silence). The round's results go through the
pure ``decide``; when the set in DNS changes, the endpoint's zone file is rewritten
(atomically, with a larger SOA serial) and CoreDNS's ``file`` plugin, reloading every
second, serves it. Nothing here knows why a probe failed: a target that is down and one
whose network configuration has not propagated look alike, which is the point.
HTTP on ``--http``: ``/metrics``, ``/healthz``, ``/readyz``, ``GET /failover`` (JSON
state) and ``POST /failover?enabled=true|false`` (the operator's switch).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from chaoslab_services.common.errors import ConfigError
from chaoslab_services.common.http import ProbeServer
from chaoslab_services.nlb import policy as pol


@dataclass
class Counters:
    removals: int = 0
    restores: int = 0
    refused: int = 0      # one per unhealthy target per round the limit kept it in DNS
    probes_ok: int = 0
    probes_failed: int = 0
    writes: int = 0


@dataclass
class _Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)


class Checker:
    def __init__(self, policy: pol.FailoverPolicy, fqdn: str, targets: tuple[str, ...],
                 port: int, zone_file: Path, region: str = "us-east-1",
                 health_path: str = "/health") -> None:
        self.policy, self.fqdn, self.port = policy, fqdn, port
        self.zone_file, self.region, self.health_path = zone_file, region, health_path
        self.state = pol.initial(targets)
        self.counters = Counters()
        self.serial = int(time.time())
        self.written: frozenset[str] | None = None
        # What ProbeServer reads (it serves the service runtimes the same way).
        self.metrics, self.ready, self.http_routes = _Metrics(), False, {"/failover": self.admin}
        self.metrics.registry.register(self)

    # --- I/O at the edges ---------------------------------------------------------------
    async def probe(self, target: str) -> bool:
        async def get() -> bool:
            reader, writer = await asyncio.open_connection(target, self.port)
            try:
                writer.write(f"GET {self.health_path} HTTP/1.0\r\nHost: {target}\r\n\r\n"
                             .encode())
                await writer.drain()
                return (await reader.readline()).split()[1:2] == [b"200"]
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

        try:
            return await asyncio.wait_for(get(), self.policy.timeout)
        except (OSError, TimeoutError):
            return False

    def write_zone(self) -> None:
        """Atomically, so CoreDNS never reads half a file; only when the set changed."""
        if self.written == self.state.in_dns:
            return
        self.serial = max(self.serial + 1, int(time.time()))
        addresses = [t for t in self.state.targets if t in self.state.in_dns]
        tmp = self.zone_file.with_name(self.zone_file.name + ".tmp")
        tmp.write_text(pol.zone_text(self.fqdn, addresses, self.serial, self.policy.ttl))
        os.replace(tmp, self.zone_file)
        self.written = self.state.in_dns
        self.counters.writes += 1

    async def round(self) -> pol.Decision:
        results = await asyncio.gather(*(self.probe(t) for t in self.state.targets))
        probes = dict(zip(self.state.targets, results, strict=True))
        self.counters.probes_ok += sum(results)
        self.counters.probes_failed += len(results) - sum(results)
        decision = pol.decide(self.policy, self.state, probes, time.monotonic())
        self.state = decision.state
        c = self.counters
        c.removals += len(decision.removed)
        c.restores += len(decision.restored)
        c.refused += len(decision.refused)
        self.write_zone()
        if decision.removed or decision.restored:
            log("failover", removed=list(decision.removed), restored=list(decision.restored),
                refused=list(decision.refused), in_dns=len(self.state.in_dns))
        return decision

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            await self.round()
            await asyncio.sleep(max(0.0, self.policy.check_interval
                                    - (time.monotonic() - started)))

    # --- HTTP ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        st, limit = self.state, self.policy.velocity_limit
        return {"name": self.fqdn, "enabled": st.enabled,
                "in_dns": [t for t in st.targets if t in st.in_dns],
                "healthy": list(pol.healthy(self.policy, st)),
                "streaks": dict(st.streaks),
                "velocity_limit": None if limit is None else {
                    "max_removed_share": limit.max_removed_share, "interval": limit.interval,
                    "budget": limit.budget(len(st.targets)),
                    "removed_in_window": len(st.removals)},
                "counters": vars(self.counters), "serial": self.serial}

    def admin(self, method: str, path: str, query: str) -> tuple[int, str, bytes]:
        if path == "/failover" and method in ("GET", "HEAD"):
            return 200, "application/json", json.dumps(self.status()).encode() + b"\n"
        if path == "/failover" and method == "POST":
            value = urllib.parse.parse_qs(query).get("enabled", [""])[0].lower()
            if value not in ("true", "false"):
                return 400, "text/plain", b"enabled: give true or false\n"
            self.state = pol.set_enabled(self.state, value == "true")
            log("automatic failover switched", enabled=self.state.enabled)
            return 200, "application/json", json.dumps(self.status()).encode() + b"\n"
        return 404, "text/plain", b"not found: GET /failover, POST /failover?enabled=false\n"

    def collect(self) -> Iterator[Any]:
        """Read from the state at scrape time (the DWFM collector's way)."""
        st, c = self.state, self.counters
        base, labels = ["service", "region", "endpoint"], ["nlb", self.region, self.fqdn]
        targets = GaugeMetricFamily(
            "chaoslab_service_failover_targets",
            "Targets of the endpoint by state: in_dns (in its A records) | removed.",
            labels=[*base, "state"])
        targets.add_metric([*labels, "in_dns"], len(st.in_dns))
        targets.add_metric([*labels, "removed"], len(st.targets) - len(st.in_dns))
        yield targets
        for name, doc, value in (
                ("chaoslab_service_failover_healthy_targets",
                 "Targets passing health checks (healthy_threshold passes in a row).",
                 len(pol.healthy(self.policy, st))),
                ("chaoslab_service_failover_velocity_limit",
                 "1 while the velocity limit is on.",
                 0 if self.policy.velocity_limit is None else 1),
                ("chaoslab_service_failover_enabled",
                 "1 while automatic health-check failover is on.", 1 if st.enabled else 0)):
            g = GaugeMetricFamily(name, doc, labels=base)
            g.add_metric(labels, value)
            yield g
        for name, doc, value in (
                ("chaoslab_service_failover_removals", "Targets taken out of DNS.", c.removals),
                ("chaoslab_service_failover_restores", "Targets put back into DNS.", c.restores),
                ("chaoslab_service_failover_refused",
                 "Removals the velocity limit refused (one per target per check round).",
                 c.refused)):
            counter = CounterMetricFamily(name, doc, labels=base)
            counter.add_metric(labels, value)
            yield counter
        probes = CounterMetricFamily("chaoslab_service_failover_probes",
                                     "Health probes by result: ok | failed.",
                                     labels=[*base, "result"])
        probes.add_metric([*labels, "ok"], c.probes_ok)
        probes.add_metric([*labels, "failed"], c.probes_failed)
        yield probes


def log(msg: str, **fields: Any) -> None:
    """JSON lines on stderr, as the services log."""
    print(json.dumps({"ts": round(time.time(), 3), "service": "nlb", "msg": msg, **fields}),
          file=sys.stderr, flush=True)


async def serve(checker: Checker, http_host: str, http_port: int) -> int:
    """The zone is written before /readyz says ready; runs until SIGTERM/SIGINT."""
    try:
        checker.write_zone()
    except OSError as exc:
        raise ConfigError(f"--zone-file: cannot write {checker.zone_file}: {exc}") from None
    probe_server = ProbeServer(checker)
    await probe_server.start(http_host, http_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    checker.ready = True
    log("checker serving", name=checker.fqdn, targets=list(checker.state.targets),
        http=f"{http_host}:{probe_server.port}", zone_file=str(checker.zone_file))
    task = asyncio.create_task(checker.run())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if task.done() and task.exception() is not None:  # a crashed loop must not look alive
        log("checker loop failed", error=repr(task.exception()))
        code = 1
    for t in (task, stopped):
        t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await t
    await probe_server.close()
    return code
