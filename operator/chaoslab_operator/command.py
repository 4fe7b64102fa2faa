"""`chaoslab operator run` and `chaoslab abort`: the operator's command line."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import re
import sys
from pathlib import Path

from chaoslab_operator.admission import DEFAULT_ALLOWED_NETWORKS
from chaoslab_operator.config import OperatorConfig, parse_configmap_ref, parse_listen
from chaoslab_operator.plan import STOP_CONDITION_GRACE

LAB_KUBECONFIG = Path(".lab/kubeconfig")

KUBECONFIG_HELP = (
    "kubeconfig file (default: $KUBECONFIG if set, else .lab/kubeconfig of a running local "
    "lab if present, else the in-cluster service account, else ~/.kube/config)"
)

OPERATOR_DESCRIPTION = """\
Run the OutageScenario operator (kopf, standalone, all namespaces) in the foreground.

On every change of any OutageScenario, at every scheduled transition and at least every
--resync seconds it compiles the pristine Corefile plus the faults of all scenarios active
now and patches the CoreDNS ConfigMap only when that differs. Lifecycle: Pending ->
Scheduled (startAfter) -> Active (duration, or each of spec.phases in turn) -> Completed;
Aborted when a stop condition stays breached; Failed when the spec or its Corefile is
invalid. A scenario with spec.schedule starts a child scenario at every cron tick (UTC).
Deleting a scenario reverts its faults before the finalizer is released. State lives in
each scenario's status, so a restarted operator carries on where the last one stopped.

The CRD (charts/chaoslab/crds/outagescenarios.yaml) must be installed; the operator waits
up to a minute for it. Stop with SIGINT/SIGTERM.
"""

ABORT_DESCRIPTION = """\
Kill switch. Marks scenarios Aborted (status first, so a running operator stops injecting
them) and, with --all, writes the pristine Corefile (every chaoslab fault section emptied)
straight into the CoreDNS ConfigMap, so it works even when the operator is down.
Named scenarios are only marked Aborted: the operator reverts them.
"""


def _kubeconfig_default() -> Path | None:
    if os.environ.get("KUBECONFIG"):
        return Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
    return LAB_KUBECONFIG if LAB_KUBECONFIG.is_file() else None


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"want a positive number of seconds, got {text!r}")
    return value


def _networks(text: str) -> tuple[str, ...]:
    """"127.0.0.0/8,10.96.0.0/12" -> the networks, each checked."""
    out = []
    for part in text.split(","):
        try:
            out.append(str(ipaddress.ip_network(part.strip(), strict=False)))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid network {part.strip()!r}: want CIDRs like 127.0.0.0/8,10.96.0.0/12"
            ) from None
    return tuple(out)


def _configmap(text: str) -> tuple[str, str]:
    try:
        return parse_configmap_ref(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _listen(text: str) -> tuple[str, int]:
    try:
        return parse_listen(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", type=Path, default=None, help=KUBECONFIG_HELP)
    parser.add_argument("--context", default=None, help="kubeconfig context (default: current)")
    parser.add_argument(
        "--coredns-configmap", type=_configmap, default=("kube-system", "coredns"),
        metavar="NAMESPACE/NAME",
        help="the ConfigMap holding the cluster DNS Corefile (default: kube-system/coredns)",
    )
    parser.add_argument(
        "--corefile-key", default="Corefile",
        help="key of the Corefile in that ConfigMap (default: %(default)s)",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    op = sub.add_parser(
        "operator", help="the OutageScenario operator",
        description="The OutageScenario operator. See `chaoslab operator run --help`.",
    )
    op_sub = op.add_subparsers(dest="operator_command", metavar="ACTION", required=True)
    run = op_sub.add_parser(
        "run", help="run the operator in the foreground",
        description=OPERATOR_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(run)
    run.add_argument(
        "--prometheus", default=None, metavar="URL",
        help="Prometheus base URL for stop conditions, e.g. http://127.0.0.1:9090 (default: "
        "none; scenarios with stop conditions then report them as not evaluable, never abort)",
    )
    run.add_argument(
        "--http", type=_listen, default=("127.0.0.1", 8080), metavar="HOST:PORT",
        help="serve /metrics, /healthz and /readyz here (default: 127.0.0.1:8080; port 0 "
        "picks a free one; in a container use 0.0.0.0:8080)",
    )
    run.add_argument(
        "--resync", type=_positive, default=30.0, metavar="SECONDS",
        help="full reconcile at least this often, even without events (default: %(default)g)",
    )
    run.add_argument(
        "--stop-check", type=_positive, default=2.0, metavar="SECONDS",
        help="how often stop conditions are queried while active (default: %(default)g)",
    )
    run.add_argument(
        "--stop-grace", type=_positive, default=STOP_CONDITION_GRACE, metavar="SECONDS",
        help="how long a stop condition may stay unevaluable (Prometheus unreachable, no "
        "data) before its scenario fails (not yet injected) or is aborted (active), unless "
        "the scenario says onError: continue (default: %(default)g)",
    )
    run.add_argument(
        "--allowed-networks", type=_networks, default=DEFAULT_ALLOWED_NETWORKS,
        metavar="CIDR[,CIDR...]",
        help="networks the lab's services may dial (give the services' --allowed-networks); "
        "a redirectTo outside them is refused (default: %(default)s)",
    )
    run.add_argument(
        "--client-namespaces", type=_namespaces, default=(), metavar="NS[,NS...]",
        help="list and watch pods for client-scoped faults only in these namespaces "
        "(default: cluster-wide); pods elsewhere are never selected",
    )
    run.add_argument(
        "--ledger", type=_configmap, default=None, metavar="NAMESPACE/NAME",
        help="the ConfigMap recording every injected scenario for the game-day report, "
        "deleted ones too (default: the CoreDNS ConfigMap's namespace/chaoslab-ledger)",
    )
    run.add_argument(
        "--schedule-minute-seconds", type=_positive, default=60.0, metavar="SECONDS",
        help="how long a minute of spec.schedule's cron lasts, for tests and demos: 15 makes "
        "'* * * * *' tick every 15 s; nothing else is sped up (default: %(default)g, the "
        "real clock)",
    )
    run.add_argument(
        "--api-timeout", type=_positive, default=10.0, metavar="SECONDS",
        help="timeout of each Kubernetes API request (default: %(default)g)",
    )
    run.add_argument(
        "--crd-wait", type=_positive, default=60.0, metavar="SECONDS",
        help="how long to wait at start for the CRD to be served (default: %(default)g)",
    )
    run.add_argument(
        "--no-watch-configmap", action="store_true",
        help="do not watch the ConfigMap for hand edits (they are then undone at the next "
        "resync instead of at once)",
    )
    run.set_defaults(func=run_operator)

    abort = sub.add_parser(
        "abort", help="kill switch: abort scenarios, restore the pristine Corefile",
        description=ABORT_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(abort)
    target = abort.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--all", action="store_true",
        help="every scenario in every namespace, and restore the pristine Corefile",
    )
    target.add_argument("names", nargs="*", default=[], metavar="NAME", help="scenario names")
    abort.add_argument(
        "-n", "--namespace", default="default",
        help="namespace of the named scenarios (default: %(default)s)",
    )
    abort.add_argument(
        "--delete", action="store_true", help="delete the scenarios too, after aborting them"
    )
    abort.set_defaults(func=run_abort)


def _config(args: argparse.Namespace) -> OperatorConfig:
    namespace, name = args.coredns_configmap
    host, port = getattr(args, "http", ("127.0.0.1", 8080))
    return OperatorConfig(
        kubeconfig=args.kubeconfig or _kubeconfig_default(),
        context=args.context,
        coredns_namespace=namespace,
        coredns_name=name,
        corefile_key=args.corefile_key,
        prometheus_url=getattr(args, "prometheus", None),
        http_host=host,
        http_port=port,
        resync_seconds=getattr(args, "resync", 30.0),
        stop_check_seconds=getattr(args, "stop_check", 2.0),
        stop_grace_seconds=getattr(args, "stop_grace", STOP_CONDITION_GRACE),
        allowed_networks=getattr(args, "allowed_networks", DEFAULT_ALLOWED_NETWORKS),
        api_timeout_seconds=getattr(args, "api_timeout", 10.0),
        watch_configmap=not getattr(args, "no_watch_configmap", False),
        client_namespaces=getattr(args, "client_namespaces", ()),
        schedule_minute_seconds=getattr(args, "schedule_minute_seconds", 60.0),
        **_ledger(getattr(args, "ledger", None)),
    )


def _namespaces(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if not re.fullmatch(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?", n)]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"invalid namespace list {text!r}: want NS[,NS...] of namespace names")
    return names


def _ledger(ref: tuple[str, str] | None) -> dict[str, str]:
    return {} if ref is None else {"ledger_namespace": ref[0], "ledger_name": ref[1]}


def run_operator(args: argparse.Namespace) -> int:
    from chaoslab_operator import runner  # imports kopf: only when running

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    try:
        runner.run(_config(args), crd_timeout=args.crd_wait)
    except runner.CrdMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def run_abort(args: argparse.Namespace) -> int:
    from chaoslab_operator.abort import abort_all
    from chaoslab_operator.kube import Kube

    cfg = _config(args)
    kube = Kube.connect(cfg.kubeconfig, cfg.context, cfg.api_timeout_seconds)
    scenarios = None if args.all else [(args.namespace, n) for n in args.names]
    report = abort_all(
        kube, cfg.coredns_namespace, cfg.coredns_name, cfg.corefile_key,
        delete=args.delete, scenarios=scenarios, restore=args.all,
    )
    for ns, name in report.aborted:
        print(f"aborted {ns}/{name}")
    for ns, name in report.already_final:
        print(f"already final: {ns}/{name}")
    for ns, name in report.deleted:
        print(f"deleted {ns}/{name}")
    if scenarios is not None:
        missing = set(scenarios) - set(report.aborted) - set(report.already_final)
        for ns, name in sorted(missing):
            print(f"not found: {ns}/{name}", file=sys.stderr)
        print("the operator reverts their faults (use --all to restore the Corefile directly)")
        return 1 if missing else 0
    if report.configmap_missing:
        print(f"ConfigMap {cfg.configmap_ref} not found: nothing to restore", file=sys.stderr)
        return 1
    for scenario, lines in sorted(report.reverted_by_scenario().items()):
        print(f"reverted {scenario}: {len(lines)} fault rule(s) live at the abort")
        for line in lines:
            print(f"  {line}")
    if report.reverted:
        state = "pristine now (" + ("restored by this abort" if report.restored
                                    else "the operator reverted them first") + ")"
    else:
        state = "already pristine: no fault was live"
    print(f"ConfigMap {cfg.configmap_ref}: {state}")
    if report.restores > 1:
        print(f"warning: restored {report.restores} times (something re-wrote faults)")
    return 0
