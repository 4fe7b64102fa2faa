"""The local control plane is a real kube-apiserver: CRDs, ConfigMaps and RBAC behave."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chaoslab import controlplane
from chaoslab.procs import pid_alive

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.test
spec:
  group: example.test
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1}
"""

CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata: {name: probe, namespace: default}
data: {Corefile: ".:53 {\\n    whoami\\n}\\n"}
"""


def test_apply_read_back_and_rbac_refusal(tmp_path: Path) -> None:
    cp = controlplane.start(tmp_path / "cp")
    pids = cp.pids()
    workdir = cp.workdir
    try:
        assert len(pids) == 2 and all(pid_alive(p) for p in pids)
        cp.kubectl("apply", "-f", "-", input=CRD)
        cp.kubectl("wait", "--for=condition=Established", "crd/widgets.example.test")
        cp.kubectl("apply", "-f", "-", input="apiVersion: example.test/v1\nkind: Widget\n"
                   "metadata: {name: w1, namespace: default}\nspec: {size: 3}\n")
        widget = json.loads(cp.kubectl("get", "widget", "w1", "-o", "json").stdout)
        assert widget["spec"] == {"size": 3}
        # The CRD's schema is enforced by the API server itself.
        bad = cp.kubectl("apply", "-f", "-", check=False,
                         input="apiVersion: example.test/v1\nkind: Widget\n"
                         "metadata: {name: w2, namespace: default}\nspec: {size: 0}\n")
        assert bad.returncode != 0 and "spec.size" in bad.stderr

        cp.kubectl("apply", "-f", "-", input=CONFIGMAP)
        cm = json.loads(cp.kubectl("get", "configmap", "probe", "-o", "json").stdout)
        assert cm["data"]["Corefile"] == ".:53 {\n    whoami\n}\n"

        denied = cp.kubectl("get", "configmap", "probe", check=False,
                            context=controlplane.UNPRIVILEGED_USER)
        assert denied.returncode != 0
        assert "Forbidden" in denied.stderr and "nobody" in denied.stderr
        can_i = cp.kubectl("auth", "can-i", "get", "configmaps", check=False,
                           context=controlplane.UNPRIVILEGED_USER)
        assert can_i.stdout.strip() == "no"
    finally:
        cp.stop()
    assert not any(pid_alive(p) for p in pids), "control plane left a process behind"
    assert not workdir.exists(), "control plane left its work directory behind"


def test_controlplane_command_up_down(tmp_path: Path) -> None:
    workdir = tmp_path / "cp"
    chaoslab = [str(Path(sys.executable).parent / "chaoslab")]  # the installed entry point
    up = subprocess.run([*chaoslab, "controlplane", "up", "--dir", str(workdir)],
                        capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    state = json.loads((workdir / "state.json").read_text())
    try:
        assert "control plane ready" in up.stdout
        assert all(pid_alive(p) for p in state["pids"])
    finally:
        down = subprocess.run([*chaoslab, "controlplane", "down", "--dir", str(workdir)],
                              capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not any(pid_alive(p) for p in state["pids"])
    assert not workdir.exists()


@pytest.mark.parametrize("name", ["coredns", "kube-apiserver", "kubectl", "etcd", "prometheus",
                                  "helm"])
def test_pinned_tool_answers(name: str) -> None:
    from chaoslab.toolpaths import tool

    flag = {"coredns": ["-version"], "kubectl": ["version", "--client"], "helm": ["version"],
            "etcd": ["--version"], "prometheus": ["--version"],
            "kube-apiserver": ["--version"]}[name]
    out = subprocess.run([str(tool(name)), *flag], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    expected = {"coredns": "CoreDNS-1.", "kube-apiserver": "v1.34.4", "kubectl": "v1.34.4",
                "etcd": "3.5.", "prometheus": "version 2.", "helm": "v3.19.5"}[name]
    assert expected in text, text
