"""charts/coredns-patch.sh against a real kube-apiserver with kind's DNS objects.

The script is run as users run it (bash, the pinned kubectl, KUBECONFIG) with --no-wait,
since no kubelet rolls the Deployment out here. It must turn kind's Corefile into the lab's
exactly, swap the image, save the original once, and revert both byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest
from chartlib import CHARTS, corefile, start_kind_like

from chaoslab.controlplane import ControlPlane
from chaoslab.toolpaths import tool

SCRIPT = CHARTS / "coredns-patch.sh"
LAB_IMAGE = "chaoslab/coredns:dev"
KIND_IMAGE = "registry.k8s.io/coredns/coredns:v1.12.1"  # lab/chaoslab/node/kube-dns.yaml


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

    applied = patch(cp, "apply")
    assert applied.returncode == 0, applied.stderr
    assert live_corefile(cp) == lab
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
    assert live == lab.replace(".chaoslab.svc.", ".team-a.svc.")
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
