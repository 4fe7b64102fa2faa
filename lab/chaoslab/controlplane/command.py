"""`chaoslab controlplane up|down`: the bare control plane, for poking at the API by hand."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from chaoslab import controlplane
from chaoslab.toolpaths import ToolMissing


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "controlplane",
        help="start/stop a bare etcd + kube-apiserver on loopback",
        description="A real etcd + kube-apiserver (RBAC on) on free loopback ports. "
        "`up` returns once /readyz is ok and leaves it running; `down` stops it.",
    )
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(".lab/controlplane"),
        help="work directory: data, certs, kubeconfig, logs (default: %(default)s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory on down")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    state_file: Path = args.dir / "state.json"
    if args.action == "down":
        if not state_file.exists():
            print(f"no control plane recorded in {state_file}; nothing to stop")
            return 0
        controlplane.stop_recorded(state_file)
        print("control plane stopped")
        return 0
    if state_file.exists():
        print(f"a control plane is already recorded in {state_file}; run `down` first")
        return 1
    try:
        cp = controlplane.ControlPlane(workdir=args.dir.resolve(), keep=True)
        cp.start()
    except ToolMissing as exc:
        print(f"error: {exc}")
        return 1
    # The processes run in their own sessions and outlive this command.
    state = {**cp.state(), "keep": args.keep}
    state_file.write_text(json.dumps(state, indent=2))
    print(f"control plane ready in {cp.started_seconds:.1f}s at {cp.server}")
    print(f"export KUBECONFIG={cp.kubeconfig}")
    return 0
