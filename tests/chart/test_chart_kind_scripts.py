"""charts/kind-up.sh and kind-down.sh, without Docker or kind.

shellcheck lints every script. The tool checks run with a PATH that lacks the tools. The
whole `make up` / `make down` flow then runs against a kind-like real control plane: docker
and kind are small stand-ins that log their arguments, kubectl and helm are the real pinned
ones, so the chart is really installed by helm (CRDs, `lookup`), CoreDNS is really patched
and reverted, and the readiness wait is fed by marking the Deployments ready as a kubelet
and controller manager would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from chartlib import CHARTS, NAMESPACE, REPO, corefile, start_kind_like

from chaoslab.controlplane import ControlPlane

SCRIPTS = sorted(CHARTS.glob("*.sh"))
FAKE_DOCKER = """#!/bin/sh
echo "docker $*" >> "$FAKE_LOG"
case "$1" in info) exit "${FAKE_DOCKER_INFO_RC:-0}" ;; esac
exit 0
"""
FAKE_KIND = """#!/bin/sh
echo "kind $*" >> "$FAKE_LOG"
case "$1 $2" in "get clusters") echo chaoslab ;; esac
exit 0
"""


def test_shellcheck() -> None:
    assert {p.name for p in SCRIPTS} >= {"kind-up.sh", "kind-down.sh", "build-images.sh",
                                         "coredns-patch.sh"}
    shellcheck = Path(sys.executable).parent / "shellcheck"
    exe = str(shellcheck) if shellcheck.exists() else shutil.which("shellcheck")
    if not exe:
        pytest.fail("shellcheck not found: it comes with the dev extras (make venv)")
    out = subprocess.run([exe, "-x", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    for script in SCRIPTS:
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
        assert script.read_text().startswith("#!/usr/bin/env bash\n")
        assert "set -euo pipefail" in script.read_text()


def _bin_with(tmp_path: Path, **tools: str) -> Path:
    """A folder of stand-in tools plus the basic utilities the scripts use, nothing else."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    for name in ("bash", "sh", "env", "dirname", "grep", "awk", "sed", "cat", "wc", "date",
                 "mktemp", "rm", "cmp", "basename", "sleep", "tail", "printf"):
        found = shutil.which(name)
        if found and not (bindir / name).exists():
            (bindir / name).symlink_to(found)
    for name, text in tools.items():
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    return bindir


def _run(script: str, bindir: Path, tmp_path: Path, *args: str, **env: str
         ) -> subprocess.CompletedProcess[str]:
    full = {"PATH": str(bindir), "HOME": str(tmp_path), "FAKE_LOG": str(tmp_path / "calls"),
            **env}
    return subprocess.run([str(bindir / "bash"), str(CHARTS / script), *args], env=full,
                          capture_output=True, text=True, timeout=120)


def test_kind_up_names_every_missing_tool(tmp_path: Path) -> None:
    bindir = _bin_with(tmp_path)
    # A copy of the repository's scripts without .tools, so kubectl and helm are missing too.
    fake_root = tmp_path / "repo"
    shutil.copytree(CHARTS, fake_root / "charts", ignore=shutil.ignore_patterns("chaoslab"))
    out = subprocess.run([str(bindir / "bash"), str(fake_root / "charts" / "kind-up.sh")],
                         env={"PATH": str(bindir)}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    for tool, hint in (("docker", "docs.docker.com"), ("kind", "kind.sigs.k8s.io"),
                       ("kubectl", "make tools"), ("helm", "make tools")):
        line = next((ln for ln in out.stderr.splitlines() if ln.strip().startswith(tool)), "")
        assert hint in line, f"no install hint for {tool}:\n{out.stderr}"


def test_kind_up_says_when_docker_is_not_running(tmp_path: Path) -> None:
    bindir = _bin_with(tmp_path, docker=FAKE_DOCKER, kind=FAKE_KIND)
    out = _run("kind-up.sh", bindir, tmp_path, FAKE_DOCKER_INFO_RC="1")
    assert out.returncode == 1
    assert "daemon is not reachable" in out.stderr and "start Docker" in out.stderr


def _kind_kubeconfig(cp: ControlPlane, tmp_path: Path) -> Path:
    """The control plane's kubeconfig with the context kind would name."""
    config = yaml.safe_load(cp.kubeconfig.read_text())
    for ctx in config["contexts"]:
        if ctx["name"] == "chaoslab":
            ctx["name"] = "kind-chaoslab"
    config["current-context"] = "kind-chaoslab"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def _mark_ready(cp: ControlPlane) -> int:
    """Do what kubelet + controller manager would: report every Deployment ready and the
    bootstrap Job complete. Returns the number of Deployments marked."""
    items = json.loads(cp.kubectl("-n", NAMESPACE, "get", "deployments", "-o", "json").stdout)
    for dep in items["items"]:
        n = dep["spec"]["replicas"]
        cp.kubectl("-n", NAMESPACE, "patch", "deployment", dep["metadata"]["name"],
                   "--subresource=status", "--type=merge", "-p", json.dumps({"status": {
                       "replicas": n, "readyReplicas": n, "availableReplicas": n,
                       "updatedReplicas": n}}))
    jobs = json.loads(cp.kubectl("-n", NAMESPACE, "get", "jobs", "-o", "json").stdout)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for job in jobs["items"]:
        cp.kubectl("-n", NAMESPACE, "patch", "job", job["metadata"]["name"],
                   "--subresource=status", "--type=merge", "-p", json.dumps({"status": {
                       "startTime": now, "completionTime": now, "succeeded": 1,
                       "conditions": [
                           {"type": "SuccessCriteriaMet", "status": "True",
                            "lastTransitionTime": now},
                           {"type": "Complete", "status": "True",
                            "lastTransitionTime": now}]}}))
    return len(items["items"])


def test_make_up_and_down_flow(tmp_path: Path) -> None:
    default = corefile("Corefile.kind-default").read_bytes()
    lab = corefile("Corefile.kind-lab").read_bytes()
    cp = start_kind_like(tmp_path / "cp")
    try:
        bindir = _bin_with(tmp_path, docker=FAKE_DOCKER, kind=FAKE_KIND)
        env = {"PATH": str(bindir), "HOME": str(tmp_path), "FAKE_LOG": str(tmp_path / "calls"),
               "KUBECONFIG": str(_kind_kubeconfig(cp, tmp_path)), "SKIP_BUILD": "1",
               "COREDNS_WAIT": "0", "WAIT_TIMEOUT": "90",
               "CHAOSLAB_VALUES": str(REPO / "charts" / "chaoslab" / "values-minimal.yaml"),
               # No kubelet runs the pre-delete hook's Job here; its exact command is run
               # with the operator's RBAC in tests/operator/test_rbac.py.
               "CHAOSLAB_HELM_UNINSTALL_ARGS": "--no-hooks"}
        up = subprocess.Popen([str(bindir / "bash"), str(CHARTS / "kind-up.sh")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            marked = 0
            while time.monotonic() < deadline and up.poll() is None:
                out = cp.kubectl("-n", NAMESPACE, "get", "jobs", "-o", "name", check=False)
                if out.returncode == 0 and out.stdout.strip():  # the chart is in
                    time.sleep(4)  # let the script print its first progress line
                    marked = _mark_ready(cp)
                    break
                time.sleep(0.5)
            stdout, stderr = up.communicate(timeout=90)
        finally:
            if up.poll() is None:
                up.kill()
        print(stdout, stderr)
        assert up.returncode == 0, stdout + stderr
        assert marked >= 8
        assert f"deployments ready: {marked}/{marked}" in stdout
        assert "waiting for:" in stdout  # progress was shown before everything was ready
        assert "http://localhost:9090" in stdout and "http://localhost:8089" in stdout
        assert "http://localhost:3000" not in stdout  # no Grafana in values-minimal
        calls = (tmp_path / "calls").read_text()
        assert "kind load docker-image --name chaoslab chaoslab/lab:dev chaoslab/coredns:dev" \
            in calls
        assert "docker build" not in calls  # SKIP_BUILD=1
        cm = json.loads(cp.kubectl("-n", "kube-system", "get", "configmap", "coredns", "-o",
                                   "json").stdout)
        # The projector sidecar is on by default: the lab Corefile without `reload` lines.
        assert cm["data"]["Corefile"].encode() == re.sub(rb"(?m)^[ \t]*reload( .*)?\n", b"", lab)
        spec = json.loads(cp.kubectl("-n", "kube-system", "get", "deployment", "coredns", "-o",
                                     "json").stdout)["spec"]["template"]["spec"]
        assert [c["name"] for c in spec["containers"]] == ["coredns", "chaoslab-projector"]
        release = cp.kubectl("-n", NAMESPACE, "get", "secrets", "-l", "owner=helm", "-o", "name")
        assert "sh.helm.release.v1.chaoslab.v1" in release.stdout
        # helm's lookup found kind's kube-dns Service for --dns.
        dep = json.loads(cp.kubectl("-n", NAMESPACE, "get", "deployment", "iam-us-east-1",
                                    "-o", "json").stdout)
        args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[args.index("--dns") + 1] == "10.96.0.10:53"

        # make down, keeping the cluster: the lab goes, kind's DNS comes back byte for byte.
        down = subprocess.run([str(bindir / "bash"), str(CHARTS / "kind-down.sh"),
                               "--keep-cluster"], env=env, capture_output=True, text=True,
                              timeout=180)
        assert down.returncode == 0, down.stdout + down.stderr
        assert cp.kubectl("-n", NAMESPACE, "get", "deployments", "-o", "name").stdout == ""
        cm = json.loads(cp.kubectl("-n", "kube-system", "get", "configmap", "coredns", "-o",
                                   "json").stdout)
        assert cm["data"]["Corefile"].encode() == default
        assert "kind delete" not in (tmp_path / "calls").read_text()

        # make down: the cluster is deleted.
        down = subprocess.run([str(bindir / "bash"), str(CHARTS / "kind-down.sh")], env=env,
                              capture_output=True, text=True, timeout=180)
        assert down.returncode == 0, down.stdout + down.stderr
        assert "kind delete cluster --name chaoslab" in (tmp_path / "calls").read_text()
    finally:
        cp.stop()
