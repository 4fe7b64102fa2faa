"""The rendered chart against the real kube-apiserver: accepted, stored, and least-privilege.

A kind-like control plane (kube-system/coredns from Corefile.kind-default, kind's CoreDNS
Deployment and kube-dns Service) receives `helm template --include-crds` output the way
`helm install` sends it: CRDs first, then everything else, each batch dry-run on the
server first. Nothing schedules (there is no kubelet); the objects are stored and RBAC is
asked with `kubectl auth can-i --as=system:serviceaccount:...`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chartlib import MINIMAL, NAMESPACE, REPO, install_rendered, render_text, start_kind_like

from chaoslab.controlplane import ControlPlane

OPERATOR = f"system:serviceaccount:{NAMESPACE}:chaoslab-operator"
NO_API_ACCOUNTS = ("chaoslab-services", "chaoslab-locust", "prometheus", "grafana")


def _installed(cp: ControlPlane, values: tuple[Path, ...]) -> list[dict[str, Any]]:
    return install_rendered(cp, render_text(values, include_crds=True))


@pytest.fixture(scope="module")
def default_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, list]]:
    cp = start_kind_like(tmp_path_factory.mktemp("default"))
    try:
        yield cp, _installed(cp, ())
    finally:
        cp.stop()


def _stored(cp: ControlPlane, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    args = ["get", obj["kind"].lower(), meta["name"], "-o", "json"]
    if meta.get("namespace"):
        args += ["-n", meta["namespace"]]
    if obj["kind"] == "CustomResourceDefinition":
        args[1] = "crd"
    return json.loads(cp.kubectl(*args).stdout)


def test_default_values_are_accepted_and_stored(default_lab: tuple[ControlPlane, list]) -> None:
    cp, docs = default_lab
    assert len(docs) > 40
    for obj in docs:
        stored = _stored(cp, obj)
        assert stored["metadata"]["name"] == obj["metadata"]["name"]
    # The coredns ConfigMap is kind's, untouched by the chart.
    corefile = cp.kubectl("-n", "kube-system", "get", "configmap", "coredns",
                          "-o", "go-template={{index .data \"Corefile\"}}").stdout
    assert "kubernetes cluster.local" in corefile
    # The CRD is served: the ready scenarios (charts/README.md's first game day) are
    # accepted as soon as the chart is in.
    scenarios = sorted((REPO / "scenarios").glob("*.yaml"))
    assert scenarios, "no scenarios/*.yaml to start a game day with"
    for path in scenarios:
        out = cp.kubectl("apply", "--dry-run=server", "-f", str(path), check=False)
        assert out.returncode == 0, f"{path.name}: {out.stderr}"


def test_minimal_values_are_accepted_and_stored(tmp_path: Path) -> None:
    cp = start_kind_like(tmp_path / "cp")
    try:
        docs = _installed(cp, (MINIMAL,))
        names = json.loads(cp.kubectl("-n", NAMESPACE, "get", "deployments", "-o",
                                      "json").stdout)["items"]
        assert {d["metadata"]["name"] for d in names} == {
            o["metadata"]["name"] for o in docs if o["kind"] == "Deployment"}
        assert "grafana" not in {d["metadata"]["name"] for d in names}
    finally:
        cp.stop()


def _can(cp: ControlPlane, who: str, *request: str) -> bool:
    out = cp.kubectl("auth", "can-i", *request, f"--as={who}", check=False)
    answer = out.stdout.strip()
    assert answer in ("yes", "no"), out.stderr
    return answer == "yes"


def test_operator_may_patch_only_the_coredns_configmap(
    default_lab: tuple[ControlPlane, list],
) -> None:
    cp, _ = default_lab
    assert _can(cp, OPERATOR, "patch", "configmaps/coredns", "-n", "kube-system")
    assert _can(cp, OPERATOR, "get", "configmaps/coredns", "-n", "kube-system")
    refused = [
        ("patch", "configmaps/coredns-original", "-n", "kube-system"),
        ("patch", "configmaps/kube-proxy", "-n", "kube-system"),
        ("update", "configmaps/coredns", "-n", "kube-system"),
        ("delete", "configmaps/coredns", "-n", "kube-system"),
        ("create", "configmaps", "-n", "kube-system"),
        ("list", "configmaps", "-n", "kube-system"),
        ("patch", "configmaps/coredns", "-n", "default"),
        ("patch", "configmaps/coredns", "-n", NAMESPACE),
        ("get", "configmaps/chaoslab-services-config", "-n", NAMESPACE),
        ("get", "secrets", "-n", "kube-system"),
        ("get", "secrets", "-n", NAMESPACE),
        ("list", "secrets", "--all-namespaces"),
        ("patch", "deployments/coredns", "-n", "kube-system"),
        ("create", "pods", "-n", NAMESPACE),
        ("create", "clusterrolebindings"),
        ("escalate", "clusterroles"),
        ("impersonate", "serviceaccounts"),
    ]
    allowed = [r for r in refused if _can(cp, OPERATOR, *r)]
    assert not allowed, f"the operator may do more than it needs: {allowed}"
    # What it is for: the scenarios and their status, anywhere.
    assert _can(cp, OPERATOR, "watch", "outagescenarios.chaoslab.io", "--all-namespaces")
    assert _can(cp, OPERATOR, "patch", "outagescenarios.chaoslab.io", "--subresource=status",
                "-n", "team-a")


def _rules(cp: ControlPlane, who: str) -> str:
    return cp.kubectl("auth", "can-i", "--list", f"--as={who}", "-n", NAMESPACE).stdout


def test_accounts_without_api_rights(default_lab: tuple[ControlPlane, list]) -> None:
    cp, docs = default_lab
    # The baseline: a ServiceAccount nobody bound anything to (discovery, self-reviews).
    cp.kubectl("-n", NAMESPACE, "create", "serviceaccount", "rbac-baseline")
    baseline = _rules(cp, f"system:serviceaccount:{NAMESPACE}:rbac-baseline")
    accounts = {o["metadata"]["name"]: o for o in docs if o["kind"] == "ServiceAccount"}
    for name in NO_API_ACCOUNTS:
        assert accounts[name]["automountServiceAccountToken"] is False, name
        who = f"system:serviceaccount:{NAMESPACE}:{name}"
        # The namespace's and the cluster-wide rules, exactly the baseline's ...
        assert _rules(cp, who) == baseline, f"{name} has API rights"
        # ... and nothing elsewhere either.
        for request in (("patch", "configmaps/coredns", "-n", "kube-system"),
                        ("list", "secrets", "--all-namespaces")):
            assert not _can(cp, who, *request), f"{name}: {request}"
    # Every pod that runs under them mounts no token either.
    for obj in docs:
        if obj["kind"] in ("Deployment", "Job"):
            spec = obj["spec"]["template"]["spec"]
            if spec["serviceAccountName"] in NO_API_ACCOUNTS:
                assert spec["automountServiceAccountToken"] is False, obj["metadata"]["name"]


def test_the_chart_installs_into_the_namespace_the_cluster_dns_points_at(tmp_path: Path) -> None:
    """`helm install -n team-a` works once the CoreDNS patch named team-a, and is refused,
    naming the fix, where the cluster DNS maps aws.internal to another namespace."""
    import os
    import subprocess

    from chartlib import CHART, CHARTS, helm_path

    from chaoslab.toolpaths import tool

    cp = start_kind_like(tmp_path)
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), "KUBECTL": str(tool("kubectl")),
           "HOME": str(tmp_path)}

    def install(namespace: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(helm_path()), "install", "chaoslab", str(CHART), "-n", namespace,
             "--create-namespace", "--dry-run=server", "-f", str(MINIMAL)],
            env=env, capture_output=True, text=True, timeout=120)

    try:
        patched = subprocess.run(
            ["bash", str(CHARTS / "coredns-patch.sh"), "apply", "--no-wait", "--image", "keep",
             "--lab-namespace", "team-a"], env=env, capture_output=True, text=True, timeout=60)
        assert patched.returncode == 0, patched.stderr
        ok = install("team-a")
        assert ok.returncode == 0, ok.stderr
        assert "namespace: team-a" in ok.stdout
        refused = install("team-b")
        assert refused.returncode != 0
        assert "coredns-patch.sh apply --lab-namespace team-b" in refused.stderr, refused.stderr
    finally:
        cp.stop()
