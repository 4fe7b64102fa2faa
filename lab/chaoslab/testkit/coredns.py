"""The tests' and benchmarks' CoreDNS: the project's build, started and probed one way.

`launch(workdir, render)` picks two free ports (`chaoslab.procs.free_port`), writes
`render(dns_port, metrics_port)` as the Corefile, starts `.tools/bin/coredns` through
`chaoslab.procs.spawn` (its own session, its log beside the Corefile) and returns once it
answers; `start` does the same for a Corefile already written (e.g. by a projector). A
Corefile is reloaded with SIGUSR1 (`rewrite`), the lab's one reload mechanism. The lab
runtime (`chaoslab.local.runtime`) starts its own CoreDNS: production never imports this.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.message
import dns.query

from chaoslab.procs import ComponentFailed, Proc, free_port, spawn, wait_until
from chaoslab.toolpaths import tools_dir


def coredns_binary() -> Path:
    """The project's CoreDNS build; a clear instruction when it is missing.

    ``CHAOSLAB_COREDNS`` may point elsewhere for development only.
    """
    path = Path(os.environ.get("CHAOSLAB_COREDNS") or tools_dir() / "coredns")
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise RuntimeError(f"CoreDNS binary not found at {path}: run `make tools` first "
                           "(it builds .tools/bin/coredns)")
    return path


@dataclass
class DigResult:
    status: str
    flags: set[str]
    answers: list[tuple[str, str, str]]  # (name, type, data)
    text: str
    exit_code: int


@dataclass
class CoreDNS:
    """One running CoreDNS on 127.0.0.1 and the ways tests talk to it."""

    port: int
    metrics_port: int | None
    corefile: Path
    proc: Proc = field(repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def query(self, name: str, rdtype: str = "A", *, tcp: bool = False,
              timeout: float = 2.0) -> dns.message.Message:
        q = dns.message.make_query(name, rdtype)
        if tcp:
            return dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=timeout)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=timeout)

    def dig(self, name: str, rdtype: str = "A", *options: str) -> DigResult:
        """What `dig` (a client the lab does not write) makes of the answer."""
        dig = shutil.which("dig")
        if dig is None:
            raise RuntimeError("dig is not installed: run `make tools` (it installs Debian's "
                               "dnsutils)")
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
            self.reload()

    def reload(self) -> None:
        self.proc.popen.send_signal(signal.SIGUSR1)

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

    def log_text(self, n: int = 4000) -> str:
        try:
            return self.proc.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        self.proc.stop()

    def __enter__(self) -> CoreDNS:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def answers_anything(server: CoreDNS) -> bool:
    """Ready = any DNS reply over UDP and TCP (REFUSED for a name outside its zones counts)."""
    server.query("ready.invalid", "SOA", timeout=0.3)
    server.query("ready.invalid", "SOA", tcp=True, timeout=0.3)
    return True


def start(corefile: Path, port: int, *, metrics_port: int | None = None,
          default_port: bool = False, ready: Callable[[CoreDNS], bool] = answers_anything,
          timeout: float = 15.0, binary: str | Path | None = None) -> CoreDNS:
    """CoreDNS serving the Corefile already at `corefile` (its log beside it), once `ready`.

    `default_port` passes `-dns.port` too, for Corefiles whose blocks name no port. On a
    timeout or an early exit it is stopped and ComponentFailed carries its log's tail.
    """
    argv: list[str | os.PathLike[str]] = [binary or coredns_binary(), "-conf", corefile]
    if default_port:
        argv += ["-dns.port", str(port)]
    proc = spawn("coredns", argv, corefile.parent / "coredns.log", cwd=corefile.parent)
    server = CoreDNS(port, metrics_port, corefile, proc)
    try:
        wait_until(f"CoreDNS on {server.address}", lambda: ready(server), timeout, [proc],
                   interval=0.05)
    except ComponentFailed as exc:
        server.stop()
        raise ComponentFailed(f"{exc}\n{server.log_text(2000)}") from None
    return server


def launch(workdir: Path, render: Callable[[int, int], str], *,
           ready: Callable[[CoreDNS], bool] = answers_anything, timeout: float = 15.0,
           binary: str | Path | None = None) -> CoreDNS:
    """CoreDNS on two fresh ports: `render(dns_port, metrics_port)` is its Corefile."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, metrics_port = free_port(), free_port()
    corefile = workdir / "Corefile"
    corefile.write_text(render(port, metrics_port))
    return start(corefile, port, metrics_port=metrics_port, ready=ready, timeout=timeout,
                 binary=binary)
