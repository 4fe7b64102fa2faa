"""Child processes that never outlive the lab.

Every component runs in its own session (process group) with its output in a log file,
so stopping it kills everything it spawned and a failure can point at the log.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


class ComponentFailed(RuntimeError):
    pass


_EPHEMERAL_FALLBACK = (32768, 60999)
_LISTEN_FLOOR = 10000  # below this sit well-known and registered fixed ports
_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return _EPHEMERAL_FALLBACK


def _candidates() -> list[int]:
    low, high = _ephemeral_range()
    ports = [p for p in range(_LISTEN_FLOOR, 65536) if not low <= p <= high]
    return ports or list(range(_LISTEN_FLOOR, 65536))


def _bindable(host: str, port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP (DNS needs both), for a child to bind later.

    Chosen outside the kernel's ephemeral range: a port from ``bind(0)`` is ephemeral, and
    between our probe closing and the child binding, any outgoing connection on the machine
    may take it (CI failed on exactly that). Ports outside the range are only ever taken by
    an explicit bind. A port is handed out once per process.
    """
    pool = _candidates()
    for _ in range(200):
        port = random.choice(pool)
        if port in _handed_out or not _bindable(host, port):
            continue
        _handed_out.add(port)
        return port
    raise OSError(f"no free TCP+UDP port on {host} after 200 tries")


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise ComponentFailed(
                f"{self.name} exited with code {self.popen.returncode}; see {self.log}\n"
                + log_tail(self.log)
            )

    def stop(self, timeout: float = 10.0) -> None:
        stop_pid(self.pid, timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=1)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends.

    Between a child's fork and its entry in the lab's list there is no one to stop it; an
    interrupt landing there would leave it running after the lab is gone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: object) -> None:
        pending.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        if pending:
            signal.raise_signal(pending[0])


def spawn(
    name: str,
    argv: Sequence[str | os.PathLike[str]],
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    into: list[Proc] | None = None,
) -> Proc:
    """Start `argv` in its own session, output to `log`; appended to `into` before any
    interrupt can unwind the caller, so whoever owns `into` always stops it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with interrupts_deferred(), open(log, "ab") as out:
        popen = subprocess.Popen(
            [os.fspath(a) for a in argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
        proc = Proc(name, popen, log)
        if into is not None:
            into.append(proc)
    return proc


def processes_mentioning(text: str | os.PathLike[str]) -> list[tuple[int, str]]:
    """(pid, command line) of every other process whose command line contains `text`.

    Every lab component is started with the lab's folder in its arguments, so this finds
    what a stopped lab left running.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if os.fspath(text) in cmdline:
            found.append((int(entry.name), cmdline))
    return found


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after `timeout`.

    One signal each: a group leader is in its own group, and a second SIGTERM reaches
    handlers that expect one (kopf's set_result -> asyncio InvalidStateError in the log).
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:  # not a group leader: signal the process alone
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        except PermissionError:
            pass
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 5)
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
            if not pid_alive(pid):
                return
            time.sleep(0.05)


def wait_until(
    what: str,
    probe: Callable[[], bool],
    timeout: float,
    procs: Sequence[Proc] = (),
    interval: float = 0.1,
) -> None:
    """Poll `probe` until true; fail early, naming the log, if a watched process died."""
    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            proc.check_alive()
        with contextlib.suppress(Exception):
            if probe():
                return
        if time.monotonic() > deadline:
            logs = ", ".join(str(p.log) for p in procs)
            raise ComponentFailed(f"timed out after {timeout:.0f}s waiting for {what}; see {logs}")
        time.sleep(interval)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (e.g. a CI timeout) stops a lab as cleanly as Ctrl-C does."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
