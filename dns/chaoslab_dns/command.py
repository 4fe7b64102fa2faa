"""``chaoslab corefile``: print the Corefile the operator would write.

The only module of chaoslab_dns that does I/O (`manifests` parses the scenario files it
reads). Exit codes: 0 printed, 2 invalid input (bad scenario, unreadable file, base
without markers); messages go to stderr as
``FILE: field: reason`` so a CI log points at the line to fix.

Every rule carries its absolute end, as the operator would write it: the scenarios are taken
as applied at ``--at`` (default: now), so each ends at ``at + startAfter + duration``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import manifests
from .corefile import CorefileError, compile_corefile, fault_scenario, marked_faults
from .manifests import ManifestError
from .model import Scenario
from .times import parse_rfc3339

__all__ = ["register", "run_corefile"]

EXIT_INVALID = 2


class _InputError(Exception):
    """A message already formatted as ``FILE: ...``."""


def _load_scenarios(path: str) -> list[Scenario]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _InputError(f"{path}: cannot read: {exc}") from None
    try:
        return [m.spec for m in manifests.from_yaml(text, path)]
    except ManifestError as exc:
        raise _InputError(str(exc)) from None


def run_corefile(args: argparse.Namespace) -> int:
    """Handler of ``chaoslab corefile``; returns the exit code."""
    try:
        try:
            base = Path(args.base).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _InputError(f"{args.base}: cannot read: {exc}") from None
        at = time.time() if args.at is None else args.at
        scenarios = [
            s.injected(at + s.start_after)
            for path in args.scenario or []
            for s in _load_scenarios(path)
        ]
        try:
            held = marked_faults(base)
            text = compile_corefile(base, scenarios)
        except CorefileError as exc:
            raise _InputError(f"{args.base}: {exc}") from None
    except _InputError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    if held:
        # A live ConfigMap taken as the base: say so rather than drop its faults silently.
        owners = sorted({fault_scenario(line) or "?" for line in held})
        print(f"warning: {args.base} already holds {len(held)} fault rule(s) between the "
              f"chaoslab markers (scenario {', '.join(owners)}); they are ignored: the output "
              "is the base with its marked sections emptied plus the --scenario files "
              "(pass each scenario you want kept with --scenario)", file=sys.stderr)
        for line in held:
            print(f"  ignored: {line}", file=sys.stderr)
    selecting = sorted({s.key for s in scenarios for f in s.faults
                        if f.clients is not None and f.clients.selects_pods})
    if selecting:
        print(f"note: {', '.join(selecting)} select(s) pods (clients.namespaces/podSelector): "
              "only the operator resolves those to pod IPs, so here such a rule holds just "
              "its cidrs, or 'clients none'", file=sys.stderr)
    sys.stdout.write(text)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``corefile`` to the ``chaoslab`` command (called by lab/chaoslab/cli.py)."""
    parser = subparsers.add_parser(
        "corefile",
        help="print the Corefile the operator would write",
        description="Compile OutageScenario manifests into the marked sections of a base "
        "Corefile and print the result. With no --scenario the base is printed unchanged.",
    )
    parser.add_argument("--base", required=True, metavar="FILE", help="pristine Corefile")
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="FILE",
        help="OutageScenario YAML (several documents allowed); repeat for more files",
    )
    parser.add_argument(
        "--at",
        type=_time,
        metavar="TIME",
        help="take the scenarios as applied at this RFC 3339 time (default: now); each rule "
        "ends at TIME + startAfter + duration",
    )
    parser.set_defaults(func=run_corefile)


def _time(text: str) -> float:
    """An RFC 3339 time with a zone ("2026-12-01T18:00:00Z") -> epoch seconds."""
    try:
        return parse_rfc3339(text, zone_required=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
