"""The node lab's figures: `up` to every pod Ready (cold and warm), the node's memory, and
how long a fault takes to reach the cluster DNS on it (issues 12 and 13), with the CoreDNS
projector sidecar and, in the same run, without it.

    sudo .venv/bin/python benchmarks/node_lab.py [--rounds 10] [--cold] [--latency-only]

--cold first empties the image cache (~/.cache/chaoslab: the images and containerd's store),
so the first `up` builds, imports and unpacks every image; without it the first `up` is as
warm as the cache is (a source change since the last build rebuilds the lab image). A
second `up` always follows the first's `down`: that is the warm figure. Fault latency is
measured from the host, at the cluster DNS Service (10.96.0.10) and at each CoreDNS replica
behind it, polling every 50 ms: apply -> every one answers NODATA, delete -> every one
answers with an address. First with the projector sidecar (the default: the operator's
write -> the sidecar's watch -> SIGUSR1, expect well under 1 s), then after
`charts/coredns-patch.sh apply --projector off` (the kubelet's ConfigMap sync, 10 s with
kind-config.yaml's syncFrequency, plus CoreDNS's `reload 2s`: expect up to ~12 s).
--latency-only skips the second `up` (and the cold/warm figures that need it).
The latencies are seen from a DNS client; the injection CoreDNS performed by itself
(coredns_chaoslab_faults_injected_total) is not used as the start here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from chaoslab.controlplane import resident_memory_bytes
from chaoslab.node import hostnet, layout
from chaoslab.node.cluster import NodeLab, NodeOptions, down, kubectl
from chaoslab.node.layout import NodePaths, cache_dir
from chaoslab.toolpaths import REPO_ROOT, tool

TARGET = "dynamodb.us-east-1.aws.internal"
SCENARIO = f"""apiVersion: chaoslab.io/v1alpha1
kind: OutageScenario
metadata: {{name: bench-node, namespace: default}}
spec:
  duration: 10m
  faults:
    - {{target: {TARGET}, mode: nodata}}
"""


def answer(servers: list[str]) -> str:
    """'fault' (every server NODATA), 'ok' (every server an address) or 'mixed'."""
    seen = set()
    for server in servers:
        try:
            reply = dns.query.udp(dns.message.make_query(TARGET, "A"), server, timeout=0.5)
        except Exception:  # a lost packet is just another poll
            return "mixed"
        if reply.rcode() != dns.rcode.NOERROR:
            return "mixed"
        seen.add("ok" if reply.answer else "fault")
    return seen.pop() if len(seen) == 1 else "mixed"


def until(wanted: str, servers: list[str], timeout: float = 120.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if answer(servers) == wanted:
            return time.monotonic() - t0
        time.sleep(0.05)
    raise TimeoutError(f"the cluster DNS did not answer '{wanted}' within {timeout:.0f}s")


def coredns_ips(paths: NodePaths) -> list[str]:
    """The CoreDNS pods' addresses, terminating ones left out."""
    out = kubectl(paths, "-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o",
                  "json")
    return [p["status"]["podIP"] for p in json.loads(out.stdout)["items"]
            if p["status"].get("podIP") and not p["metadata"].get("deletionTimestamp")]


def node_memory(lab: NodeLab) -> int:
    """The node's processes (RSS) plus every pod (the kubepods memory cgroup)."""
    pods = 0
    usage = Path("/sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes")
    if usage.exists():
        pods = int(usage.read_text())
    return resident_memory_bytes([p.pid for p in lab.procs]) + pods


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10, help="apply/delete rounds (default 10)")
    parser.add_argument("--cold", action="store_true", help="rebuild every image first")
    parser.add_argument("--latency-only", action="store_true",
                        help="one `up`, then only the fault latencies")
    args = parser.parse_args()
    hostnet.require_root()
    if args.cold:
        for part in ("images", "containerd", "buildah"):
            shutil.rmtree(cache_dir() / part, ignore_errors=True)
    lab_dir = Path(tempfile.mkdtemp(prefix="chaoslab-bench-node-"))
    try:
        measure(lab_dir, args.rounds, args.cold, args.latency_only)
    finally:
        problems = down(lab_dir, progress=lambda m: None)
        subprocess.run(["rm", "-rf", str(lab_dir)], check=False)
    if problems:
        print("NOT CLEANED:", *problems, sep="\n  ")
        return 1
    return 0


def measure(lab_dir: Path, rounds: int, cold: bool, latency_only: bool = False) -> None:
    figures: dict[str, float] = {}
    for label in ("first",) if latency_only else ("first", "warm"):
        lab = NodeLab(NodeOptions(lab_dir=lab_dir), progress=lambda m: None)
        t0 = time.monotonic()
        lab.up()
        figures[f"up_{label}_s"] = time.monotonic() - t0
        print(f"up ({label}{', images built' if label == 'first' and cold else ''}): "
              f"{figures[f'up_{label}_s']:.1f}s to every pod Ready", flush=True)
        if label == "warm" or latency_only:
            break
        assert down(lab_dir, progress=lambda m: None) == []
    time.sleep(20)  # let start-up settle before measuring memory
    figures["memory_gib"] = node_memory(lab) / 2**30
    print(f"memory of the node with the lab running: {figures['memory_gib']:.2f} GiB",
          flush=True)
    paths = lab.paths
    results = {"projector sidecar": latencies(paths, rounds)}
    where_the_time_goes(paths)
    print("turning the projector sidecar off: charts/coredns-patch.sh apply --projector off",
          flush=True)
    subprocess.run([str(REPO_ROOT / "charts/coredns-patch.sh"), "apply", "--projector", "off",
                    "--image", f"docker.io/chaoslab/coredns:{layout.IMAGE_TAG}"],
                   env={**os.environ, "KUBECONFIG": str(paths.kubeconfig),
                        "KUBECTL": str(tool("kubectl"))},
                   check=True, stdout=subprocess.DEVNULL, timeout=600)
    results["kubelet sync + reload 2s"] = latencies(paths, rounds)
    print(f"{'':26} {'apply -> fault at the cluster DNS':>36} {'delete -> restored':>30}")
    for label, (inject, restore) in results.items():
        print(f"{label:26} {summary(inject):>36} {summary(restore):>30}")


def where_the_time_goes(paths: NodePaths) -> None:
    """The last round's path, from the components' own log timestamps: the operator's
    Corefile write, each projector's file write, and CoreDNS's reload (its `kubernetes`
    plugin logs "waiting for Kubernetes API" every 0.5 s while a reload waits for its
    informers to sync)."""
    def logs(*args: str) -> list[str]:
        out = kubectl(paths, "logs", "--timestamps", "--tail=400", *args, check=False)
        return out.stdout.splitlines()

    print(f"load average: {os.getloadavg()[0]:.2f}", flush=True)
    writes = [line for line in logs("-n", "chaoslab", "deploy/chaoslab-operator")
              if "Corefile written" in line or "Reverted" in line]
    print("operator:", *writes[-2:], sep="\n  ")
    out = kubectl(paths, "-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o",
                  "jsonpath={.items[*].metadata.name}")
    for pod in out.stdout.split():
        wrote = [line for line in logs("-n", "kube-system", pod, "-c", "chaoslab-projector")
                 if " wrote " in line]
        core = logs("-n", "kube-system", pod, "-c", "coredns")
        waits = sum("waiting for Kubernetes API" in line for line in core)
        reloads = [line for line in core if "Reloading" in line or "unsynced" in line]
        print(f"{pod}: {len(wrote)} projector writes, {waits} 'waiting for Kubernetes API'"
              f" lines over {sum('Reloading complete' in x for x in core)} reloads",
              *wrote[-2:], *reloads[-4:], sep="\n  ")


def summary(values: list[float]) -> str:
    return (f"p50 {statistics.median(values):.2f}s p95 {pct(values, 0.95):.2f}s "
            f"max {max(values):.2f}s")


def latencies(paths: NodePaths, rounds: int) -> tuple[list[float], list[float]]:
    """`rounds` apply/delete rounds, polled at every replica and the Service."""
    kubectl(paths, "-n", "kube-system", "rollout", "status", "deployment/coredns",
            "--timeout=300s")
    # Every CoreDNS replica (a Service picks one per query) and the Service itself.
    deadline = time.monotonic() + 120
    while len(ips := coredns_ips(paths)) != 2 and time.monotonic() < deadline:
        time.sleep(1)  # replaced pods still terminating
    servers = [layout.CLUSTER_DNS, *ips]
    print(f"polling {', '.join(servers)} every 50 ms", flush=True)
    until("ok", servers)
    inject, restore = [], []
    for i in range(rounds):
        kubectl(paths, "apply", "-f", "-", input=SCENARIO)
        inject.append(until("fault", servers))
        kubectl(paths, "-n", "default", "delete", "outagescenario", "bench-node")
        restore.append(until("ok", servers))
        print(f"  round {i + 1}: apply -> fault {inject[-1]:.2f}s, "
              f"delete -> restored {restore[-1]:.2f}s", flush=True)
    return inject, restore


if __name__ == "__main__":
    sys.exit(main())
