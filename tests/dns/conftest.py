"""Fixtures that run the real CoreDNS (``.tools/bin/coredns``, built by ``make tools``).

Every server listens on 127.0.0.1 only, on ports the kernel picked as free, and is
stopped by pid when its fixture ends. Missing tools fail the run (never skip) with a
message naming ``make tools``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from chaoslab.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
COREDNS = ROOT / ".tools" / "bin" / "coredns"


@dataclass
class DigResult:
    status: str
    flags: set[str]
    answers: list[tuple[str, str, str]]  # (name, type, data)
    text: str
    exit_code: int


@dataclass
class CoreDNS:
    """One running CoreDNS and the ways the tests talk to it."""

    port: int
    metrics_port: int
    corefile: Path
    log: Path
    proc: subprocess.Popen[bytes] = field(repr=False)

    def query(
        self, name: str, rdtype: str = "A", *, tcp: bool = False, timeout: float = 2.0
    ) -> dns.message.Message:
        q = dns.message.make_query(name, rdtype)
        if tcp:
            return dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=timeout)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=timeout)

    def dig(self, name: str, rdtype: str = "A", *options: str) -> DigResult:
        dig = shutil.which("dig")
        if dig is None:
            pytest.fail("dig is not installed: run `make tools` (it installs Debian's dnsutils)")
        cmd = [dig, "@127.0.0.1", "-p", str(self.port), name, rdtype]
        cmd += ["+noall", "+comments", "+answer", "+time=1", "+tries=1", *options]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        status = re.search(r"status: ([A-Z]+)", out.stdout)
        flags = re.search(r";; flags: ([a-z ]+);", out.stdout)
        answers = []
        for line in out.stdout.splitlines():
            if line and not line.startswith(";"):
                parts = line.split()
                answers.append((parts[0], parts[3], " ".join(parts[4:])))
        return DigResult(
            status=status.group(1) if status else "",
            flags=set(flags.group(1).split()) if flags else set(),
            answers=answers,
            text=out.stdout + out.stderr,
            exit_code=out.returncode,
        )

    def rewrite(self, text: str, *, signal_reload: bool = True) -> None:
        """Write a new Corefile and, by default, reload it now with SIGUSR1."""
        self.corefile.write_text(text)
        if signal_reload:
            self.proc.send_signal(signal.SIGUSR1)

    def wait_until(self, check: Callable[[], bool], limit: float = 5.0) -> float:
        """Poll ``check`` until it holds; return the seconds it took."""
        start = time.monotonic()
        while True:
            try:
                if check():
                    return time.monotonic() - start
            except dns.exception.DNSException:
                pass
            if time.monotonic() - start > limit:
                raise AssertionError(f"condition not met within {limit}s; log:\n{self.log_text()}")
            time.sleep(0.02)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def _ready(server: CoreDNS, limit: float) -> None:
    """Ready = any DNS reply over UDP and TCP (REFUSED for a name outside its zones counts)."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if server.proc.poll() is not None:
            pytest.fail(f"coredns exited with {server.proc.returncode}; log:\n{server.log_text()}")
        try:
            server.query("ready.invalid", "SOA", timeout=0.3)
            server.query("ready.invalid", "SOA", tcp=True, timeout=0.3)
            return
        except (dns.exception.DNSException, OSError):
            time.sleep(0.05)
    server.stop()
    pytest.fail(f"coredns did not answer within {limit}s; log:\n{server.log_text()}")


Launcher = Callable[..., CoreDNS]


@pytest.fixture(scope="session")
def pick_port() -> Callable[[], int]:
    """``pick_port()`` -> a free 127.0.0.1 port (for a Corefile's extra listeners)."""
    return free_port


@pytest.fixture(scope="session")
def coredns_bin() -> Path:
    if not os.access(COREDNS, os.X_OK):
        pytest.fail(
            f"{COREDNS} is missing: run `make tools` (builds CoreDNS with the chaoslab plugin)"
        )
    return COREDNS


@pytest.fixture(scope="session")
def launch(coredns_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    """``launch(make_corefile, ready_within=10)`` starts CoreDNS on fresh ports.

    ``make_corefile(dns_port, metrics_port) -> str`` renders the Corefile; every server still
    running at the end of the session is stopped.
    """
    started: list[CoreDNS] = []

    def start(make_corefile: Callable[[int, int], str], ready_within: float = 10.0) -> CoreDNS:
        workdir = tmp_path_factory.mktemp("coredns")
        port, metrics_port = free_port(), free_port()
        corefile = workdir / "Corefile"
        corefile.write_text(make_corefile(port, metrics_port))
        log = workdir / "coredns.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [str(coredns_bin), "-conf", str(corefile)],
                cwd=workdir,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        server = CoreDNS(port, metrics_port, corefile, log, proc)
        started.append(server)
        _ready(server, ready_within)
        return server

    yield start
    for server in started:
        server.stop()
