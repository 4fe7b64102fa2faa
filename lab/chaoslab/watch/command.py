"""`chaoslab watch`: the command line, and the terminal loop that redraws once a second.

The loop owns the terminal only while it runs: the alternate screen, a hidden cursor and
unbuffered keys (`q` quits; Ctrl-C still raises SIGINT), all restored on any way out —
`q`, Ctrl-C, SIGTERM or an error. Plain ANSI escapes, no curses.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import select
import shutil
import signal
import sys
import termios
import time
import tty
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from chaoslab.watch.frame import Snapshot, render
from chaoslab_report.command import slo_fraction

DESCRIPTION = """\
A live terminal view of a running lab, redrawn every second: the OutageScenarios and
their phases (from the Kubernetes API), each customer workflow's success and each
service's availability and p99 latency as sparklines over the last minute (DEGRADED when
below the SLO), and the DNS answers CoreDNS faulted per second, by mode and scenario.

The figures come from the lab's Prometheus through the very queries of the Grafana
dashboards (chaoslab_report.dashboards). Prometheus and the kubeconfig are found in
LAB_DIR/state.json, written by `chaoslab up --local` (or `chaoslab node up`); --prometheus
and --kubeconfig point it elsewhere. When Prometheus stops answering the view says so
and keeps the last figures, marked with their age.

Keys: q quits, as does Ctrl-C. --once prints one frame and exits (0 when Prometheus and
Kubernetes both answered, 1 when either did not); exit 2 when no lab is found.

  chaoslab up --local && chaoslab watch
  chaoslab watch --once --width 120 > frame.txt
"""


class NoLab(Exception):
    """Nothing to watch: no state file and no --prometheus."""


class _Terminated(Exception):
    """SIGTERM, raised in the loop so the terminal is restored on the way out."""


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text!r}")
    return value


def _seconds(text: str) -> int:
    value = int(text)
    if not 4 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be 4..3600 seconds, got {text!r}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "watch", help="a live terminal view of a running lab: scenarios, tiers, DNS faults, "
        "every second", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lab-dir", type=Path, default=Path(".lab"),
                   help="the lab's directory, holding state.json (default: %(default)s)")
    p.add_argument("--prometheus", metavar="URL",
                   help="Prometheus base URL (default: the lab's, from state.json)")
    p.add_argument("--kubeconfig", metavar="FILE", type=Path,
                   help="read OutageScenarios through this kubeconfig (default: the lab's; "
                   "without one, scenarios come from the operator's metric, without phases)")
    p.add_argument("--once", action="store_true",
                   help="print one frame (no colour unless --color always) and exit")
    p.add_argument("--interval", type=_positive, default=1.0, metavar="SECONDS",
                   help="seconds between frames (default: %(default)s)")
    p.add_argument("--history", type=_seconds, default=60, metavar="SECONDS",
                   help="seconds of history in the sparklines, 1 s a character, as the "
                   "width allows (default: %(default)s)")
    p.add_argument("--slo", type=slo_fraction, default=0.99,
                   help="availability objective: below it a tier is DEGRADED "
                   "(default: %(default)s)")
    p.add_argument("--timeout", type=_positive, default=2.0, metavar="SECONDS",
                   help="how long each Prometheus or Kubernetes call may take "
                   "(default: %(default)s)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="ANSI colour: auto = on a terminal, unless NO_COLOR is set "
                   "(default: %(default)s)")
    p.add_argument("--ascii", action="store_true",
                   help="ASCII sparklines (the default when the output is not UTF-8)")
    p.add_argument("--width", type=int, metavar="COLUMNS",
                   help="frame width (default: the terminal's, else $COLUMNS, else 100)")
    p.set_defaults(func=run)


def _kubeconfig_of(state: dict[str, Any], lab_dir: Path) -> Path | None:
    """The state's kubeconfig; a relative one is tried from here, then inside LAB_DIR."""
    raw = state.get("kubeconfig")
    if not raw:
        return None
    path = Path(raw)
    if path.is_absolute() or path.exists():
        return path
    inside = lab_dir / path.name
    return inside if inside.exists() else path


def resolve(args: argparse.Namespace) -> tuple[str, Path | None, Path | None]:
    """(Prometheus URL, kubeconfig, state file to keep an eye on) from flags and state.json."""
    state_file = args.lab_dir / "state.json"
    state: dict[str, Any] = {}
    if state_file.exists():
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError) as exc:
            raise NoLab(f"cannot read {state_file}: {exc}") from None
    elif not args.prometheus:
        raise NoLab(f"no lab is running here ({state_file} does not exist). Start one with "
                    "`chaoslab up --local` (make up LAB=local), pass --lab-dir DIR for a lab "
                    "started elsewhere, or --prometheus URL [--kubeconfig FILE]")
    url = args.prometheus or state.get("prometheus")
    if not url:
        raise NoLab(f"{state_file} names no Prometheus; pass --prometheus URL")
    kubeconfig = args.kubeconfig or _kubeconfig_of(state, args.lab_dir)
    return url, kubeconfig, (state_file if state else None)


def _unicode(stream: TextIO) -> bool:
    return (getattr(stream, "encoding", "") or "").lower().replace("-", "").startswith("utf")


def _color(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def run(args: argparse.Namespace) -> int:
    from chaoslab.watch.sources import Sources  # the Prometheus and Kubernetes clients

    try:
        url, kubeconfig, state_file = resolve(args)
    except NoLab as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sources = Sources(url, kubeconfig, history=args.history, timeout=args.timeout,
                      state_file=state_file)
    out = sys.stdout
    style = {"unicode": _unicode(out) and not args.ascii, "history": args.history}
    if args.once:
        snap = dataclasses.replace(sources.snapshot(), slo=args.slo, interval=args.interval)
        width = args.width or shutil.get_terminal_size((100, 1000)).columns
        height = shutil.get_terminal_size().lines if out.isatty() else 10_000
        color = args.color == "always"
        out.write("\n".join(render(snap, width, height, color=color, **style)) + "\n")
        return 1 if snap.prometheus_error or snap.kubernetes_error else 0
    return Screen(out, sys.stdin).watch(
        lambda keys: dataclasses.replace(sources.snapshot(), slo=args.slo,
                                         interval=args.interval, keys=keys),
        args.interval, color=_color(args.color, out), width=args.width, **style)


class Screen:
    """The terminal while watching: alternate screen, hidden cursor, keys without Enter."""

    def __init__(self, out: TextIO, keys_in: TextIO) -> None:
        self.out, self.keys_in = out, keys_in
        self.keys = keys_in.isatty()
        self._saved: list[Any] | None = None
        self._wake_r, self._wake_w = os.pipe()  # SIGWINCH writes here: redraw at once

    def __enter__(self) -> Screen:
        if self.out.isatty():
            self.out.write("\x1b[?1049h\x1b[?25l")
            self.out.flush()
        if self.keys:
            fd = self.keys_in.fileno()
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)  # keys arrive one by one; Ctrl-C still sends SIGINT
        return self

    def __exit__(self, *_: object) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.keys_in.fileno(), termios.TCSADRAIN, self._saved)
        if self.out.isatty():
            self.out.write("\x1b[?25h\x1b[?1049l")
            self.out.flush()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def draw(self, lines: list[str]) -> None:
        self.out.write("\x1b[H" + "\x1b[K\n".join(lines) + "\x1b[K\x1b[J")
        self.out.flush()

    def wait(self, seconds: float) -> str:
        """Keys typed within `seconds` ("" if none); returns early on a resize."""
        watched = [self._wake_r] + ([self.keys_in.fileno()] if self.keys else [])
        ready, _, _ = select.select(watched, [], [], max(0.0, seconds))
        if self._wake_r in ready:
            os.read(self._wake_r, 64)
            return "\x00"  # resized
        if ready:
            return os.read(self.keys_in.fileno(), 64).decode(errors="replace")
        return ""

    def watch(self, snapshot: Callable[[bool], Snapshot], interval: float, *, color: bool,
              width: int | None, unicode: bool, history: int) -> int:
        """Draw a frame every `interval` seconds until `q` or Ctrl-C (exit code 0) or SIGTERM
        (143), the terminal restored each time."""

        def on_resize(_sig: int, _frame: FrameType | None) -> None:
            with contextlib.suppress(OSError):  # the pipe is closed once the loop ended
                os.write(self._wake_w, b"r")

        def on_term(_sig: int, _frame: FrameType | None) -> None:
            raise _Terminated

        old = {s: signal.signal(s, h) for s, h in ((signal.SIGWINCH, on_resize),
                                                   (signal.SIGTERM, on_term))}
        try:
            with self:
                while True:
                    started = time.monotonic()
                    snap = snapshot(self.keys)
                    while True:
                        size = shutil.get_terminal_size()
                        self.draw(render(snap, width or size.columns, size.lines, color=color,
                                         unicode=unicode, history=history))
                        left = started + interval - time.monotonic()
                        typed = self.wait(left) if left > 0 else ""
                        if "q" in typed.lower():
                            return 0
                        if not typed:
                            break  # time for new figures
                        # a resize or another key: redraw the same figures
        except KeyboardInterrupt:
            return 0
        except _Terminated:
            return 128 + signal.SIGTERM
        finally:
            for s, h in old.items():
                with contextlib.suppress(ValueError, TypeError):
                    signal.signal(s, h)
