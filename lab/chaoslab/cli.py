"""The `chaoslab` command: one entry point, subcommands contributed by each component.

Each component package has a `command.py` with `register(subparsers)`; this module only
assembles them, so a component's command line lives beside the code it drives.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# Order is the order of `chaoslab --help`.
_COMMAND_MODULES = (
    "chaoslab.local.command",  # up, down, status, demo (the local lab)
    "chaoslab.node.command",  # node up|down|status (one real Kubernetes node)
    "chaoslab_dns.command",  # corefile
    "chaoslab_operator.command",  # operator, abort
    "chaoslab_report.command",  # report
    "chaoslab.watch.command",  # watch (the live terminal view)
    "chaoslab.experiment.command",  # experiment
    "chaoslab.controlplane.command",  # controlplane up|down
)

DESCRIPTION = """\
DNS Chaos Lab: rehearse a DNS failure cascading through AWS-like services.

Typical game day on this machine:
  chaoslab up --local              start the local lab (make up LAB=local)
  export KUBECONFIG=$PWD/.lab/kubeconfig
  kubectl apply -f scenarios/...   inject an outage
  chaoslab watch                   watch it live: scenarios, tiers, DNS faults
  chaoslab report --out DIR        write the game-day report
  chaoslab down                    stop everything

Or all of it at once: chaoslab demo (make demo).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaoslab",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not exc.name or not name.startswith(exc.name):
                raise
            continue  # component not installed in this image
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
