"""The chart's operator RBAC, rendered by the real helm and applied to the real API server:
least privilege proven with `kubectl auth can-i`, sufficiency proven by running the operator
with its service account's token."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from oplab import BASE_ANSWER, OpLab, scenario_yaml, wait_for

from chaoslab.controlplane import ControlPlane
from chaoslab.procs import log_tail
from chaoslab.toolpaths import REPO_ROOT, tool

RELEASE_NS = "chaoslab"  # the namespace kind-up.sh installs into
SA = "chaoslab-operator"
OTHER_COMPONENTS = ("services", "bootstrap", "prometheus", "grafana", "locust")
AS = f"--as=system:serviceaccount:{RELEASE_NS}:{SA}"


def render(*values: str) -> str:
    result = helm_template(*values)
    assert result.returncode == 0, result.stderr
    return result.stdout


def helm_template(*values: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("helm")), "template", "chaoslab", str(REPO_ROOT / "charts" / "chaoslab"),
         "--namespace", RELEASE_NS, "--kube-version", "1.34.4",
         "--show-only", "templates/operator/rbac.yaml",
         # only the operator: the other components' templates are not under test here
         *[f"--set={c}.enabled=false" for c in OTHER_COMPONENTS], *values],
        capture_output=True, text=True, timeout=60,
    )


@pytest.fixture(scope="module")
def rbac_lab(module_cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpLab]:
    """The lab without an operator, the RBAC applied, the operator run with the SA's token."""
    lab = OpLab(module_cp, tmp_path_factory.mktemp("rbaclab")).start(operator=False)
    module_cp.kubectl("create", "namespace", RELEASE_NS)
    module_cp.kubectl("apply", "-f", "-", input=render())
    # Neighbours the operator must not be able to touch.
    module_cp.kubectl("create", "configmap", "other", "-n", "kube-system", "--from-literal=a=b")
    module_cp.kubectl("create", "secret", "generic", "s", "-n", "kube-system",
                      "--from-literal=a=b")
    token = module_cp.kubectl("create", "token", SA, "-n", RELEASE_NS,
                              "--duration=1h").stdout.strip()
    admin = yaml.safe_load(module_cp.kubeconfig.read_text())
    sa_config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": SA, "user": {"token": token}}],
        "contexts": [{"name": SA, "context": {"cluster": "chaoslab", "user": SA}}],
        "current-context": SA,
    }
    path = lab.workdir / "sa.kubeconfig"
    path.write_text(yaml.safe_dump(sa_config))
    path.chmod(0o600)
    yield lab
    lab.stop()
    print("--- operator log tail ---\n" + log_tail(lab.workdir / "operator.log", 40))


@pytest.fixture
def sa_kubeconfig(rbac_lab: OpLab) -> Path:
    """A kubeconfig holding nothing but the operator service account's token."""
    return rbac_lab.workdir / "sa.kubeconfig"


def can_i(lab: OpLab, *args: str) -> str:
    out = lab.cp.kubectl("auth", "can-i", *args, AS, check=False)
    return out.stdout.strip()


def test_rendered_rbac_is_scoped_to_values() -> None:
    docs = [d for d in yaml.safe_load_all(render(
        "--set", "operator.corednsConfigMap.namespace=dns-system",
        "--set", "operator.corednsConfigMap.name=my-dns",
        "--set", "operator.serviceAccountName=op-sa",
    )) if d]
    kinds = {d["kind"]: d for d in docs}
    assert sorted(d["kind"] for d in docs) == ["ClusterRole", "ClusterRoleBinding", "Role",
                                               "Role", "RoleBinding", "RoleBinding",
                                               "ServiceAccount"]
    assert kinds["ServiceAccount"]["metadata"] == {**kinds["ServiceAccount"]["metadata"],
                                                   "name": "op-sa", "namespace": RELEASE_NS}
    roles = {d["metadata"]["namespace"]: d for d in docs if d["kind"] == "Role"}
    assert roles["dns-system"]["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                                             "resourceNames": ["my-dns"],
                                             "verbs": ["get", "list", "watch", "patch"]}]
    # The session ledger, in the release namespace: that one map by name, plus create.
    assert roles[RELEASE_NS]["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["chaoslab-ledger"],
         "verbs": ["get", "patch"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}]
    for binding in (d for d in docs if d["kind"] == "RoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "op-sa", "namespace": RELEASE_NS}]
    cluster_resources = {r for rule in kinds["ClusterRole"]["rules"] for r in rule["resources"]}
    assert "configmaps" not in cluster_resources and "secrets" not in cluster_resources
    assert {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]} in (
        kinds["ClusterRole"]["rules"])
    disabled = helm_template("--set", "operator.enabled=false")  # renders to nothing
    assert "kind:" not in disabled.stdout and "could not find template" in disabled.stderr


def test_client_namespaces_turn_cluster_pod_rights_into_roles() -> None:
    docs = [d for d in yaml.safe_load_all(render(
        "--set", "operator.clientNamespaces={team-a,team-b}")) if d]
    cluster = next(d for d in docs if d["kind"] == "ClusterRole")
    assert not any("pods" in r["resources"] for r in cluster["rules"])
    roles = {d["metadata"]["namespace"]: d["rules"] for d in docs
             if d["kind"] == "Role" and d["metadata"]["name"].endswith("-clients")}
    assert roles == {ns: [{"apiGroups": [""], "resources": ["pods"],
                           "verbs": ["list", "watch"]}] for ns in ("team-a", "team-b")}
    bound = {d["metadata"]["namespace"] for d in docs if d["kind"] == "RoleBinding"
             and d["roleRef"]["name"].endswith("-clients")}
    assert bound == {"team-a", "team-b"}


ALLOWED = [
    ("get", "configmap/coredns", "-n", "kube-system"),
    ("patch", "configmap/coredns", "-n", "kube-system"),
    ("watch", "configmap/coredns", "-n", "kube-system"),
    ("list", "outagescenarios.chaoslab.io", "-A"),
    ("watch", "outagescenarios.chaoslab.io", "-A"),
    ("patch", "outagescenarios.chaoslab.io", "-n", "team-a"),
    ("patch", "outagescenarios.chaoslab.io", "--subresource=status", "-n", "default"),
    ("create", "events", "-n", "team-a"),
    # A schedule's runs (spec.schedule): child OutageScenarios, created and deleted.
    ("create", "outagescenarios.chaoslab.io", "-n", "default"),
    ("delete", "outagescenarios.chaoslab.io", "-n", "team-a"),
    # The session ledger in the release namespace.
    ("get", "configmap/chaoslab-ledger", "-n", RELEASE_NS),
    ("patch", "configmap/chaoslab-ledger", "-n", RELEASE_NS),
    ("create", "configmaps", "-n", RELEASE_NS),
    # Pod IPs of client-scoped faults, cluster-wide by default.
    ("list", "pods", "-A"),
    ("watch", "pods", "-n", "team-a"),
]
DENIED = [
    ("get", "configmaps", "-n", "kube-system"),  # the whole collection
    ("list", "configmaps", "-A"),
    ("get", "configmap/other", "-n", "kube-system"),
    ("patch", "configmap/other", "-n", "kube-system"),
    ("update", "configmap/coredns", "-n", "kube-system"),
    ("delete", "configmap/coredns", "-n", "kube-system"),
    ("create", "configmaps", "-n", "kube-system"),
    ("get", "configmap/coredns", "-n", "default"),
    ("get", "configmap/other", "-n", RELEASE_NS),
    ("patch", "configmap/other", "-n", RELEASE_NS),
    ("delete", "configmap/chaoslab-ledger", "-n", RELEASE_NS),
    ("list", "configmaps", "-n", RELEASE_NS),
    ("create", "configmaps", "-n", "default"),
    ("get", "secrets", "-n", "kube-system"),
    ("get", "secret/s", "-n", "kube-system"),
    ("list", "secrets", "-A"),
    ("get", "namespaces"),
    ("create", "namespaces"),
    ("delete", "namespace/kube-system"),
    ("list", "customresourcedefinitions.apiextensions.k8s.io"),
    ("get", "pods", "-n", "kube-system"),  # list/watch suffice for pod IPs
    ("patch", "pods", "-n", "chaoslab"),
    ("delete", "pods", "-n", "chaoslab"),
    ("create", "pods", "-n", "chaoslab"),
    ("get", "pods/log", "-n", "chaoslab"),
    ("create", "pods/exec", "-n", "chaoslab"),
    ("patch", "pods/status", "-n", "chaoslab"),
    ("create", "clusterrolebindings"),
    ("impersonate", "serviceaccounts"),
    ("*", "*"),
]


@pytest.mark.parametrize("args", ALLOWED, ids=[" ".join(a) for a in ALLOWED])
def test_can(rbac_lab: OpLab, args: tuple[str, ...]) -> None:
    assert can_i(rbac_lab, *args) == "yes"


@pytest.mark.parametrize("args", DENIED, ids=[" ".join(a) for a in DENIED])
def test_cannot(rbac_lab: OpLab, args: tuple[str, ...]) -> None:
    assert can_i(rbac_lab, *args) == "no"


def test_operator_works_with_exactly_this_rbac(rbac_lab: OpLab, sa_kubeconfig: Path) -> None:
    lab = rbac_lab
    whoami = lab.cp.kubectl(f"--kubeconfig={sa_kubeconfig}", "auth", "whoami", "-o",
                            "jsonpath={.status.userInfo.username}")
    assert whoami.stdout == f"system:serviceaccount:{RELEASE_NS}:{SA}"
    lab.start_operator("--ledger", f"{RELEASE_NS}/chaoslab-ledger", kubeconfig=sa_kubeconfig)
    dynamo = "dynamodb.us-east-1.aws.internal"
    applied = lab.apply(scenario_yaml("as-sa", [{"target": dynamo, "mode": "nxdomain"}],
                                      duration="3s", start_after="0.5s"))
    assert applied.returncode == 0, applied.stderr
    lab.wait_dns(dynamo, "NXDOMAIN", timeout=10)
    lab.wait_phase("as-sa", "Completed", timeout=10)
    lab.wait_dns(dynamo, BASE_ANSWER)
    wait_for("Reverted event", lambda: "Reverted" in lab.events("as-sa"), 10)
    # Deletion through the finalizer, too.
    assert lab.apply(scenario_yaml("as-sa-2", [{"target": dynamo, "mode": "nodata"}])
                     ).returncode == 0
    lab.wait_dns(dynamo, "NODATA")
    lab.delete("as-sa-2")
    assert lab.configmap() == lab.base
    # The session ledger was created and kept both, the deleted one with its revert.
    ledger = json.loads(lab.cp.kubectl("get", "configmap", "chaoslab-ledger", "-n", RELEASE_NS,
                                       "-o", "json").stdout)
    entries = {e["name"]: e for e in map(json.loads, ledger["data"].values())}
    assert {"as-sa", "as-sa-2"} <= set(entries), entries
    assert entries["as-sa-2"]["revertedAt"] and entries["as-sa-2"]["deleting"]
    # The ConfigMap watch (list/watch by name) and everything else ran without a refusal.
    log = (lab.workdir / "operator.log").read_text()
    assert "Forbidden" not in log and " 403" not in log, log_tail(lab.workdir / "operator.log")
    code, _ = lab.http_get("/readyz")
    assert code == 200
    lab.delete("as-sa")


def test_token_is_a_real_service_account_token(sa_kubeconfig: Path) -> None:
    token = yaml.safe_load(sa_kubeconfig.read_text())["users"][0]["user"]["token"]
    payload = token.split(".")[1]
    claims = yaml.safe_load(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == f"system:serviceaccount:{RELEASE_NS}:{SA}"


def test_uninstall_hook_reverts_faults_with_exactly_this_rbac(
    rbac_lab: OpLab, sa_kubeconfig: Path
) -> None:
    """`helm uninstall` runs the pre-delete hook: its exact command, as the operator's
    service account, must leave DNS pristine while a fault is live."""
    lab = rbac_lab
    hook = subprocess.run(
        [str(tool("helm")), "template", "chaoslab", str(REPO_ROOT / "charts" / "chaoslab"),
         "--namespace", RELEASE_NS, "--kube-version", "1.34.4",
         "--show-only", "templates/operator/revert-hook.yaml"],
        capture_output=True, text=True, timeout=60, check=True)
    job = yaml.safe_load(hook.stdout)
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-delete"
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == SA
    args = pod["containers"][0]["args"]
    assert args[:3] == ["chaoslab", "abort", "--all"]

    if lab.operator is None or not lab.operator.alive():
        lab.start_operator("--ledger", f"{RELEASE_NS}/chaoslab-ledger", kubeconfig=sa_kubeconfig)
    dynamo = "dynamodb.us-east-1.aws.internal"
    assert lab.apply(scenario_yaml("before-uninstall", [{"target": dynamo, "mode": "servfail"}],
                                   duration="10m")).returncode == 0
    lab.wait_dns(dynamo, "SERVFAIL")

    chaoslab = Path(sys.executable).parent / "chaoslab"
    out = subprocess.run([str(chaoslab), *args[1:], "--kubeconfig", str(sa_kubeconfig)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert lab.configmap() == lab.base
    lab.wait_dns(dynamo, BASE_ANSWER)
    assert lab.phase("before-uninstall") == "Aborted"
    time.sleep(2 * 0.5 + 1)  # a few operator passes: nothing re-injects an aborted scenario
    assert lab.configmap() == lab.base
    lab.delete("before-uninstall")
