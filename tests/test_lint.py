"""The codebase stays ruff-clean: style is part of the suite, not a separate chore."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from chaoslab.toolpaths import REPO_ROOT


def test_ruff_is_clean() -> None:
    ruff = Path(sys.executable).parent / "ruff"
    out = subprocess.run([str(ruff), "check", "--no-cache", str(REPO_ROOT)],
                         capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
