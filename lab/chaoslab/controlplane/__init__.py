"""A real Kubernetes control plane on loopback: etcd + kube-apiserver, no kubelet.

The operator, the CRD's validation, RBAC and the chart are all checked against this, so
it is the genuine API server (built from the pinned Kubernetes release by `make tools`),
with RBAC on and TLS everywhere. It starts in seconds because it runs nothing that
schedules pods: there are no nodes, which the lab does not need (its workloads are local
processes). Everything it writes lives in one work directory, removed on stop unless
`keep` is asked for.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from chaoslab.controlplane import pki
from chaoslab.procs import Proc, free_port, spawn, stop_pid, wait_until
from chaoslab.toolpaths import tool

# Identities the control plane knows. `admin` is cluster-admin through system:masters;
# `nobody` authenticates but has no RBAC binding, so every request it makes is a 403.
ADMIN_USER = "chaoslab-admin"
UNPRIVILEGED_USER = "nobody"


@dataclass
class ControlPlane:
    """Handle on a running (or startable) control plane; also a context manager."""

    workdir: Path
    keep: bool = False
    etcd_port: int = 0
    apiserver_port: int = 0
    procs: list[Proc] = field(default_factory=list)
    started_seconds: float = 0.0
    unprivileged_token: str = ""
    # The node lab binds the API server where its pods reach it and adds what a kubelet
    # needs (flag -> value, replacing the flag of the same name); the local lab keeps both
    # at their defaults.
    bind_address: str = "127.0.0.1"
    apiserver_overrides: dict[str, str] = field(default_factory=dict)
    authority: pki.Authority | None = None  # the node lab's CA also signs its kubelet's certs

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://{self.bind_address}:{self.apiserver_port}"

    @property
    def pki_dir(self) -> Path:
        return self.workdir / "pki"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    # -- lifecycle ---------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> ControlPlane:
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pki_dir.mkdir(exist_ok=True)
        etcd, apiserver = tool("etcd"), tool("kube-apiserver")
        ca = self.authority = self.authority or pki.Authority(self.pki_dir)
        serving = ca.issue("apiserver", "kube-apiserver", server=True, ips=(self.bind_address,))
        admin = ca.issue("admin", ADMIN_USER, org="system:masters")
        sa = pki.service_account_keypair(self.pki_dir)
        self.unprivileged_token = base64.b32encode(os.urandom(20)).decode().lower()
        tokens = self.pki_dir / "tokens.csv"
        tokens.write_text(f"{self.unprivileged_token},{UNPRIVILEGED_USER},{UNPRIVILEGED_USER}\n")
        tokens.chmod(0o600)

        self.etcd_port = free_port()
        peer_port = free_port()
        etcd_url = f"http://127.0.0.1:{self.etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        spawn(
            "etcd",
            [
                etcd,
                "--name=chaoslab",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=chaoslab={peer_url}",
                "--unsafe-no-fsync",  # a lab's state is disposable; fsync costs seconds
                "--log-level=warn",
            ],
            self.logs / "etcd.log",
            into=self.procs,
        )
        self.apiserver_port = free_port(self.bind_address)
        spawn(
            "kube-apiserver",
            _with_overrides(self.apiserver_overrides, [
                apiserver,
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.apiserver_port}",
                f"--cert-dir={self.pki_dir}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={ca.files.cert}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                f"--service-account-key-file={sa.cert}",
                f"--service-account-signing-key-file={sa.key}",
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--allow-privileged=true",
                "--profiling=false",
                "--enable-priority-and-fairness=false",
                "--endpoint-reconciler-type=none",
                "--v=1",
            ]),
            self.logs / "kube-apiserver.log",
            into=self.procs,
        )
        self._write_kubeconfig(ca.files, admin)
        wait_until("kube-apiserver /readyz", self._ready, timeout, self.procs, interval=0.2)
        self.started_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- clients -------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki_dir / "ca.crt"))
        ctx.load_cert_chain(self.pki_dir / "admin.crt", self.pki_dir / "admin.key")
        return ctx

    def _ready(self) -> bool:
        with urllib.request.urlopen(
            f"{self.server}/readyz", context=self._ssl_context(), timeout=2
        ) as resp:
            return resp.status == 200 and resp.read().strip() == b"ok"

    def _write_kubeconfig(self, ca: pki.CertFiles, admin: pki.CertFiles) -> None:
        def b64(path: Path) -> str:
            return base64.b64encode(path.read_bytes()).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "chaoslab",
                    "cluster": {"server": self.server, "certificate-authority-data": b64(ca.cert)},
                }
            ],
            "users": [
                {
                    "name": ADMIN_USER,
                    "user": {
                        "client-certificate-data": b64(admin.cert),
                        "client-key-data": b64(admin.key),
                    },
                },
                {"name": UNPRIVILEGED_USER, "user": {"token": self.unprivileged_token}},
            ],
            "contexts": [
                {"name": "chaoslab", "context": {"cluster": "chaoslab", "user": ADMIN_USER}},
                {
                    "name": UNPRIVILEGED_USER,
                    "context": {"cluster": "chaoslab", "user": UNPRIVILEGED_USER},
                },
            ],
            "current-context": "chaoslab",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
        self.kubeconfig.chmod(0o600)

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        context: str | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run the pinned kubectl against this control plane."""
        argv = [str(tool("kubectl")), f"--kubeconfig={self.kubeconfig}"]
        if context:
            argv.append(f"--context={context}")
        result = subprocess.run(
            [*argv, *args], input=input, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, result.args, result.stdout, result.stderr
            )
        return result

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def state(self) -> dict[str, object]:
        return {
            "kubeconfig": str(self.kubeconfig),
            "server": self.server,
            "pids": self.pids(),
            "workdir": str(self.workdir),
        }


def _with_overrides(overrides: dict[str, str], argv: list[str | Path]) -> list[str | Path]:
    """`argv` with each `--flag=value` named in `overrides` replaced, the rest appended."""
    out: list[str | Path] = []
    for arg in argv:
        flag = str(arg).split("=", 1)[0]
        out.append(f"{flag}={overrides[flag]}" if flag in overrides else arg)
    present = {str(a).split("=", 1)[0] for a in argv}
    out += [f"{flag}={value}" for flag, value in overrides.items() if flag not in present]
    return out


def start(workdir: Path | None = None, keep: bool = False, timeout: float = 90.0) -> ControlPlane:
    """Start a control plane in `workdir` (a fresh temp dir by default)."""
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="chaoslab-cp-"))
    return ControlPlane(workdir=workdir, keep=keep).start(timeout)


def stop_recorded(state_file: Path) -> None:
    """Stop a control plane started by `chaoslab controlplane up` in another process."""
    state = json.loads(state_file.read_text())
    for pid in reversed(state.get("pids", [])):
        stop_pid(int(pid))
    workdir = Path(state["workdir"])
    if not state.get("keep"):
        shutil.rmtree(workdir, ignore_errors=True)
    state_file.unlink(missing_ok=True)


def resident_memory_bytes(pids: Sequence[int]) -> int:
    """Sum of VmRSS over the given processes (for the benchmarks)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total
