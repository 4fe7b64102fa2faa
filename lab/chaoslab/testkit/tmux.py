"""A real terminal for tests: a private tmux server, its screen read back as a person sees it.

Each `Terminal` has its own socket, so it never touches a user's tmux sessions, and
`close()` ends that server and everything running in it. Commands run in a shell that
prints `watch exited N` when they end and then how the terminal is set (`stty`), so a test
can see both the exit status and whether the program gave the terminal back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

# Without COLUMNS/LINES: programs in the pane must see the pane's size, not the size a parent
# exported (pytest-xdist's workers export 80x24, which wins over the tty in get_terminal_size).
ENV = {**{k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
       "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "xterm-256color"}
EPILOGUE = 'echo "watch exited $?"; stty -a | grep -o -- "-\\?icanon"; sleep 600'


class Terminal:
    """One private tmux server; each `run` is a session of `width` x `height` characters."""

    def __init__(self, socket: Path, width: int = 140, height: int = 50) -> None:
        tmux = shutil.which("tmux")
        assert tmux, "tmux is missing: run `make tools` (it installs Debian's tmux package)"
        self.base = [tmux, "-u", "-S", str(socket)]
        self.width, self.height = width, height
        self.started: list[str] = []

    def tmux(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], env=ENV, capture_output=True, text=True,
                              check=True, timeout=10).stdout

    def run(self, session: str, command: str) -> None:
        """`command` in a new session; the shell stays to print its exit status."""
        self.tmux("new-session", "-d", "-s", session, "-x", str(self.width), "-y",
                  str(self.height), f"{command}; {EPILOGUE}")
        self.started.append(session)

    def screen(self, session: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", session)

    def keys(self, session: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", session, *keys)

    def command_pid(self, session: str) -> int:
        """The pid of the command the session's shell is running."""
        shell = int(self.tmux("list-panes", "-t", session, "-F", "#{pane_pid}").split()[0])
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        assert children, f"session {session}: its shell runs nothing"
        return int(children[0])

    def close(self) -> None:
        if self.started:
            subprocess.run([*self.base, "kill-server"], env=ENV, capture_output=True,
                           timeout=10)


def wait_screen(term: Terminal, session: str, what: str, ok: Callable[[str], bool],
                timeout: float) -> tuple[str, float]:
    """The first screen for which `ok` holds, and how long it took; fails with the last."""
    start = time.monotonic()
    screen = ""
    while time.monotonic() - start < timeout:
        screen = term.screen(session)
        if ok(screen):
            return screen, time.monotonic() - start
        time.sleep(0.25)
    raise AssertionError(f"no {what} on screen within {timeout:.0f}s; last screen:\n{screen}")
