"""Soak on the node lab: a long game day on one real node, to see what grows or restarts.

The node lab's version of benchmarks/soak.py (issue 19 item 4; the schedule, the revert
checks and the verdict are shared: soak_common.py). It starts the node lab
(values-minimal.yaml: one region), lets the load settle (``--warmup``), then applies a
scenario every ``--every`` seconds cycling through the fault modes and a client-scoped one
(Lambda loses IAM) -- odd ones deleted early, even ones left to expire -- and kills the
operator twice: its pod deleted (the Deployment replaces it), then its process SIGKILLed
from the host (the kubelet restarts the container). Each kill waits for a moment with no
end or deletion in the next ``QUIET`` seconds, so what is judged is the revert path and not
how long a new operator takes to start.

At the start and the end it prints, from the kubelet's own figures (its ``/pods`` and
``/stats/summary``, chaoslab.node.kubelet): each pod's restarts, RSS and working set, and
the bytes of Prometheus's TSDB volume; from Prometheus: head series, CoreDNS q/s and the
operator's reconcile p99. A fault counts as reverted on time when, ``GRACE`` s after its
end or deletion, its rule is out of the ConfigMap and the real answer (the Service's
ClusterIP) is back at the cluster DNS and at every CoreDNS replica -- asked from the host,
or, for the client-scoped fault, from inside the Lambda pod it applied to.

Exit 1 on a leaked fault, a restart or pod replacement the soak did not cause (or a kill
the kubelet never saw), a pod whose RSS grew by more than 50 % (the operator, replaced on
purpose, excepted; RSS and not working set, which counts the page cache of Prometheus's
own writes), or a ``down`` that leaves something on the host. Bounded: default 15 minutes
after the lab is up (~2 min, more when the lab image is rebuilt). Root; it uses both cores,
so run it under the labs' lock:

    flock /tmp/chaoslab-lab.lock .venv/bin/python benchmarks/node_soak.py \
        [--minutes 15] [--every 60] [--warmup 60]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
from soak_common import (
    MODES,
    Check,
    SoakRun,
    growth_problems,
    parse_soak_arguments,
    prom_scalar,
    soak_arguments,
)

from chaoslab.local.state import LabState
from chaoslab.node import kubelet, layout
from chaoslab.node.cluster import NodeLab, NodeOptions, down, kubectl
from chaoslab.node.kubelet import PodFigures
from chaoslab.node.layout import NodePaths
from chaoslab.procs import processes_mentioning
from chaoslab.toolpaths import REPO_ROOT

MINIMAL = REPO_ROOT / "charts/chaoslab/values-minimal.yaml"
TARGETS = ["dynamodb.us-east-1.aws.internal", "s3.us-east-1.aws.internal",
           "kms.us-east-1.aws.internal", "cloudwatch.us-east-1.aws.internal"]
IAM = "iam.aws.internal"
LAMBDA_ONLY = {"podSelector": {"matchLabels": {"chaoslab.io/service": "lambda"}}}
# The local soak's modes (the redirect goes to a lab Service instead of a loopback address),
# then Lambda losing IAM, as scenarios/lambda-loses-iam.yaml.
NODE_MODES = [*[m for m in MODES if m[0] != "redirect"], ("redirect", {}),
              ("servfail", {"clients": LAMBDA_ONLY})]
OPERATOR = "chaoslab/chaoslab-operator"
OPERATOR_PODS = ("-n", "chaoslab", "get", "pods", "-l", "app.kubernetes.io/component=operator")
QUIET = 40.0  # s with no revert due after an operator kill
BACK_WITHIN = 120.0  # s for the operator to be Ready again after a kill
# From inside a pod: the A records of argv[1] at each server after it, as JSON.
POD_QUERY = textwrap.dedent("""
    import json, sys, dns.message, dns.query, dns.rcode
    out = {}
    for server in sys.argv[2:]:
        r = dns.query.udp(dns.message.make_query(sys.argv[1], "A"), server, timeout=3)
        out[server] = [dns.rcode.to_text(r.rcode()),
                       sorted(rr.address for rrset in r.answer for rr in rrset)]
    print(json.dumps(out))
""")


class NodeSoak(SoakRun):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args.minutes, args.every, TARGETS, NODE_MODES, quiet=QUIET)
        self.args = args
        self.lab = NodeLab(NodeOptions(lab_dir=args.lab_dir, values=[MINIMAL]))
        self.state: LabState | None = None
        # A killed operator not Ready yet: (since, the deleted pod's uid, restarts wanted).
        self.awaiting: tuple[float, str, int] | None = None
        self._next_poll = 0.0

    @property
    def paths(self) -> NodePaths:
        return self.lab.paths

    # -- the lab's side of soak_common.SoakRun --------------------------------------------
    def kubectl(self, *argv: str, stdin: str | None = None) -> str:
        return kubectl(self.paths, *argv, input=stdin, timeout=60).stdout

    def fault(self, index: int) -> dict[str, object]:
        fault = super().fault(index)
        if "clients" in fault:
            fault["target"] = IAM
        if fault["mode"] == "redirect":  # to another lab Service: traffic stays on the node
            other = "s3.us-east-1" if "s3." not in str(fault["target"]) else "kms.us-east-1"
            fault["redirectTo"] = self.address_of(f"{other}.aws.internal")
        return fault

    def address_of(self, name: str) -> str:
        """The real answer for a lab name: its Service's ClusterIP."""
        assert self.state is not None
        return self.state.services[name.removesuffix(".aws.internal")].rsplit(":", 1)[0]

    def servers(self) -> list[str]:
        pods = json.loads(self.kubectl("-n", "kube-system", "get", "pods", "-l",
                                       "k8s-app=kube-dns", "-o", "json"))["items"]
        return [layout.CLUSTER_DNS, *(p["status"]["podIP"] for p in pods
                                      if p["status"].get("podIP")
                                      and not p["metadata"].get("deletionTimestamp"))]

    def answers(self, name: str, scoped: bool) -> dict[str, list]:
        """{server: [rcode, addresses]}: from the host, or from a Lambda pod when scoped."""
        servers = self.servers()
        if scoped:
            out = self.kubectl("-n", "chaoslab", "exec", "deploy/lambda-us-east-1", "--",
                               "python", "-c", POD_QUERY, name, *servers)
            return json.loads(out.strip().splitlines()[-1])
        seen: dict[str, list] = {}
        for server in servers:
            try:
                r = dns.query.udp(dns.message.make_query(name, "A"), server, timeout=1)
            except Exception as exc:  # a lost answer is not a clean one
                seen[server] = [type(exc).__name__, []]
                continue
            seen[server] = [dns.rcode.to_text(r.rcode()),
                            sorted(rr.address for rrset in r.answer for rr in rrset)]
        return seen

    def still_live(self, check: Check) -> str | None:
        rule = f"scenario default/{check.name}" in self.kubectl(
            "-n", "kube-system", "get", "configmap", "coredns", "-o", "jsonpath={.data.Corefile}")
        want = ["NOERROR", [self.address_of(check.target)]]
        wrong = {s: a for s, a in self.answers(check.target, "clients" in check.fault).items()
                 if a != want}
        if not rule and not wrong:
            return None
        return f"rule in ConfigMap={rule}, answers other than {want}: {wrong or 'none'}"

    def operator_pod(self) -> dict | None:
        """The operator's running pod (not one on its way out)."""
        pods = json.loads(self.kubectl(*OPERATOR_PODS, "-o", "json"))["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        return live[0] if len(live) == 1 else None

    def kill_operator(self, nth: int) -> None:
        pod = self.operator_pod()
        assert pod is not None, "no operator pod to kill"
        uid, name = pod["metadata"]["uid"], pod["metadata"]["name"]
        restarts = sum(c.get("restartCount", 0) for c in pod["status"]["containerStatuses"])
        if nth == 0:
            print(f"{self.t()} delete operator pod {name}", flush=True)
            self.kubectl("-n", "chaoslab", "delete", "pod", name, "--wait=false")
        else:
            # The operator's process as the host sees it: in this very pod's cgroup.
            pids = [pid for pid, cmd in processes_mentioning("operator run")
                    if _in_pod(pid, uid)]
            assert pids, f"no operator process in pod {name}'s cgroup"
            print(f"{self.t()} SIGKILL operator process(es) {pids} of pod {name}", flush=True)
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
        # Back means: a new pod Ready (after the delete), or this one Ready with one more
        # restart (after the SIGKILL).
        self.awaiting = (time.monotonic(), uid, 0) if nth == 0 else (
            time.monotonic(), "", restarts + 1)

    def health(self) -> str | None:
        """While a killed operator is not back: poll (every 2 s) for it Ready again."""
        if self.awaiting is None or time.monotonic() < self._next_poll:
            return None
        self._next_poll = time.monotonic() + 2
        since, old_uid, restarts = self.awaiting
        pod = self.operator_pod()
        if pod is not None and pod["metadata"]["uid"] != old_uid:
            statuses = pod["status"].get("containerStatuses") or []
            if statuses and all(c.get("ready") for c in statuses) and sum(
                    c.get("restartCount", 0) for c in statuses) >= restarts:
                print(f"{self.t()} operator back: pod {pod['metadata']['name']} Ready "
                      f"{time.monotonic() - since:.1f}s after the kill", flush=True)
                self.awaiting = None
                return None
        if time.monotonic() - since > BACK_WITHIN:
            return f"the operator was not Ready again {BACK_WITHIN:.0f}s after kill {self.kills}"
        return None

    # -- figures -----------------------------------------------------------------------
    def figures(self, label: str) -> dict[str, PodFigures]:
        assert self.state is not None
        pods = kubelet.read(self.paths)
        prom = self.state.prometheus
        window = max(30, int(time.monotonic() - self.started))
        print(f"\n== {label} (t={time.monotonic() - self.started:.0f}s), the kubelet's figures")
        print(f"{'pod':52} {'restarts':>8} {'RSS MiB':>8} {'WS MiB':>8}")
        for key in sorted(pods):
            p = pods[key]
            print(f"{key:52} {p.restart_count:8d} {p.rss_bytes / 2**20:8.1f} "
                  f"{p.working_set_bytes / 2**20:8.1f}" + ("  (terminating)" * p.terminating))
        tsdb = sum(p.volumes.get("data", 0) for p in pods.values()
                   if p.component == "chaoslab/prometheus" and not p.terminating)
        series = prom_scalar(prom, "prometheus_tsdb_head_series")
        p99 = prom_scalar(prom, "histogram_quantile(0.99, sum by (le) (increase("
                          f"chaoslab_operator_reconcile_duration_seconds_bucket[{window}s])))")
        qps = prom_scalar(prom, "sum(rate(coredns_dns_requests_total[30s]))")
        print(f"Prometheus TSDB {tsdb / 2**20:.1f} MiB (its emptyDir, kubelet), {series} head "
              "series; operator reconcile p99 "
              + (f"{p99 * 1000:.1f} ms" if p99 is not None else "n/a")
              + f" (over {window}s); CoreDNS " + (f"{qps:.0f} q/s" if qps is not None else "n/a"),
              flush=True)
        return pods

    # -- the run -------------------------------------------------------------------------
    def run(self) -> int:
        t0 = time.monotonic()
        self.state = self.lab.up()
        print(f"node lab up in {time.monotonic() - t0:.0f}s", flush=True)
        try:
            self.started = time.monotonic()
            time.sleep(self.args.warmup)
            start = self.figures("start")
            self.drive()
            if self.awaiting is not None:
                self.problems.append("the operator was not Ready again at the end")
            self.finish(start)
        finally:
            left = down(self.args.lab_dir, lambda m: print(f"down: {m}", flush=True))
            print("node lab down: " + ("the host is as it was" if not left else
                                       f"{len(left)} thing(s) not cleaned"), flush=True)
            self.problems += [f"down left: {x}" for x in left]
        return self.verdict()

    def finish(self, start: dict[str, PodFigures]) -> None:
        end = self.figures("end")
        self.problems += kubelet.restart_problems(
            start, end, replaced={OPERATOR} if self.kills else (),
            restarted={OPERATOR: 1} if self.kills >= 2 else {})

        def rss(pods: dict[str, PodFigures]) -> dict[str, int]:
            by: dict[str, int] = {}
            for p in pods.values():
                if not p.terminating:
                    by[p.component] = by.get(p.component, 0) + p.rss_bytes
            return by

        self.problems += growth_problems(rss(start), rss(end), "RSS", skip=[OPERATOR])


def _in_pod(pid: int, uid: str) -> bool:
    """Whether a host process runs in the pod's cgroup (cgroupfs: .../pod<uid>/...)."""
    try:
        return f"pod{uid}" in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = soak_arguments(__doc__ or "", minutes=15.0, every=60.0, warmup=60.0,
                            lab_dir=Path(".lab/node-soak"))
    return NodeSoak(parse_soak_arguments(parser, argv)).run()

if __name__ == "__main__":
    sys.exit(main())
