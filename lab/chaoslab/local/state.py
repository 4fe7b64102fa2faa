"""`.lab/state.json`: how users, scripts and `chaoslab down` find a running local lab.

The keys `lab`, `kubeconfig`, `dns`, `prometheus`, `locust` and `services` are a contract
(see docs/CONTRACTS.md); the rest is the runtime's own bookkeeping. The node lab (chaoslab.node)
writes the same file with `"lab": "node"`, its cluster DNS and its NodePorts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

LAB_DIR = Path(".lab")


@dataclass
class LabState:
    kubeconfig: str
    dns: str  # "127.0.0.1:PORT" of the lab's CoreDNS
    prometheus: str  # "http://127.0.0.1:PORT"
    locust: str  # "http://127.0.0.1:PORT" (web UI)
    services: dict[str, str]  # endpoint key -> "127.0.0.1:PORT" (gRPC)
    http: dict[str, str] = field(default_factory=dict)  # component -> "127.0.0.1:PORT" (/metrics)
    pids: dict[str, int] = field(default_factory=dict)  # component -> pid (own session)
    logs: str = ""
    workdir: str = ""
    profile: str = ""
    tuning: str = ""  # chaoslab.local.tuning name: stock | storm (custom for an experiment's)
    customer_regions: str = ""  # where Locust's customers live, "us-east-1[,us-west-2]"
    started_at: str = ""
    lab: str = "local"  # "local" or "node" (chaoslab.node): which `down` stops it

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LabState:
        data = json.loads(path.read_text())
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
