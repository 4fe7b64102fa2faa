"""Runs the chaoslab plugin's Go tests (parser, handler, directive order) from pytest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

MODULE = Path(__file__).resolve().parents[2] / "dns" / "coredns"


def test_go_unit_tests() -> None:
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is not installed; it is needed by `make tools` to build CoreDNS")
    done = subprocess.run(
        [go, "test", "-count=1", "./..."], cwd=MODULE, capture_output=True, text=True, timeout=540
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok  \tchaoslab.local/dns/coredns/chaoslab" in done.stdout
