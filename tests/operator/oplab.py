"""A small operator lab for the tests: real API server, real CoreDNS, the projector, the operator.

The CoreDNS ConfigMap `kube-system/coredns` holds the lab's base Corefile; the projector
(what the kubelet does) writes it to a file and SIGUSR1s CoreDNS; the operator runs as a
real process (`python -m chaoslab_operator operator run ...`) that the tests can SIGKILL.
Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import yaml

from chaoslab.controlplane import ControlPlane
from chaoslab.local.projector import Projector
from chaoslab.procs import Proc, free_port, spawn
from chaoslab.testkit import coredns
from chaoslab.testkit.polling import wait_for
from chaoslab.testkit.scenarios import outage_yaml
from chaoslab_operator.kube import Kube
from chaoslab_operator.resources import CRD_NAME, crd_path

ENDPOINTS = {
    "dynamodb.us-east-1.aws.internal": "127.0.0.1",
    "iam.aws.internal": "127.0.0.1",
    "sts.aws.internal": "127.0.0.1",
    "s3.us-east-1.aws.internal": "127.0.0.1",
    "kms.us-east-1.aws.internal": "127.0.0.1",
    "lambda.us-east-1.aws.internal": "127.0.0.1",
    "dynamodb.us-west-2.aws.internal": "127.0.0.1",
}
BASE_ANSWER = "A:127.0.0.1"
FINAL = {"Completed", "Aborted", "Failed"}


def scenario_yaml(
    name: str,
    faults: Sequence[Mapping[str, Any]],
    duration: str = "60s",
    namespace: str = "default",
    start_after: str | None = None,
    stop_conditions: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    spec: dict[str, Any] = {}
    if start_after is not None:
        spec["startAfter"] = start_after
    if stop_conditions:
        spec["stopConditions"] = [dict(s) for s in stop_conditions]
    return outage_yaml(name, namespace=namespace, faults=faults, duration=duration, **spec)


class OpLab:
    def __init__(self, cp: ControlPlane, workdir: Path) -> None:
        self.cp = cp
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.dns_port = free_port()
        self.metrics_port = free_port()
        from chaoslab_dns.basefiles import local_corefile

        # The projector SIGUSR1s CoreDNS after each write: the lab's one reload mechanism.
        self.base = local_corefile(self.dns_port, self.metrics_port, ENDPOINTS)
        self.corefile = workdir / "Corefile"
        self.kube = Kube.connect(cp.kubeconfig, timeout=10.0)
        self.coredns: coredns.CoreDNS | None = None
        self.projector: Projector | None = None
        self.operator: Proc | None = None
        self.operator_http = 0
        self.operator_starts = 0

    # -- setup -----------------------------------------------------------------------
    def install_crd(self) -> None:
        self.cp.kubectl("apply", "-f", str(crd_path()))
        self.cp.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=30s")

    def create_configmap(self) -> None:
        manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": self.base},
        }
        self.cp.kubectl("apply", "-f", "-", input=json.dumps(manifest))

    def start_dns(self) -> None:
        self.projector = Projector(
            kubeconfig=self.cp.kubeconfig, namespace="kube-system", name="coredns",
            key="Corefile", out=self.corefile, resync_seconds=20,
        )
        self.projector.sync_once()
        self.coredns = coredns.start(
            self.corefile, self.dns_port, metrics_port=self.metrics_port, default_port=True,
            ready=lambda _: self.resolve("iam.aws.internal") == BASE_ANSWER, timeout=20)
        self.projector.signal_pid = self.coredns.proc.pid
        self.projector.start()

    def start(self, operator: bool = True, **operator_kw: Any) -> OpLab:
        self.install_crd()
        self.create_configmap()
        self.start_dns()
        if operator:
            self.start_operator(**operator_kw)
        return self

    def start_operator(
        self,
        *extra: str,
        kubeconfig: Path | None = None,
        resync: float = 5.0,
        stop_check: float = 0.5,
        wait_ready: bool = True,
    ) -> Proc:
        assert self.operator is None or not self.operator.alive(), "operator already running"
        self.operator_http = free_port()
        self.operator_starts += 1
        argv = [
            sys.executable, "-m", "chaoslab_operator", "operator", "run",
            "--kubeconfig", str(kubeconfig or self.cp.kubeconfig),
            "--coredns-configmap", "kube-system/coredns",
            "--http", f"127.0.0.1:{self.operator_http}",
            "--resync", str(resync),
            "--stop-check", str(stop_check),
            *extra,
        ]
        self.operator = spawn("operator", argv, self.workdir / "operator.log")
        if wait_ready:
            self.wait_operator_ready()
        return self.operator

    def wait_operator_ready(self, timeout: float = 30) -> None:
        assert self.operator is not None
        proc = self.operator

        def ready() -> bool:
            proc.check_alive()
            return self.http_get("/readyz")[0] == 200

        wait_for("operator /readyz", ready, timeout)

    def http_get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.operator_http}{path}", timeout=5
            ) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def kill_operator(self, sig: int = signal.SIGKILL) -> None:
        if self.operator is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.operator.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.operator.popen.wait(timeout=15)
        self.operator = None

    def stop(self) -> None:
        self.kill_operator(signal.SIGTERM)
        if self.projector is not None:
            self.projector.stop()
        if self.coredns is not None:
            self.coredns.stop()

    # -- the API -----------------------------------------------------------------------
    def apply(self, manifest: str) -> subprocess.CompletedProcess[str]:
        return self.cp.kubectl("apply", "-f", "-", input=manifest, check=False)

    def delete(self, name: str, namespace: str = "default", wait: bool = True) -> None:
        self.cp.kubectl(
            "delete", "outagescenario", name, "-n", namespace, "--ignore-not-found",
            f"--wait={'true' if wait else 'false'}", "--timeout=60s",
        )

    def get(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        return self.kube.get_scenario(namespace, name)

    def status(self, name: str, namespace: str = "default") -> dict[str, Any]:
        obj = self.get(name, namespace)
        return dict((obj or {}).get("status") or {})

    def phase(self, name: str, namespace: str = "default") -> str | None:
        return self.status(name, namespace).get("phase")

    def wait_phase(
        self, name: str, phases: str | set[str], namespace: str = "default", timeout: float = 30
    ) -> dict[str, Any]:
        wanted = {phases} if isinstance(phases, str) else phases
        return wait_for(
            f"{namespace}/{name} phase in {sorted(wanted)}",
            lambda: (s := self.status(name, namespace)).get("phase") in wanted and s,
            timeout,
        )

    def configmap(self) -> str:
        return self.kube.read_corefile("kube-system", "coredns", "Corefile")[0]

    def configmap_version(self) -> str:
        return self.kube.read_corefile("kube-system", "coredns", "Corefile")[1]

    def events(self, name: str, namespace: str = "default") -> list[str]:
        out = self.cp.kubectl(
            "get", "events", "-n", namespace, "-o", "json",
            "--field-selector", f"involvedObject.name={name}",
        )
        return [e["reason"] for e in json.loads(out.stdout)["items"]]

    def scenarios(self) -> list[dict[str, Any]]:
        return self.kube.list_scenarios()

    # -- DNS ---------------------------------------------------------------------------
    def resolve(self, name: str, timeout: float = 0.5) -> str:
        """What a client sees: "A:<ip>", "NXDOMAIN", "NODATA", "TIMEOUT", "TRUNCATED", ..."""
        query = dns.message.make_query(name, "A")
        try:
            answer = dns.query.udp(query, "127.0.0.1", port=self.dns_port, timeout=timeout)
        except dns.exception.Timeout:
            return "TIMEOUT"
        if answer.flags & dns.flags.TC:
            return "TRUNCATED"
        rcode = answer.rcode()
        if rcode != dns.rcode.NOERROR:
            return dns.rcode.to_text(rcode)
        ips = sorted(
            rr.address for rrset in answer.answer for rr in rrset if hasattr(rr, "address")
        )
        return "A:" + ",".join(ips) if ips else "NODATA"

    def wait_dns(self, name: str, expected: str, timeout: float = 10) -> float:
        """Seconds until `name` resolves as `expected`."""
        t0 = time.monotonic()
        wait_for(f"{name} -> {expected}", lambda: self.resolve(name, 0.3) == expected, timeout,
                 interval=0.02)
        return time.monotonic() - t0


def create_scenario(lab: OpLab, manifest: Mapping[str, Any]) -> None:
    """Create through the API (faster than kubectl when many are made)."""
    from chaoslab_operator.resources import GROUP, PLURAL, VERSION

    namespace = manifest["metadata"].get("namespace", "default")
    lab.kube.custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, dict(manifest), _request_timeout=(10.0, 10.0)
    )


def delete_scenario(lab: OpLab, name: str, namespace: str = "default") -> None:
    """Ask for deletion and return at once (the finalizer may hold the object for a while)."""
    lab.kube.delete_scenario(namespace, name)


def scenario_dict(name: str, faults: Sequence[Mapping[str, Any]], duration: str,
                  namespace: str = "default", start_after: str | None = None) -> dict[str, Any]:
    return dict(yaml.safe_load(scenario_yaml(name, faults, duration, namespace, start_after)))
