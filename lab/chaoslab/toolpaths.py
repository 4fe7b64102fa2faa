"""Where the lab finds its real binaries.

`make tools` puts them in `<repo>/.tools/bin`; `CHAOSLAB_TOOLS` overrides the folder (the
container images put them on PATH). A missing binary is reported with the command that
installs it, never as a bare FileNotFoundError.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


class ToolMissing(RuntimeError):
    pass


def tools_dir() -> Path:
    return Path(os.environ.get("CHAOSLAB_TOOLS", REPO_ROOT / ".tools" / "bin"))


def tool(name: str) -> Path:
    """Absolute path of a pinned tool: `.tools/bin` first, then PATH (containers)."""
    candidate = tools_dir() / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    if "CHAOSLAB_TOOLS" not in os.environ:
        found = shutil.which(name) if name in _PATH_OK else None
        if found:
            return Path(found)
    raise ToolMissing(f"{name} not found in {tools_dir()}: run `make tools` first")


# Tools whose system copy is acceptable; the rest must be the pinned builds (a distro
# coredns lacks the chaoslab plugin, a distro kube-apiserver may not match the CRD).
_PATH_OK = {"dig"}
