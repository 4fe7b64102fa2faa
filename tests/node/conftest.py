"""One real node for the node tests: started once, its host footprint checked at the end.

The node is heavy (a kubelet, containerd, a dozen pods), so the module's tests share one;
they run in file order, and the last ones uninstall the lab and take the node down.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from chaoslab.local.state import LabState
from chaoslab.node import hostnet, kubelet, layout
from chaoslab.node.cluster import NodeLab, NodeOptions, kubectl
from chaoslab.node.kubelet import PodFigures
from chaoslab.node.layout import NodePaths
from chaoslab.toolpaths import REPO_ROOT

T = TypeVar("T")
MINIMAL = REPO_ROOT / "charts/chaoslab/values-minimal.yaml"


def host_footprint() -> dict[str, object]:
    """What a node lab may change on the host, to compare before and after."""
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {
        "links": sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines()),
        "netns": hostnet.netns_names(),
        "iptables": {t: hostnet.rules(t) for t in hostnet.TABLES},
        "chains": hostnet.chains(),
        "sysctls": hostnet.read_sysctls(),
        "cgroups": hostnet.top_cgroups(),
        "mounts": sorted(line.split()[1] for line in
                         Path("/proc/self/mounts").read_text().splitlines()),
        "routes": subprocess.run(["ip", "route"], capture_output=True, text=True).stdout,
        "addresses": subprocess.run(["ip", "-o", "addr"], capture_output=True,
                                    text=True).stdout,
    }


@dataclass
class RunningNode:
    lab: NodeLab
    state: LabState
    before: dict[str, object]
    pods_at_start: dict[str, PodFigures]  # the kubelet's figures once every pod was Ready

    @property
    def paths(self) -> NodePaths:
        return self.lab.paths

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return kubectl(self.paths, *args, input=input, check=check, timeout=timeout)

    def json(self, *args: str) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def corefile(self) -> str:
        return self.json("-n", "kube-system", "get", "configmap", "coredns")["data"]["Corefile"]


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    lab_dir = tmp_path_factory.mktemp("nodelab")
    before = host_footprint()
    lab = NodeLab(NodeOptions(lab_dir=lab_dir, values=[MINIMAL]))
    t0 = time.monotonic()
    state = lab.up()
    print(f"node lab up in {time.monotonic() - t0:.0f}s")
    try:
        yield RunningNode(lab, state, before, kubelet.read(lab.paths))
    finally:
        from chaoslab.node.cluster import down

        down(lab_dir)  # a no-op when the last test took it down already


def wait_for(what: str, probe: Callable[[], T], timeout: float, interval: float = 0.5) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


__all__ = ["RunningNode", "host_footprint", "layout", "wait_for"]
