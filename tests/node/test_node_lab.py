"""The kind path on a real node: images, RBAC, the ConfigMap projection, the bootstrap Job,
Prometheus's discovery and the uninstall hook, all for real (issue 12's tests), with faults
for chosen clients (issue 16) and the kubelet's restart counts over the session (issue 19).

The tests share one node (conftest.py) and run in file order: the last two uninstall the
lab and take the node down, and check the host is as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from conftest import RunningNode, host_footprint, wait_for

from chaoslab.node import kubelet, layout
from chaoslab.node.cluster import UNINSTALL_SCRIPT, down
from chaoslab.procs import pid_alive, processes_mentioning
from chaoslab.toolpaths import REPO_ROOT, tool

# The first test also starts the node (the images are built beforehand by `make test`).
pytestmark = pytest.mark.timeout(900)
TARGET = "dynamodb.us-east-1.aws.internal"
# As the CoreDNS patch writes it with the projector sidecar: no `reload` (its SIGUSR1 is the
# one reload mechanism, coredns#6263).
LAB_COREFILE = re.sub(r"(?m)^[ \t]*reload( .*)?\n", "", (
    REPO_ROOT / "charts/chaoslab/files/coredns/Corefile.kind-lab").read_text())
KIND_COREFILE = (REPO_ROOT / "charts/chaoslab/files/coredns/Corefile.kind-default").read_text()
OPERATOR_SA = "system:serviceaccount:chaoslab:chaoslab-operator"
# Queries for a name (argv[1]) from inside a pod to the cluster DNS Service and to each
# CoreDNS replica behind it (a Service balances between them), printed as JSON (the lab
# image has dnspython).
POD_QUERY = textwrap.dedent("""
    import json, sys, dns.message, dns.query, dns.rcode
    out = {}
    for server in sys.argv[2:]:
        r = dns.query.udp(dns.message.make_query(sys.argv[1], "A"), server, timeout=3)
        out[server] = [dns.rcode.to_text(r.rcode()), sum(len(a) for a in r.answer)]
    print(json.dumps(out))
""")
# Issue 16's acceptance: the library scenario, servfail on IAM for the Lambda pods only.
LAMBDA_LOSES_IAM = REPO_ROOT / "scenarios/lambda-loses-iam.yaml"
IAM = "iam.aws.internal"
# A pod started during that scenario with the Lambda pods' labels (not their Deployment's
# selector labels, so no ReplicaSet adopts it), idle: the test queries from it.
EXTRA_LAMBDA = "lambda-extra"
EXTRA_LAMBDA_POD = textwrap.dedent(f"""
    apiVersion: v1
    kind: Pod
    metadata:
      name: {EXTRA_LAMBDA}
      namespace: chaoslab
      labels: {{chaoslab.io/service: lambda, chaoslab.io/region: us-east-1}}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: 1
      # The chaoslab namespace enforces the restricted Pod Security Standard.
      securityContext: {{runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001,
                        seccompProfile: {{type: RuntimeDefault}}}}
      containers:
        - name: client
          image: docker.io/chaoslab/lab:dev
          imagePullPolicy: Never
          command: [python, -c, "import signal; signal.pause()"]
          securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}
""")


def scenario(name: str, duration: str, mode: str = "nodata") -> str:
    return textwrap.dedent(f"""
        apiVersion: chaoslab.io/v1alpha1
        kind: OutageScenario
        metadata: {{name: {name}, namespace: default}}
        spec:
          duration: {duration}
          faults:
            - {{target: {TARGET}, mode: {mode}}}
    """)


def prom(node: RunningNode, query: str) -> list[dict]:
    url = f"{node.state.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)["data"]["result"]


def coredns_ips(node: RunningNode) -> list[str]:
    pods = node.json("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns")["items"]
    return [p["status"]["podIP"] for p in pods
            if p["status"].get("podIP") and not p["metadata"].get("deletionTimestamp")]


def from_a_pod(node: RunningNode, pod: str = "deploy/lambda-us-east-1",
               name: str = TARGET) -> dict[str, list]:
    """The answers for `name` as a pod of the lab's namespace sees them:
    {server: [rcode, answers]}."""
    servers = [layout.CLUSTER_DNS, *coredns_ips(node)]
    out = node.kubectl("-n", "chaoslab", "exec", pod, "--", "python", "-c", POD_QUERY, name,
                       *servers, timeout=30)
    return json.loads(out.stdout.strip().splitlines()[-1])


def iam_as_seen_from(node: RunningNode, pod: str) -> str:
    """'fault' (every replica SERVFAIL), 'ok' (every one an address) or 'mixed', for IAM's
    name queried from inside `pod`."""
    seen = {"fault" if a[0] == "SERVFAIL" else "ok" if a[0] == "NOERROR" and a[1] else "mixed"
            for a in from_a_pod(node, pod, IAM).values()}
    return seen.pop() if len(seen) == 1 else "mixed"


def faulted(node: RunningNode) -> bool:
    """Every replica answers NODATA (and so does the Service)."""
    return all(a == ["NOERROR", 0] for a in from_a_pod(node).values())


def healthy(node: RunningNode) -> bool:
    """Every replica answers with an address again."""
    return all(a[0] == "NOERROR" and a[1] > 0 for a in from_a_pod(node).values())


def projector_readyz(pod_ip: str) -> str:
    """The sidecar's /readyz body ("" while a new projector is not listening yet)."""
    try:
        with urllib.request.urlopen(f"http://{pod_ip}:9154/readyz", timeout=3) as resp:
            return resp.read().decode().strip()
    except OSError:
        return ""


def live_corefile(node: RunningNode, pod: str) -> str:
    """The Corefile CoreDNS reads in that pod: the projector's emptyDir."""
    return node.kubectl("-n", "kube-system", "exec", pod, "-c", "chaoslab-projector", "--",
                        "cat", "/etc/coredns/Corefile").stdout


def projector_pids() -> list[int]:
    """The projector processes of the CoreDNS pods, seen from the host (not the shell loop
    around them, nor a local lab's projector outside the node's pods)."""
    return [pid for pid, cmd in processes_mentioning("chaoslab.local.projector")
            if cmd.split()[0].endswith("python") and pid_in_pods(pid)]


def pid_in_pods(pid: int) -> bool:
    try:
        return "kubepods" in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False


def phase(node: RunningNode, name: str) -> str:
    out = node.kubectl("-n", "default", "get", "outagescenario", name, "-o",
                       "jsonpath={.status.phase}", check=False)
    return out.stdout.strip()


# -- the lab came up as on kind ---------------------------------------------------------------
def test_every_pod_is_ready_and_the_bootstrap_job_completed(node: RunningNode) -> None:
    pods = node.json("get", "pods", "-A")["items"]
    names = {p["metadata"]["name"].rsplit("-", 2)[0] for p in pods}
    assert {"coredns", "chaoslab-operator", "prometheus", "dynamodb-us-east-1"} <= names, names
    for pod in pods:
        if pod["status"]["phase"] == "Succeeded":
            continue
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"]
        assert ready == "True", pod["metadata"]["name"]
    jobs = node.json("-n", "chaoslab", "get", "jobs", "-l",
                     "app.kubernetes.io/component=bootstrap")["items"]
    assert jobs and all(j["status"].get("succeeded") == 1 for j in jobs)
    # The CoreDNS patch ran: the lab's build with the lab Corefile, no fault yet.
    assert node.corefile() == LAB_COREFILE
    deploy = node.json("-n", "kube-system", "get", "deployment", "coredns")
    image = deploy["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "docker.io/chaoslab/coredns:dev"
    # The projector sidecar (issue 13) runs in each CoreDNS pod, from the lab image, and
    # follows the API; CoreDNS serves the Corefile it wrote.
    for pod in node.json("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns")["items"]:
        statuses = {c["name"]: c for c in pod["status"]["containerStatuses"]}
        assert statuses["chaoslab-projector"]["ready"], pod["metadata"]["name"]
        assert statuses["chaoslab-projector"]["image"] == "docker.io/chaoslab/lab:dev"
        assert projector_readyz(pod["status"]["podIP"]) == "ok: following the API"
        assert live_corefile(node, pod["metadata"]["name"]) == LAB_COREFILE


def test_state_json_points_at_the_node(node: RunningNode) -> None:
    state = json.loads(node.paths.state_file.read_text())
    assert state["lab"] == "node" and state["kubeconfig"] == str(node.paths.kubeconfig)
    assert state["dns"] == f"{layout.CLUSTER_DNS}:53"
    host, port = state["dns"].split(":")
    reply = dns.query.udp(dns.message.make_query(TARGET, "A"), host, port=int(port), timeout=3)
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer, reply
    assert state["services"]["dynamodb.us-east-1"].endswith(":50051")
    assert all(pid > 0 for pid in state["pids"].values())


def test_prometheus_discovers_every_lab_target(node: RunningNode) -> None:
    jobs = {"chaoslab-services", "coredns", "chaoslab-operator", "chaoslab-loadtest"}
    seen: list[list[dict]] = []
    # values-minimal: one region, one process a catalog service (iam, sts, signin global).
    processes = len(node.json("-n", "chaoslab", "get", "deployments", "-l",
                              "chaoslab.io/service")["items"])
    assert processes >= 6, processes

    def targets() -> list[dict]:
        """Every target, once all are discovered and up: discovery is eventual, so a set
        that is all up can still be missing pods Prometheus has not listed yet."""
        with urllib.request.urlopen(f"{node.state.prometheus}/api/v1/targets", timeout=5) as r:
            active = json.load(r)["data"]["activeTargets"]
        seen.append(active)
        services = [t for t in active if t["labels"]["job"] == "chaoslab-services"]
        complete = jobs <= {t["labels"]["job"] for t in active} and len(services) == processes
        return active if complete and all(t["health"] == "up" for t in active) else []

    try:
        active = wait_for("every Prometheus target discovered and up", targets, 90, interval=2)
    except pytest.fail.Exception:
        last = seen[-1] if seen else []
        pytest.fail("Prometheus's targets at the end: " + "; ".join(
            f"{t['labels'].get('job')} {t['labels'].get('instance')} {t['health']} "
            f"{t.get('lastError', '')}" for t in last))
    services = [t for t in active if t["labels"]["job"] == "chaoslab-services"]
    assert len(services) == processes, [t["labels"] for t in services]


def test_locust_customers_calls_succeed(node: RunningNode) -> None:
    ok = 'sum(chaoslab_loadtest_requests_total{result="ok"})'
    wait_for("Locust customers' successful calls in Prometheus",
             lambda: (r := prom(node, ok)) and float(r[0]["value"][1]) > 0, 120, interval=3)


def test_the_operator_may_patch_only_the_coredns_configmap(node: RunningNode) -> None:
    def can(*args: str) -> str:
        out = node.kubectl("auth", "can-i", f"--as={OPERATOR_SA}", *args, check=False)
        return out.stdout.strip()

    assert can("patch", "configmap/coredns", "-n", "kube-system") == "yes"
    assert can("patch", "configmap/coredns-original", "-n", "kube-system") == "no"
    assert can("patch", "configmap/prometheus-config", "-n", "chaoslab") == "no"
    assert can("get", "pods", "-n", "kube-system") == "no"
    assert can("delete", "deployment/coredns", "-n", "kube-system") == "no"
    # Client-scoped faults (issue 16): pods may be listed and watched, cluster-wide by
    # default (operator.clientNamespaces empty), and nothing more.
    assert can("list", "pods", "--all-namespaces") == "yes"
    assert can("watch", "pods", "--all-namespaces") == "yes"
    for verb in ("create", "delete", "patch", "update"):
        assert can(verb, "pods", "-n", "chaoslab") == "no", verb
    assert can("create", "pods/exec", "-n", "chaoslab") == "no"
    assert can("get", "pods/log", "-n", "chaoslab") == "no"


# -- a game day on the node ---------------------------------------------------------------------
def test_a_scenario_faults_dns_inside_a_pod_and_delete_restores_it(node: RunningNode) -> None:
    assert healthy(node)
    node.kubectl("apply", "-f", "-", input=scenario("node-nodata", "5m"))
    t0 = time.monotonic()
    wait_for("the fault seen from inside a service pod", lambda: faulted(node), 60, interval=1)
    print(f"apply -> fault seen from a pod: {time.monotonic() - t0:.1f}s")
    assert phase(node, "node-nodata") == "Active"
    assert "chaoslab" in node.corefile() and node.corefile() != LAB_COREFILE
    # The cascade, measured by the lab's own Prometheus: IAM's and Lambda's calls to the
    # unresolvable DynamoDB fail as DNS errors, and CoreDNS counts the injections.
    wait_for("DNS errors on calls to dynamodb.us-east-1 in Prometheus", lambda: prom(
        node, 'sum(increase(chaoslab_service_dependency_calls_total{dependency='
              '"dynamodb.us-east-1",outcome="dns_error"}[1m])) > 0'), 60, interval=3)
    wait_for("CoreDNS's injected-fault counter", lambda: prom(
        node, "sum(coredns_chaoslab_faults_injected_total) > 0"), 60, interval=3)

    node.kubectl("-n", "default", "delete", "outagescenario", "node-nodata")
    t0 = time.monotonic()
    wait_for("DNS restored inside the pod", lambda: healthy(node), 60, interval=1)
    print(f"delete -> restored in a pod: {time.monotonic() - t0:.1f}s")
    assert node.corefile() == LAB_COREFILE  # byte for byte the pristine lab Corefile


def test_a_fault_for_the_lambda_pods_only_and_a_pod_that_starts_during_it(
        node: RunningNode) -> None:
    """Issue 16 on a real cluster, with the library file `scenarios/lambda-loses-iam.yaml`
    (SERVFAIL for iam.aws.internal, clients: podSelector chaoslab.io/service=lambda): the
    operator, with only list/watch on pods, resolves the selector to the Lambda pod's IP,
    so a query from that pod fails and one from the CloudWatch pod beside it (same
    namespace, same CoreDNS) does not. A pod with the Lambda labels started during the
    scenario joins the rule once it runs; after the delete every pod resolves again."""
    lam, cw = "deploy/lambda-us-east-1", "deploy/cloudwatch-us-east-1"
    ips = {p["metadata"]["labels"]["chaoslab.io/service"]: p["status"]["podIP"]
           for p in node.json("-n", "chaoslab", "get", "pods", "-l", "chaoslab.io/service")["items"]
           if not p["metadata"].get("deletionTimestamp")}
    assert iam_as_seen_from(node, lam) == "ok" and iam_as_seen_from(node, cw) == "ok"
    node.kubectl("apply", "-f", str(LAMBDA_LOSES_IAM))
    t0 = time.monotonic()
    wait_for("Lambda's lookups of IAM failing", lambda: iam_as_seen_from(node, lam) == "fault",
             60, interval=0.5)
    print(f"apply -> Lambda's IAM lookups fail: {time.monotonic() - t0:.1f}s")
    assert iam_as_seen_from(node, cw) == "ok"
    # Nor is the host (the node's own address) a client: the rule names Lambda's pod alone.
    servers = [layout.CLUSTER_DNS, *coredns_ips(node)]
    assert all(_answers(server, IAM) for server in servers)
    rule = re.search(r"fault iam\.aws\.internal servfail .* clients (\S+) "
                     r"scenario default/lambda-loses-iam", node.corefile())
    assert rule and rule.group(1) == ips["lambda"], node.corefile()
    wait_for("the CLIENTS column", lambda: clients_column(node) ==
             "iam.aws.internal: 1 pod IP(s)", 10)

    node.kubectl("apply", "-f", "-", input=EXTRA_LAMBDA_POD)
    try:
        t0 = time.monotonic()
        node.kubectl("-n", "chaoslab", "wait", "--for=condition=Ready", f"pod/{EXTRA_LAMBDA}",
                     "--timeout=90s", timeout=100)
        wait_for("the new Lambda pod's lookups of IAM failing", lambda: iam_as_seen_from(
            node, f"pod/{EXTRA_LAMBDA}") == "fault", 30, interval=0.5)
        print(f"new matching pod created -> faulted: {time.monotonic() - t0:.1f}s")
        assert iam_as_seen_from(node, cw) == "ok"
        wait_for("status.clients counting the new pod", lambda: clients_column(node) ==
                 "iam.aws.internal: 2 pod IP(s)", 10)

        node.kubectl("-n", "default", "delete", "outagescenario", "lambda-loses-iam")
        t0 = time.monotonic()
        for pod in (lam, f"pod/{EXTRA_LAMBDA}"):
            wait_for(f"{pod} resolving IAM again", lambda p=pod: iam_as_seen_from(node, p) == "ok",
                     30, interval=0.5)
        print(f"delete -> every pod resolves IAM: {time.monotonic() - t0:.1f}s")
        assert iam_as_seen_from(node, cw) == "ok"
        assert node.corefile() == LAB_COREFILE
    finally:
        node.kubectl("-n", "default", "delete", "outagescenario", "lambda-loses-iam",
                     "--ignore-not-found")
        node.kubectl("-n", "chaoslab", "delete", "pod", EXTRA_LAMBDA, "--ignore-not-found",
                     "--wait=true", timeout=60)


def clients_column(node: RunningNode) -> str:
    """The CLIENTS column of `kubectl get outagescenarios -o wide` for lambda-loses-iam."""
    lines = node.kubectl("-n", "default", "get", "outagescenarios", "lambda-loses-iam",
                         "-o", "wide").stdout.splitlines()
    header, row = lines[0], lines[1]
    start = header.index("CLIENTS")
    end = header.index("MESSAGE")  # the column after it
    return row[start:end].strip()


def test_a_killed_projector_sidecar_still_lets_the_scenario_end_on_time(
        node: RunningNode) -> None:
    """Issue 13: the projector is killed during an active scenario (SIGKILL: its shell loop
    brings a new one within a second, the container and so the DNS Service untouched), then
    the new ones are frozen (SIGSTOP) across the scenario's end: nothing reloads CoreDNS,
    yet the fault ends on time (each rule's `until`). Thawed, every projector agrees with
    the ConfigMap the operator reverted."""
    node.kubectl("apply", "-f", "-", input=scenario("node-projector", "30s"))
    t0 = time.monotonic()
    servers = [layout.CLUSTER_DNS, *coredns_ips(node)]
    while host_sees(servers) != "fault":
        assert time.monotonic() - t0 < 10, "the fault did not land within 10 s"
        time.sleep(0.05)
    print(f"apply -> fault at every replica: {time.monotonic() - t0:.2f}s")
    old = projector_pids()
    assert len(old) == 2, old  # one per CoreDNS replica
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    new = wait_for("new projectors", lambda: (p := projector_pids()) and len(p) == 2
                   and not set(p) & set(old) and p, 20, interval=0.2)
    pods = node.json("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns")["items"]
    for pod in pods:
        statuses = {c["name"]: c for c in pod["status"]["containerStatuses"]}
        assert statuses["chaoslab-projector"]["restartCount"] == 0  # the loop restarted it
    wait_for("each new projector in sync with the API", lambda: all(
        projector_readyz(ip) == "ok: following the API" for ip in coredns_ips(node)), 30)
    assert host_sees(servers) == "fault"  # the fault stayed live meanwhile
    for pid in new:
        os.kill(pid, signal.SIGSTOP)
    try:
        status = node.json("-n", "default", "get", "outagescenario", "node-projector")["status"]
        end = dt.datetime.fromisoformat(status["endAt"].replace("Z", "+00:00"))
        while dt.datetime.now(dt.UTC) < end + dt.timedelta(seconds=2):
            if host_sees(servers) == "ok":
                break
            time.sleep(0.1)
        late = (dt.datetime.now(dt.UTC) - end).total_seconds()
        print(f"with the projectors frozen, the fault ended {late:+.2f}s from the end")
        assert host_sees(servers) == "ok" and late <= 2.0, f"fault live {late:.1f}s late"
        wait_for("the scenario Completed", lambda: phase(node, "node-projector") == "Completed",
                 60, interval=1)
        assert node.corefile() == LAB_COREFILE  # the operator reverted the ConfigMap
        stale = [p["metadata"]["name"] for p in pods]
        # ... while CoreDNS, frozen projectors and all, still holds the faulted Corefile.
        assert all(live_corefile(node, name) != LAB_COREFILE for name in stale)
    finally:
        for pid in new:
            os.kill(pid, signal.SIGCONT)
    wait_for("every projector agreeing with the ConfigMap again", lambda: all(
        live_corefile(node, p["metadata"]["name"]) == LAB_COREFILE for p in pods), 40)
    assert all(projector_readyz(ip) == "ok: following the API" for ip in coredns_ips(node))
    assert host_sees(servers) == "ok"
    node.kubectl("-n", "default", "delete", "outagescenario", "node-projector")


def test_a_replaced_operator_pod_reverts_the_fault_on_schedule(node: RunningNode) -> None:
    node.kubectl("apply", "-f", "-", input=scenario("node-restart", "40s"))
    wait_for("the fault live", lambda: faulted(node), 60, interval=1)
    injected = node.json("-n", "default", "get", "outagescenario", "node-restart")
    pods = node.kubectl("-n", "chaoslab", "get", "pods", "-l",
                        "app.kubernetes.io/component=operator", "-o", "name").stdout.split()
    assert len(pods) == 1
    node.kubectl("-n", "chaoslab", "delete", pods[0], "--wait=false")
    # The Deployment replaces the pod; the new operator finds the scenario and reverts it
    # at its end, which the kubelet then brings to CoreDNS.
    wait_for("the scenario Completed", lambda: phase(node, "node-restart") == "Completed",
             120, interval=2)
    wait_for("DNS restored", lambda: healthy(node), 60, interval=1)
    status = node.json("-n", "default", "get", "outagescenario", "node-restart")["status"]
    assert status["injectedAt"] == injected["status"]["injectedAt"]
    new = node.kubectl("-n", "chaoslab", "get", "pods", "-l",
                       "app.kubernetes.io/component=operator", "-o", "name").stdout.split()
    assert new and new != pods
    assert node.corefile() == LAB_COREFILE
    node.kubectl("-n", "default", "delete", "outagescenario", "node-restart")


def test_with_the_operator_gone_for_good_the_fault_still_ends_on_time(node: RunningNode) -> None:
    """The data plane's dead-man's switch (issue 15): every rule carries its end, so with no
    operator left to revert it, CoreDNS stops applying the fault at the scenario's end."""
    node.kubectl("apply", "-f", "-", input=scenario("node-orphan", "45s"))
    wait_for("the fault live", lambda: faulted(node), 60, interval=1)
    # SIGKILL, as a crash would (the operator pod's process, seen from the host), then no
    # replacement: the Deployment scaled to zero, as a CrashLoopBackOff or a lost node.
    killed = [pid for pid, cmd in processes_mentioning("operator run")
              if "kubepods" in Path(f"/proc/{pid}/cgroup").read_text()]
    assert killed, "no operator process in the node's pods"
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    node.kubectl("-n", "chaoslab", "scale", "deployment/chaoslab-operator", "--replicas=0")
    wait_for("the operator pod gone", lambda: not node.kubectl(
        "-n", "chaoslab", "get", "pods", "-l", "app.kubernetes.io/component=operator",
        "-o", "name").stdout.strip(), 60, interval=1)
    status = node.json("-n", "default", "get", "outagescenario", "node-orphan")["status"]
    end = dt.datetime.fromisoformat(status["endAt"].replace("Z", "+00:00"))
    servers = [layout.CLUSTER_DNS, *coredns_ips(node)]
    assert host_sees(servers) == "fault"  # still live: nobody reverted it
    while dt.datetime.now(dt.UTC) < end + dt.timedelta(seconds=2):
        if host_sees(servers) == "ok":
            break
        time.sleep(0.1)
    restored_at = dt.datetime.now(dt.UTC)
    late = (restored_at - end).total_seconds()
    print(f"fault ended {late:+.2f}s from the scenario's end with no operator")
    assert host_sees(servers) == "ok" and late <= 2.0, f"fault still live {late:.1f}s after the end"
    assert "chaoslab faults" in node.corefile() and node.corefile() != LAB_COREFILE
    # The operator back: it finds the scenario over and writes the pristine Corefile.
    node.kubectl("-n", "chaoslab", "scale", "deployment/chaoslab-operator", "--replicas=1")
    wait_for("the Corefile pristine again", lambda: node.corefile() == LAB_COREFILE, 120,
             interval=2)
    node.kubectl("-n", "default", "delete", "outagescenario", "node-orphan")


def host_sees(servers: list[str]) -> str:
    """'fault' (all NODATA), 'ok' (all an address) or 'mixed', as the cluster DNS and each
    CoreDNS replica answer the host."""
    seen = set()
    for server in servers:
        try:
            reply = dns.query.udp(dns.message.make_query(TARGET, "A"), server, timeout=0.5)
        except dns.exception.Timeout:
            return "mixed"
        if reply.rcode() != dns.rcode.NOERROR:
            return "mixed"
        seen.add("ok" if reply.answer else "fault")
    return seen.pop() if len(seen) == 1 else "mixed"


def test_no_lab_pod_restarted_or_was_replaced_by_itself(node: RunningNode) -> None:
    """The kubelet's own counts over the session (issue 19 item 4): every pod of the start
    is still the same pod with the same restart counts. The operator's is the exception
    the tests made on purpose: replaced by a pod delete, then SIGKILLed with its Deployment
    scaled to zero and back, so its pod is new and that new pod never restarted; the
    projector kills restart no container (their shell loop does)."""
    problems = kubelet.restart_problems(node.pods_at_start, kubelet.read(node.paths),
                                        replaced={"chaoslab/chaoslab-operator"})
    assert problems == []


# -- taking it down ------------------------------------------------------------------------------
def test_helm_uninstall_with_a_scenario_active_leaves_dns_pristine(node: RunningNode) -> None:
    node.kubectl("apply", "-f", "-", input=scenario("node-uninstall", "10m"))
    wait_for("the fault live", lambda: faulted(node), 60, interval=1)
    # helm alone, hooks on: the pre-delete hook runs `chaoslab abort --all`.
    helm = subprocess.run([str(tool("helm")), "uninstall", "chaoslab", "-n", "chaoslab",
                           "--wait", "--timeout", "120s"], capture_output=True, text=True,
                          env={"KUBECONFIG": str(node.paths.kubeconfig), "HOME": "/tmp"},
                          timeout=180)
    assert helm.returncode == 0, helm.stderr
    assert node.corefile() == LAB_COREFILE
    # No fault is left once the kubelet brings the Corefile to every replica: the name now
    # answers NXDOMAIN (its Service went with the chart), never the injected NODATA.
    servers = [layout.CLUSTER_DNS, *coredns_ips(node)]
    wait_for("no replica answering the fault", lambda: all(
        not _nodata(server) for server in servers), 60, interval=0.5)
    # The rest of the kind path's teardown: the cluster's own Corefile and image come back.
    out = subprocess.run([str(UNINSTALL_SCRIPT)], capture_output=True, text=True, timeout=300,
                         env={"KUBECONFIG": str(node.paths.kubeconfig), "HOME": "/tmp",
                              "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert node.corefile() == KIND_COREFILE
    deploy = node.json("-n", "kube-system", "get", "deployment", "coredns")
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == \
        layout.STOCK_COREDNS_IMAGE
    spec = deploy["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["coredns"]  # the sidecar gone
    assert "initContainers" not in spec and "shareProcessNamespace" not in spec
    assert {v["name"]: v for v in spec["volumes"]}["config-volume"]["configMap"]["name"] == \
        "coredns"


def test_down_leaves_the_host_as_it_was(node: RunningNode) -> None:
    pids = dict(node.state.pids)
    assert down(node.paths.lab_dir) == []
    for name, pid in pids.items():
        assert not pid_alive(pid), f"{name} (pid {pid}) still running"
    after = host_footprint()
    for key, value in node.before.items():
        assert after[key] == value, f"{key} differs after down"
    assert not node.paths.run_dir.exists()
    assert not node.paths.state_file.exists()
    assert down(node.paths.lab_dir) == []  # a second down is harmless


def _answers(server: str, name: str) -> bool:
    reply = dns.query.udp(dns.message.make_query(name, "A"), server, timeout=3)
    return reply.rcode() == dns.rcode.NOERROR and bool(reply.answer)


def _nodata(server: str) -> bool:
    reply = dns.query.udp(dns.message.make_query(TARGET, "A"), server, timeout=3)
    return reply.rcode() == dns.rcode.NOERROR and not reply.answer
