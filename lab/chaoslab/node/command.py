"""`chaoslab node up|down|status`: the node lab's command line (`make up LAB=node`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chaoslab.procs import ComponentFailed
from chaoslab.toolpaths import ToolMissing

_LAB_DIR_HELP = "where the lab keeps its state, logs and data (default: %(default)s)"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    node = sub.add_parser(
        "node",
        help="the lab on one real Kubernetes node on this host (make up LAB=node)",
        description="One real Kubernetes node on this Linux host, without Docker: etcd + "
        "kube-apiserver, controller manager, scheduler, containerd + runc with a CNI "
        "bridge, kubelet (kind-config.yaml's settings) and kube-proxy; then the same steps "
        "as `make up` on kind (charts/lab-install.sh). Needs root. Pods can reach nothing "
        "off this machine; `down` removes every process, namespace, rule, mount and cgroup "
        "it made.",
    )
    steps = node.add_subparsers(dest="node_command", metavar="STEP", required=True)
    up = steps.add_parser(
        "up", help="start the node and install the lab; returns once every pod is Ready",
        description="Builds what changed of the images (charts/node-images.sh: first time "
        "~5 min, then seconds), starts the node, installs the chart with Grafana off (not "
        "to be had here) and waits for every pod. Writes .lab/state.json (\"lab\": \"node\") "
        "and .lab/kubeconfig; logs in .lab/logs/node-*.log.")
    up.add_argument("--lab-dir", type=Path, default=Path(".lab"), help=_LAB_DIR_HELP)
    up.add_argument("--values", type=Path, action="append", default=[],
                    help="extra values file for the chart, after values-node.yaml "
                    "(repeatable; e.g. charts/chaoslab/values-minimal.yaml)")
    up.add_argument("--timeout", type=float, default=180.0,
                    help="seconds each component may take to become ready (default: "
                    "%(default)s)")
    up.set_defaults(func=run_up)
    down = steps.add_parser("down", help="uninstall the lab, stop the node, undo its host "
                            "changes (safe to repeat, and after a failed up)")
    down.add_argument("--lab-dir", type=Path, default=Path(".lab"), help=_LAB_DIR_HELP)
    down.set_defaults(func=run_down)
    status = steps.add_parser("status", help="the node and its pods")
    status.add_argument("--lab-dir", type=Path, default=Path(".lab"), help=_LAB_DIR_HELP)
    status.set_defaults(func=run_status)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def run_up(args: argparse.Namespace) -> int:
    from chaoslab.node.cluster import NodeLab, NodeOptions

    lab = NodeLab(NodeOptions(lab_dir=args.lab_dir, values=args.values, timeout=args.timeout))
    try:
        state = lab.up()
    except (ComponentFailed, ToolMissing, PermissionError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("interrupted; the node was stopped", file=sys.stderr)
        return 130
    print(f"""
The node lab is up. State in {lab.paths.state_file}
  kubeconfig      export KUBECONFIG={state.kubeconfig}
  cluster DNS     {state.dns}   (dig @{state.dns.split(':')[0]} dynamodb.us-east-1.aws.internal)
  Prometheus      {state.prometheus}
  Locust          {state.locust}
  Grafana         off: not to be had on this machine (the dashboards' queries run on
                  Prometheus as they are; `chaoslab report` writes the game-day report)
Try:  kubectl apply -f scenarios/slow-dns.yaml ; kubectl get outagescenarios -A -w
      chaoslab node status ; chaoslab report --out reports/now ; make down LAB=node""")
    return 0


def run_down(args: argparse.Namespace) -> int:
    from chaoslab.node.cluster import down

    try:
        problems = down(args.lab_dir)
    except PermissionError as exc:
        return _fail(str(exc))
    if problems:
        return _fail(f"{len(problems)} thing(s) could not be cleaned (listed above); "
                     "run `make down LAB=node` again, or remove them by hand")
    print("the node lab is down; the host is as it was (logs kept in "
          f"{args.lab_dir / 'logs'})")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from chaoslab.node.cluster import kubectl
    from chaoslab.node.layout import NodePaths

    paths = NodePaths(args.lab_dir.resolve())
    if not paths.kubeconfig.exists():
        return _fail("no node lab is running; start one with `make up LAB=node`")
    out = kubectl(paths, "get", "nodes,pods", "-A", "-o", "wide", check=False)
    print(out.stdout or out.stderr)
    return out.returncode
