"""`make demo` and `make up LAB=local` install only the tools the local lab runs.

The subset (`LAB_TOOLS` in the Makefile) must still cover every binary the local lab, its
control plane and the demo look up with `chaoslab.toolpaths.tool`, or a first `make demo`
on a fresh machine would stop at a missing tool.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Which `tools/install.sh` step installs each binary.
STEP_OF = {"kube-apiserver": "k8s", "kubectl": "k8s", "coredns": "coredns", "etcd": "etcd",
           "prometheus": "prometheus", "promtool": "prometheus", "helm": "helm",
           "dig": "dig", "chromium": "chromium", "tmux": "tmux", "dnsperf": "dnsperf"}
LAB = REPO / "lab" / "chaoslab"
LOCAL_LAB = [*(LAB / "controlplane").glob("*.py"), *(LAB / "local").glob("*.py")]


def install_steps(target: str, *make_args: str) -> set[str]:
    """The steps `make -n TARGET` would pass to tools/install.sh (all of them for none)."""
    out = subprocess.run(["make", "-n", "--no-print-directory", target, *make_args], cwd=REPO,
                         capture_output=True, text=True, check=True, timeout=30).stdout
    calls = [line.split()[1:] for line in out.splitlines() if line.startswith("tools/install.sh")]
    assert calls, f"make -n {target} installs no tools:\n{out}"
    return {step for args in calls for step in (args or set(STEP_OF.values()))}


def test_the_demo_installs_what_the_local_lab_runs_and_no_more() -> None:
    needed = {STEP_OF[name] for path in LOCAL_LAB
              for name in re.findall(r'\btool\("([a-z-]+)"\)', path.read_text())}
    assert needed == {"k8s", "coredns", "etcd", "prometheus"}, needed
    assert install_steps("demo") == needed
    assert install_steps("up", "LAB=local") == needed


def test_make_tools_still_installs_everything() -> None:
    assert install_steps("tools") == set(STEP_OF.values())
