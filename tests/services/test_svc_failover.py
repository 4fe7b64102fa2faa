"""Health-checked DNS failover against real processes: CoreDNS, 8 targets, two checkers.

Eight target processes on 127.0.0.201-208 (one port), two checkers probing the same
targets and writing the zones CoreDNS's stock ``file`` plugin serves (reload 1 s):
``nlb.us-east-1.aws.internal`` with the velocity limit (a quarter of the group per 30 s)
and ``nlb-unlimited.us-east-1.aws.internal`` without it. One target is stopped for real,
then the other seven lose "network propagation": their health path fails while their data
path serves (2025-10-20's NLB case); at the end the operator switches failover off. One
test, in order: each step spends the limited checker's removal budget. The ground truth
is which processes we left serving, checked through their data path; the answers are
real DNS queries (dnspython).
"""

from __future__ import annotations

import json
import math
import socket
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import yaml

from chaoslab.procs import Proc, free_port, spawn, wait_until
from chaoslab.testkit import coredns

TARGETS = tuple(f"127.0.0.{i}" for i in range(201, 209))
LIMITED = "nlb.us-east-1.aws.internal"
UNLIMITED = "nlb-unlimited.us-east-1.aws.internal"
SHARE = 0.25
FLOOR = math.ceil((1 - SHARE) * len(TARGETS))  # 6 of 8 kept in DNS within a window
POLICY = {"check_interval": "500ms", "timeout": "450ms", "unhealthy_threshold": 2,
          "healthy_threshold": 2, "ttl": 1}


def _port_free_on_all() -> int:
    for _ in range(20):
        port = free_port()
        socks = []
        try:
            for addr in TARGETS:
                s = socket.socket()
                socks.append(s)
                s.bind((addr, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no port free on every target address")


@dataclass
class Fleet:
    dns: coredns.CoreDNS
    port: int
    targets: dict[str, Proc]
    checkers: dict[str, tuple[Proc, int]]  # name -> (process, http port)

    def answers(self, name: str) -> tuple[str, set[str]]:
        reply = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1",
                              port=self.dns.port, timeout=1.0)
        got = {r.address for rr in reply.answer if rr.rdtype == dns.rdatatype.A for r in rr}
        return dns.rcode.to_text(reply.rcode()), got

    def serves(self, addr: str) -> bool:
        """Ground truth: the data path answers."""
        try:
            with urllib.request.urlopen(f"http://{addr}:{self.port}/", timeout=1) as resp:
                return json.loads(resp.read())["target"] == addr
        except OSError:
            return False

    def propagate(self, addr: str, value: bool) -> None:
        req = urllib.request.Request(
            f"http://{addr}:{self.port}/admin/propagated?value={str(value).lower()}",
            data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=2) as resp:
            assert json.loads(resp.read()) == {"propagated": value}

    def status(self, name: str) -> dict:
        port = self.checkers[name][1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/failover", timeout=2) as resp:
            return json.loads(resp.read())

    def switch(self, name: str, *, enabled: bool) -> None:
        port = self.checkers[name][1]
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/failover?enabled={str(enabled).lower()}", data=b"",
            method="POST")
        with urllib.request.urlopen(req, timeout=2) as resp:
            assert json.loads(resp.read())["enabled"] is enabled

    def metric(self, name: str, family: str) -> float:
        port = self.checkers[name][1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(family + "{"):
                    return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{family} not in {name}'s /metrics")


def _start(workdir: Path, procs: list[Proc]) -> Fleet:
    port = _port_free_on_all()
    py = [sys.executable, "-m", "chaoslab_services.nlb"]
    targets = {a: spawn(f"target-{a}", [*py, "target", "--listen", f"{a}:{port}"],
                        workdir / f"target-{a}.log", into=procs) for a in TARGETS}
    checkers: dict[str, tuple[Proc, int]] = {}
    for name, limit in ((LIMITED, {"max_removed_share": SHARE, "interval": "30s"}),
                        (UNLIMITED, None)):
        config = workdir / f"{name}.yaml"
        config.write_text(yaml.safe_dump({"failover": {**POLICY, "velocity_limit": limit}}))
        http = free_port()
        proc = spawn(f"checker-{name}", [*py, "checker", "--name", name, "--targets",
                                          ",".join(TARGETS), "--port", str(port),
                                          "--zone-file", workdir / f"{name}.db",
                                          "--http", f"127.0.0.1:{http}", "--config", config],
                     workdir / f"checker-{name}.log", into=procs)
        checkers[name] = (proc, http)
    for name, (proc, http) in checkers.items():
        wait_until(f"checker {name}", lambda h=http: urllib.request.urlopen(
            f"http://127.0.0.1:{h}/readyz", timeout=1).status == 200, 20, [proc])
    dns_port = free_port()
    corefile = workdir / "Corefile"
    corefile.write_text("".join(
        f"{name}:{dns_port} {{\n    bind 127.0.0.1\n    errors\n"
        f"    file {workdir / (name + '.db')} {{\n        reload 1s\n    }}\n}}\n"
        for name in (LIMITED, UNLIMITED)))
    server = coredns.start(corefile, dns_port)
    procs.append(server.proc)
    return Fleet(server, port, targets, checkers)


@pytest.fixture
def fleet(coredns_binary, tmp_path_factory) -> Iterator[Fleet]:
    procs: list[Proc] = []
    try:
        yield _start(tmp_path_factory.mktemp("failover"), procs)
    finally:
        for proc in reversed(procs):
            proc.stop()


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"{what}: not after {timeout}s"
        time.sleep(0.1)
    return time.monotonic() - start


def test_velocity_limit_keeps_healthy_capacity_that_unlimited_failover_removes(fleet) -> None:
    both = (LIMITED, UNLIMITED)
    wait_for("every target in DNS and healthy", lambda: all(
        fleet.answers(n) == ("NOERROR", set(TARGETS))
        and len(fleet.status(n)["healthy"]) == len(TARGETS) for n in both), 15)
    assert all(fleet.serves(a) for a in TARGETS)

    # 1. One target down for real: both checkers take it out of DNS.
    down = TARGETS[0]
    fleet.targets[down].stop()
    serving = set(TARGETS) - {down}
    assert not fleet.serves(down) and all(fleet.serves(a) for a in serving)
    took = wait_for("the down target out of both answers",
                    lambda: all(fleet.answers(n) == ("NOERROR", serving) for n in both), 10)

    # 2. The other seven lose propagation: health fails, data path serves.
    for addr in sorted(serving):
        fleet.propagate(addr, False)
    window_start, samples = time.monotonic(), {n: [] for n in both}
    while time.monotonic() - window_start < 8.0:
        for n in both:
            samples[n].append(fleet.answers(n))
        time.sleep(0.2)
    assert all(fleet.serves(a) for a in serving), "ground truth: the seven still serve"

    unlimited = samples[UNLIMITED]
    assert unlimited[-1] == ("NOERROR", set()), unlimited[-1]       # NODATA: emptied
    emptied_at = next(i for i, (_, got) in enumerate(unlimited) if not got)
    assert all(not got for _, got in unlimited[emptied_at:])

    limited = samples[LIMITED]
    counts = [len(got) for _, got in limited]
    assert min(counts) >= FLOOR, counts
    assert all(got <= serving for _, got in limited), "only serving targets answered"
    # Budget 2 of 8 spent: the down one and a healthy one (or one a slow probe failed).
    assert FLOOR <= counts[-1] < len(serving)
    st = fleet.status(LIMITED)
    assert st["velocity_limit"]["removed_in_window"] == 2 and st["counters"]["refused"] > 0
    assert fleet.metric(LIMITED, "chaoslab_service_failover_refused_total") > 0
    assert fleet.metric(UNLIMITED, "chaoslab_service_failover_refused_total") == 0
    assert fleet.status(UNLIMITED)["in_dns"] == []

    # 3. Propagation completes: both put the seven back (no limit on restoring).
    for addr in sorted(serving):
        fleet.propagate(addr, True)
    back = wait_for("the seven back in both answers",
                    lambda: all(fleet.answers(n) == ("NOERROR", serving) for n in both), 10)

    # 4. The operator's switch (AWS disabled automatic failover at 9:36 AM): with the
    # seven failing again, every target answers, the truly-down one included.
    for addr in sorted(serving):
        fleet.propagate(addr, False)
    wait_for("unlimited empty again", lambda: fleet.answers(UNLIMITED)[1] == set(), 10)
    fleet.switch(UNLIMITED, enabled=False)
    wait_for("every target back", lambda: fleet.answers(UNLIMITED)[1] == set(TARGETS), 10)
    assert fleet.metric(UNLIMITED, "chaoslab_service_failover_enabled") == 0
    print(f"down target removed in {took:.1f}s; unlimited empty after "
          f"{emptied_at * 0.2:.1f}s of sampling; limited min {min(counts)}/8; "
          f"restored in {back:.1f}s")
