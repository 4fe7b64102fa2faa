"""A node that cannot start says which piece is missing and how to get it, and touches
nothing on the host (issue 12: "a node that cannot start")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from chaoslab.node.cluster import SYSTEM_PROGRAMS


def _path_without(tmp_path: Path, *left_out: str) -> Path:
    """A PATH folder with every program the node needs but `left_out`."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for program in [p for p in SYSTEM_PROGRAMS if not p.startswith("/")] + ["env", "sh"]:
        found = shutil.which(program)
        if found and program not in left_out:
            (bindir / program).symlink_to(found)
    return bindir


def test_missing_containerd_is_named_with_the_command_that_installs_it(tmp_path: Path) -> None:
    bindir = _path_without(tmp_path, "containerd", "ctr")
    lab_dir = tmp_path / "lab"
    links_before = _links()
    out = subprocess.run(
        [sys.executable, "-m", "chaoslab.cli", "node", "up", "--lab-dir", str(lab_dir)],
        env={**os.environ, "PATH": str(bindir)}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "the node lab cannot start; missing:" in out.stderr
    assert "containerd: run `make node-tools` or `apt-get install containerd`" in out.stderr
    assert "ctr: run `make node-tools` or `apt-get install containerd`" in out.stderr
    assert "runc" not in out.stderr  # only what is missing is named
    assert not lab_dir.exists()  # nothing was started or recorded
    assert _links() == links_before  # no bridge made


def _links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True)
    return sorted(line.split(":")[1].strip() for line in out.stdout.splitlines())


def test_node_down_with_nothing_running_is_harmless(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "chaoslab.cli", "node", "down", "--lab-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "nothing to do" in out.stdout
