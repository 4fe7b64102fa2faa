"""`chaoslab status`: is every component of the running local lab alive and healthy?"""

from __future__ import annotations

import contextlib
import subprocess
from dataclasses import dataclass

from chaoslab.local import runtime
from chaoslab.local.state import LabState
from chaoslab.procs import pid_alive
from chaoslab.toolpaths import tool


@dataclass(frozen=True)
class ComponentHealth:
    name: str
    pid: int
    alive: bool
    healthy: bool
    detail: str


def _port(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def _probe(name: str, state: LabState) -> tuple[bool, str]:
    """One health probe per kind of component; (healthy, what was checked)."""
    if name == "kube-apiserver":
        out = subprocess.run(
            [str(tool("kubectl")), f"--kubeconfig={state.kubeconfig}", "get", "--raw", "/readyz"],
            capture_output=True, text=True, timeout=5)
        return out.stdout.strip() == "ok", "/readyz"
    if name == "etcd":
        return True, "process"
    if name == "coredns":
        return runtime.dns_answers(_port(state.dns), runtime.PROBE_NAME), f"A {runtime.PROBE_NAME}"
    if name == "prometheus":
        return runtime.http_ok(_port(state.prometheus), "/-/ready"), state.prometheus
    if name == "locust":
        return runtime.http_ok(_port(state.locust), "/"), state.locust
    if name.startswith("service-"):
        return runtime.http_ok(_port(state.http[name]), "/readyz"), state.http[name] + "/readyz"
    if name in state.http:
        return runtime.http_ok(_port(state.http[name]), "/healthz"), state.http[name] + "/healthz"
    return True, "process"


def check(state: LabState) -> list[ComponentHealth]:
    rows = []
    for name, pid in state.pids.items():
        alive = pid_alive(pid)
        healthy, detail = False, "not running"
        if alive:
            try:
                healthy, detail = _probe(name, state)
            except Exception as exc:  # a probe failure is a finding, not a crash
                detail = f"probe failed: {exc}"
        rows.append(ComponentHealth(name, pid, alive, healthy and alive, detail))
    return rows


def render(rows: list[ComponentHealth]) -> str:
    width = max((len(r.name) for r in rows), default=10)
    lines = [f"{'COMPONENT':<{width}}  {'PID':>7}  STATUS     CHECK"]
    for r in rows:
        status = "healthy" if r.healthy else ("UNHEALTHY" if r.alive else "DOWN")
        lines.append(f"{r.name:<{width}}  {r.pid:>7}  {status:<9}  {r.detail}")
    with contextlib.suppress(ValueError):
        bad = sum(not r.healthy for r in rows)
        lines.append(f"{len(rows) - bad}/{len(rows)} healthy")
    return "\n".join(lines)
