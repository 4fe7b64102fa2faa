"""Operator latency as a user sees it: `kubectl apply` -> fault visible in a real DNS answer,
and `kubectl delete` -> the base answer back, over N rounds (default 20).

Everything is real and on 127.0.0.1: etcd + kube-apiserver, the CRD, the operator process
(`python -m chaoslab_operator operator run`), the projector (ConfigMap -> Corefile file +
SIGUSR1, as the kubelet does) and CoreDNS with the chaoslab plugin. The clock starts
before `kubectl` is run and stops at the first DNS answer that shows the change, polled
every 10 ms. Target: p95 < 3 s for both.

    .venv/bin/python benchmarks/operator_latency.py [--rounds 20] [--keep-reload-plugin]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode

from chaoslab import controlplane
from chaoslab.local.projector import Projector
from chaoslab.procs import free_port, log_tail, spawn, wait_until
from chaoslab.testkit import coredns
from chaoslab.testkit.scenarios import outage_yaml
from chaoslab_dns.basefiles import local_corefile
from chaoslab_operator.resources import CRD_NAME, crd_path

TARGET = "dynamodb.us-east-1.aws.internal"
ENDPOINTS = {TARGET: "127.0.0.1", "iam.aws.internal": "127.0.0.1"}


def answer(port: int) -> str:
    query = dns.message.make_query(TARGET, "A")
    try:
        reply = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.3)
    except dns.exception.Timeout:
        return "TIMEOUT"
    return dns.rcode.to_text(reply.rcode()) if reply.rcode() else (
        "A" if reply.answer else "NODATA")


def until(port: int, wanted: str, t0: float, limit: float = 30.0) -> float:
    while answer(port) != wanted:
        if time.monotonic() - t0 > limit:
            raise SystemExit(f"no {wanted} answer after {limit}s")
        time.sleep(0.01)
    return time.monotonic() - t0


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--keep-reload-plugin", action="store_true",
        help="add the `reload` plugin beside the projector's SIGUSR1 (two reload mechanisms, "
        "as a comparison: CoreDNS then logs failed restarts and the tail latency grows)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chaoslab-oplat-"))
    cp = controlplane.start(work / "cp")
    procs = []
    projector = None
    try:
        cp.kubectl("apply", "-f", str(crd_path()))
        cp.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}")
        dns_port = free_port()
        # One reload mechanism (SIGUSR1 from the projector) unless asked for both.
        base = local_corefile(dns_port, free_port(), ENDPOINTS,
                              reload_plugin=args.keep_reload_plugin)
        cp.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": base}}))
        corefile = work / "Corefile"
        projector = Projector(kubeconfig=cp.kubeconfig, namespace="kube-system", name="coredns",
                              key="Corefile", out=corefile)
        projector.sync_once()
        server = coredns.start(corefile, dns_port, ready=lambda _: answer(dns_port) == "A",
                               timeout=20)
        procs.append(server.proc)
        projector.signal_pid = server.proc.pid
        projector.start()
        http = free_port()
        operator = spawn("operator", [
            sys.executable, "-m", "chaoslab_operator", "operator", "run",
            "--kubeconfig", cp.kubeconfig, "--http", f"127.0.0.1:{http}",
        ], work / "operator.log")
        procs.append(operator)

        def ready() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=2) as r:
                return r.status == 200

        wait_until("operator /readyz", ready, 60, [operator])

        inject, restore = [], []
        for i in range(args.rounds):
            manifest = outage_yaml(f"bench-{i}", faults=[{"target": TARGET, "mode": "nxdomain"}],
                                   duration="10m")
            t0 = time.monotonic()
            cp.kubectl("apply", "-f", "-", input=manifest)
            inject.append(until(dns_port, "NXDOMAIN", t0))
            t0 = time.monotonic()
            cp.kubectl("delete", "outagescenario", f"bench-{i}", "--wait=false")
            restore.append(until(dns_port, "A", t0))
            time.sleep(0.2)
        print(f"operator latency over {args.rounds} rounds (kubectl -> real DNS answer):")
        for what, values in (("apply -> fault visible", inject),
                             ("delete -> base restored", restore)):
            print(f"  {what:24s} p50 {statistics.median(values):.2f}s  p95 {p95(values):.2f}s"
                  f"  max {max(values):.2f}s")
        failed = (work / "coredns.log").read_text().count("Restart failed")
        print(f"  CoreDNS failed restarts: {failed}")
        worst = max(p95(inject), p95(restore))
        print(f"target p95 < 3s: {'met' if worst < 3 else 'MISSED'}")
        return 0 if worst < 3 else 1
    except Exception:
        print(log_tail(work / "operator.log", 30), file=sys.stderr)
        raise
    finally:
        if projector is not None:
            projector.stop()
        for proc in reversed(procs):
            proc.stop()
        cp.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
