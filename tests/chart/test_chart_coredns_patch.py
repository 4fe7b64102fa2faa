"""charts/coredns-patch.sh against a real kube-apiserver with kind's DNS objects.

The script is run as users run it (bash, the pinned kubectl, KUBECONFIG) with --no-wait,
since no kubelet rolls the Deployment out here. It must turn kind's Corefile into the lab's
exactly, swap the image, add the projector sidecar (issue 13), save the original once, and
revert all of it byte for byte. The sidecar's own process runs here too, with exactly the
arguments and the ServiceAccount the patch gives it (tests/node/ runs it in the real pod).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chartlib import CHARTS, corefile, start_kind_like

from chaoslab.controlplane import ControlPlane
from chaoslab.procs import free_port, spawn
from chaoslab.toolpaths import tool

SCRIPT = CHARTS / "coredns-patch.sh"
LAB_IMAGE = "chaoslab/coredns:dev"
KIND_IMAGE = "registry.k8s.io/coredns/coredns:v1.12.1"  # lab/chaoslab/node/kube-dns.yaml
PROJECTOR_IMAGE = "chaoslab/lab:dev"
COREDNS_SA = "system:serviceaccount:kube-system:coredns"


def wait_for(what: str, probe: Callable[[], object], timeout: float,
             interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except OSError:
            pass  # not listening yet
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def signal_corefile(text: str) -> str:
    """The lab Corefile as the projector mode writes it: no `reload` (coredns#6263)."""
    return re.sub(r"(?m)^[ \t]*reload( .*)?\n", "", text)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One kind-like control plane for the module; every test leaves it reverted."""
    cp = start_kind_like(tmp_path_factory.mktemp("patch"))
    # A CoreDNS pod (it never runs: no kubelet), to see the sync annotation land on it.
    cp.kubectl("-n", "kube-system", "create", "serviceaccount", "default", check=False)
    cp.kubectl("-n", "kube-system", "run", "coredns-abc12", "--image", KIND_IMAGE,
               "--labels", "k8s-app=kube-dns")
    yield cp
    cp.stop()


def patch(cp: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), "KUBECTL": str(tool("kubectl"))}
    return subprocess.run(["bash", str(SCRIPT), *args, "--no-wait"], env=env,
                          capture_output=True, text=True, timeout=60)


def live_corefile(cp: ControlPlane) -> bytes:
    out = cp.kubectl("-n", "kube-system", "get", "configmap", "coredns", "-o", "json")
    return json.loads(out.stdout)["data"]["Corefile"].encode()


def pod_spec(cp: ControlPlane) -> dict:
    return json.loads(cp.kubectl("-n", "kube-system", "get", "deployment", "coredns",
                                 "-o", "json").stdout)["spec"]["template"]["spec"]


def image(cp: ControlPlane) -> str:
    return cp.kubectl("-n", "kube-system", "get", "deployment", "coredns", "-o",
                      "jsonpath={.spec.template.spec.containers[0].image}").stdout


def has_backup(cp: ControlPlane) -> bool:
    out = cp.kubectl("-n", "kube-system", "get", "configmap", "coredns-original", check=False)
    return out.returncode == 0


def test_apply_then_revert_round_trip(cluster: ControlPlane) -> None:
    default = corefile("Corefile.kind-default").read_bytes()
    lab = corefile("Corefile.kind-lab").read_bytes()
    cp = cluster
    # Something of the user's on the ConfigMap that the patch must leave alone.
    cp.kubectl("-n", "kube-system", "annotate", "configmap", "coredns", "team/owner=sre")
    assert live_corefile(cp) == default

    before = pod_spec(cp)
    applied = patch(cp, "apply")
    assert applied.returncode == 0, applied.stderr
    lab = signal_corefile(lab.decode()).encode()  # the projector is on by default
    assert live_corefile(cp) == lab and b"reload" not in lab
    assert image(cp) == LAB_IMAGE
    assert has_backup(cp)
    pod = json.loads(cp.kubectl("-n", "kube-system", "get", "pod", "coredns-abc12",
                                "-o", "json").stdout)
    assert "chaoslab.io/corefile-synced-at" in pod["metadata"]["annotations"]
    assert "NodeLocal" not in applied.stderr
    status = patch(cp, "status")
    assert "patched" in status.stdout and "no fault injected" in status.stdout

    # The operator injects a fault; a second apply keeps the true original.
    cp.kubectl("-n", "kube-system", "patch", "configmap", "coredns", "--type=merge", "-p",
               json.dumps({"data": {"Corefile": lab.decode().replace(
                   "# END chaoslab faults", "chaoslab {\n    }\n    # END chaoslab faults", 1)}}))
    again = patch(cp, "apply")
    assert again.returncode == 0 and "already saved" in again.stdout
    assert live_corefile(cp) == lab

    reverted = patch(cp, "revert")
    assert reverted.returncode == 0, reverted.stderr
    assert live_corefile(cp) == default, "revert must restore kind's Corefile byte for byte"
    assert image(cp) == KIND_IMAGE
    assert not has_backup(cp)
    assert pod_spec(cp) == before, "revert must leave the pod template as it found it"
    cm = json.loads(cp.kubectl("-n", "kube-system", "get", "configmap", "coredns",
                               "-o", "json").stdout)
    assert cm["metadata"]["annotations"]["team/owner"] == "sre"
    assert set(cm["data"]) == {"Corefile"}

    # Reverting what is not patched is a success, not an error.
    twice = patch(cp, "revert")
    assert twice.returncode == 0 and "nothing to revert" in twice.stdout
    assert live_corefile(cp) == default


def test_revert_restores_even_with_faults_injected(cluster: ControlPlane) -> None:
    cp = cluster
    default = corefile("Corefile.kind-default").read_bytes()
    assert patch(cp, "apply").returncode == 0
    cp.kubectl("-n", "kube-system", "patch", "configmap", "coredns", "--type=merge", "-p",
               json.dumps({"data": {"Corefile": "# hand edit\n" + live_corefile(cp).decode()}}))
    assert patch(cp, "revert").returncode == 0
    assert live_corefile(cp) == default


def test_nodelocal_dnscache_is_reported(cluster: ControlPlane) -> None:
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-local-dns, namespace: kube-system, labels: {k8s-app: node-local-dns}}
spec:
  selector: {matchLabels: {k8s-app: node-local-dns}}
  template:
    metadata: {labels: {k8s-app: node-local-dns}}
    spec: {containers: [{name: node-cache, image: registry.k8s.io/dns/k8s-dns-node-cache:1.26.0}]}
""")
    try:
        out = patch(cluster, "apply")
        assert out.returncode == 0, out.stderr
        assert "NodeLocal DNSCache" in out.stderr and "masked" in out.stderr
    finally:
        assert patch(cluster, "revert").returncode == 0
        cluster.kubectl("-n", "kube-system", "delete", "daemonset", "node-local-dns")


def test_refuses_a_cluster_without_coredns(cluster: ControlPlane) -> None:
    cluster.kubectl("create", "namespace", "no-dns")
    out = patch(cluster, "apply", "--namespace", "no-dns")
    assert out.returncode == 1
    assert "no-dns/coredns not found" in out.stderr
    assert "coredns-original" not in cluster.kubectl("-n", "no-dns", "get", "configmaps").stdout


def test_usage() -> None:
    out = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "apply" in out.stdout and "revert" in out.stdout
    bad = subprocess.run(["bash", str(SCRIPT), "frobnicate"], capture_output=True, text=True)
    assert bad.returncode == 2


def test_another_release_namespace_gets_its_own_rewrites(cluster: ControlPlane) -> None:
    """`helm install -n team-a`: the aws.internal names land on team-a's Services."""
    cp = cluster
    lab = corefile("Corefile.kind-lab").read_text()
    applied = patch(cp, "apply", "--lab-namespace", "team-a")
    assert applied.returncode == 0, applied.stderr
    live = live_corefile(cp).decode()
    assert live == signal_corefile(lab).replace(".chaoslab.svc.", ".team-a.svc.")
    assert ".chaoslab.svc." not in live and live.count(".team-a.svc.cluster.local.") == 2
    status = patch(cp, "status", "--lab-namespace", "team-a")
    assert "no fault injected" in status.stdout
    reverted = patch(cp, "revert")
    assert reverted.returncode == 0, reverted.stderr
    assert live_corefile(cp) == corefile("Corefile.kind-default").read_bytes()


def test_a_namespace_that_could_smuggle_config_is_refused(cluster: ControlPlane) -> None:
    out = patch(cluster, "apply", "--lab-namespace", "x.svc. }\nforward . 8.8.8.8")
    assert out.returncode != 0
    assert "is not a Kubernetes namespace name" in out.stderr
    assert live_corefile(cluster) == corefile("Corefile.kind-default").read_bytes()


# -- the projector sidecar (issue 13) -----------------------------------------------------------
def can(cp: ControlPlane, *request: str) -> str:
    return cp.kubectl("auth", "can-i", *request, f"--as={COREDNS_SA}", check=False).stdout.strip()


def test_the_projector_sidecar_and_its_rbac(cluster: ControlPlane) -> None:
    cp = cluster
    before = pod_spec(cp)
    assert can(cp, "get", "configmap/coredns", "-n", "kube-system") == "no"
    assert patch(cp, "apply").returncode == 0
    try:
        spec = pod_spec(cp)
        assert spec["shareProcessNamespace"] is True  # to SIGUSR1 CoreDNS
        # CoreDNS's own container: only the image changed.
        coredns, side = spec["containers"]
        assert coredns == {**before["containers"][0], "image": LAB_IMAGE}
        assert side["name"] == "chaoslab-projector" and side["image"] == PROJECTOR_IMAGE
        # A shell loop restarts the projector a second after it dies: the container, whose
        # readiness is the pod's place in the DNS Service, stays up.
        assert side["args"][:2] == ["sh", "-c"] and side["args"][3] == "projector"
        assert side["args"][2].startswith('while :; do python -m chaoslab.local.projector "$@";')
        args = dict(zip(side["args"][4::2], side["args"][5::2], strict=True))
        assert args == {"--configmap": "kube-system/coredns", "--key": "Corefile",
                        "--out": "/etc/coredns/Corefile",
                        "--follow-file": "/etc/chaoslab/coredns-configmap/Corefile",
                        "--signal-process": "coredns", "--http": "0.0.0.0:9154"}
        # Liveness restarts a wedged projector; no readiness probe may take CoreDNS out of
        # the Service for a projector problem (its /readyz says why, see the test below).
        assert side["livenessProbe"]["httpGet"] == {"path": "/livez", "port": 9154,
                                                    "scheme": "HTTP"}
        assert "readinessProbe" not in side
        assert side["resources"]["requests"]["cpu"] and side["resources"]["limits"]["memory"]
        (seed,) = spec["initContainers"]
        assert seed["args"] == ["cp", "/etc/chaoslab/coredns-configmap/Corefile",
                                "/etc/coredns/Corefile"]
        assert seed["image"] == PROJECTOR_IMAGE
        for c in (side, seed):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 65532  # CoreDNS's user
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert {m["name"]: m.get("readOnly", False) for m in c["volumeMounts"]} == {
                "config-volume": False, "chaoslab-corefile-source": True}
        volumes = {v["name"]: v for v in spec["volumes"]}
        # CoreDNS reads the projector's emptyDir; the ConfigMap volume, as it was, feeds the
        # init copy and the sidecar's fallback.
        assert "emptyDir" in volumes["config-volume"]
        original = {v["name"]: v for v in before["volumes"]}["config-volume"]
        assert volumes["chaoslab-corefile-source"] == {**original,
                                                       "name": "chaoslab-corefile-source"}
        # RBAC: get/list/watch on the one ConfigMap, nothing else new.
        for verb in ("get", "list", "watch"):
            assert can(cp, verb, "configmap/coredns", "-n", "kube-system") == "yes", verb
        for request in (("patch", "configmap/coredns"), ("update", "configmap/coredns"),
                        ("get", "configmap/coredns-original"), ("list", "configmaps"),
                        ("get", "secrets"), ("create", "pods")):
            assert can(cp, *request, "-n", "kube-system") == "no", request
        role = json.loads(cp.kubectl("-n", "kube-system", "get", "role",
                                     "chaoslab-coredns-projector", "-o", "json").stdout)
        assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                                  "resourceNames": ["coredns"],
                                  "verbs": ["get", "list", "watch"]}]
        assert "projector sidecar: on" in patch(cp, "status").stdout
        assert "no fault injected" in patch(cp, "status").stdout
    finally:
        assert patch(cp, "revert").returncode == 0
    assert pod_spec(cp) == before
    assert can(cp, "get", "configmap/coredns", "-n", "kube-system") == "no"
    gone = cp.kubectl("-n", "kube-system", "get", "role,rolebinding", "-o", "name").stdout
    assert "chaoslab-coredns-projector" not in gone


def test_projector_off_and_a_second_apply_converges(cluster: ControlPlane) -> None:
    """--projector off is the kubelet path (`reload 2s 0s`); apply in either mode over the
    other converges, and revert still restores the original from any of them."""
    cp = cluster
    before = pod_spec(cp)
    lab = corefile("Corefile.kind-lab").read_text()
    try:
        assert patch(cp, "apply", "--projector", "off").returncode == 0
        assert live_corefile(cp).decode() == lab
        assert pod_spec(cp) == {**before, "containers": [
            {**before["containers"][0], "image": LAB_IMAGE}]}
        assert "projector sidecar: off" in patch(cp, "status").stdout
        assert "no fault injected" in patch(cp, "status").stdout
        on = patch(cp, "apply")
        assert on.returncode == 0, on.stderr
        assert [c["name"] for c in pod_spec(cp)["containers"]] == ["coredns", "chaoslab-projector"]
        assert live_corefile(cp).decode() == signal_corefile(lab)
        assert "there already" in patch(cp, "apply").stdout  # no second sidecar
        assert len(pod_spec(cp)["containers"]) == 2
        off = patch(cp, "apply", "--projector", "off")
        assert off.returncode == 0, off.stderr
        assert pod_spec(cp) == {**before, "containers": [
            {**before["containers"][0], "image": LAB_IMAGE}]}
        assert live_corefile(cp).decode() == lab
        assert can(cp, "get", "configmap/coredns", "-n", "kube-system") == "no"
        assert patch(cp, "apply").returncode == 0
    finally:
        assert patch(cp, "revert").returncode == 0
    assert pod_spec(cp) == before
    assert live_corefile(cp) == corefile("Corefile.kind-default").read_bytes()


def test_the_sidecar_process_with_its_arguments_and_rights(cluster: ControlPlane,
                                                           tmp_path: Path) -> None:
    """The sidecar's command line, as the patch writes it, run with a token of the CoreDNS
    ServiceAccount: RBAC lets it list and watch the one ConfigMap, it projects each change,
    and /readyz says where the file came from."""
    cp = cluster
    assert patch(cp, "apply").returncode == 0
    try:
        side = pod_spec(cp)["containers"][1]
        token = cp.kubectl("-n", "kube-system", "create", "token", "coredns").stdout.strip()
        admin = json.loads(cp.kubectl("config", "view", "--raw", "-o", "json").stdout)
        cluster_entry = admin["clusters"][0]
        kubeconfig = tmp_path / "sa-kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "clusters": [cluster_entry],
            "users": [{"name": "coredns", "user": {"token": token}}],
            "contexts": [{"name": "sa", "context": {"cluster": cluster_entry["name"],
                                                    "user": "coredns"}}],
            "current-context": "sa"}))
        # The pod's paths, under tmp_path; the rest of the arguments exactly as patched.
        live, source = tmp_path / "etc/coredns", tmp_path / "etc/chaoslab/coredns-configmap"
        source.mkdir(parents=True)
        (source / "Corefile").write_text(live_corefile(cp).decode())
        port = free_port()
        argv = [a.replace("/etc/chaoslab/coredns-configmap", str(source))
                 .replace("/etc/coredns", str(live)).replace("0.0.0.0:9154", f"127.0.0.1:{port}")
                for a in side["args"][4:]]
        proc = spawn("projector", [sys.executable, "-m", "chaoslab.local.projector", *argv,
                                   "--kubeconfig", kubeconfig],
                     tmp_path / "projector.log")
        try:
            out = live / "Corefile"
            wait_for("the first projection",
                     lambda: out.exists() and out.read_bytes() == live_corefile(cp), 30)

            def readyz() -> str:
                url = f"http://127.0.0.1:{port}/readyz"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    return resp.read().decode()

            wait_for("/readyz following the API", lambda: "following the API" in readyz(), 20)
            text = live_corefile(cp).decode().replace("# END chaoslab faults",
                                                      "# a fault\n    # END chaoslab faults", 1)
            cp.kubectl("-n", "kube-system", "patch", "configmap", "coredns", "--type=merge",
                       "-p", json.dumps({"data": {"Corefile": text}}))
            wait_for("the change projected", lambda: out.read_text() == text, 5, 0.02)
        finally:
            proc.stop()
        log = (tmp_path / "projector.log").read_text()
        assert "Forbidden" not in log and "403" not in log, log
    finally:
        assert patch(cp, "revert").returncode == 0
