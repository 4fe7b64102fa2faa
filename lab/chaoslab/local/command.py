"""`chaoslab up|down|status|demo|mitigate`: the local lab's command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from chaoslab.local import demo, health, mitigate, runtime
from chaoslab.local.labsettings import CUSTOMER_REGION
from chaoslab.local.labsettings import TUNING as TUNING_NOTE
from chaoslab.local.state import LabState
from chaoslab.local.tuning import TUNINGS
from chaoslab.procs import ComponentFailed
from chaoslab.toolpaths import ToolMissing

_LAB_DIR_HELP = "where the lab keeps its state, logs and data (default: %(default)s)"


def _lab_options(args: argparse.Namespace, annotations: Mapping[str, str] | None = None,
                 *, regions: str = "us-east-1", workflows: str | None = None
                 ) -> runtime.LabOptions:
    """The lab's options from the flags; for a demo, a flag left out takes the scenario's
    own setting (its chaoslab.io/customer-region and chaoslab.io/tuning annotations), then
    the demo's own defaults (`regions`, `workflows`)."""
    notes = annotations or {}
    profile, policy = runtime.profile_or_policy(args.profile)
    return runtime.LabOptions(
        lab_dir=args.lab_dir,
        profile=profile,
        policy=policy,
        users=args.users,
        spawn_rate=args.spawn_rate,
        load=not getattr(args, "no_load", False),
        customer_regions=args.customer_region or notes.get(CUSTOMER_REGION) or regions,
        tuning=args.tuning or str(notes.get(TUNING_NOTE) or "stock").strip(),
        workflow_weights=args.workflow_weights or workflows,
    )


def _profile_arg(text: str) -> str:
    """Refuse an unknown profile at parse time, before anything starts."""
    try:
        runtime.profile_or_policy(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _weights_arg(text: str) -> str:
    """Refuse an unknown workflow or a bad weight at parse time, naming it."""
    from chaoslab_loadtest.config import ConfigError, parse_weights

    try:
        parse_weights(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _add_lab_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lab-dir", type=Path, default=Path(".lab"), help=_LAB_DIR_HELP)
    parser.add_argument(
        "--profile",
        type=_profile_arg,
        default="backoff-jitter",
        help="client resilience profile of every service: naive, backoff-jitter, resilient, "
        "resilient-stale, or a policy YAML file (default: %(default)s)",
    )
    parser.add_argument("--users", type=int, default=20,
                        help="Locust customers generating load (default: %(default)s)")
    parser.add_argument("--spawn-rate", type=float, default=10.0,
                        help="customers started per second (default: %(default)s)")
    parser.add_argument("--customer-region", default=None,
                        help="region(s) the customers use, e.g. us-west-2 for a failover "
                        "drill or us-east-1,us-west-2 (default: us-east-1; a demo's "
                        "scenario may ask for its own with chaoslab.io/customer-region)")
    parser.add_argument("--tuning", choices=tuple(TUNINGS), default=None,
                        help="stock: the lab sized for a healthy demo; storm: IAM near its "
                        "demand and customers with SDK deadlines, where retry storms can "
                        "outlive their fault (default: stock; a demo's scenario may ask "
                        "with chaoslab.io/tuning). A scenario asking for other settings "
                        "than the lab's is refused at kubectl apply, saying why")
    parser.add_argument("--workflow-weights", type=_weights_arg, default=None, metavar="W",
                        help="the customers' mix of workflows over the stock one, e.g. "
                        "launch=1 to have them launch EC2 instances too (then DWFM's "
                        "collapse after a DynamoDB fault shows); names: signin, invoke, "
                        "metrics, items, launch")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = sub.add_parser(
        "up",
        help="start the lab (locally with --local; the kind lab is `make up`)",
        description="Start the local lab: etcd + kube-apiserver, CoreDNS fed from the "
        "kube-system/coredns ConfigMap, every service of both regions, the operator, "
        "Prometheus and Locust, all on loopback. Returns once every component is healthy; "
        "the lab keeps running in the background until `chaoslab down`. Writes "
        ".lab/state.json and .lab/kubeconfig; logs in .lab/logs/.",
    )
    up.add_argument("--local", action="store_true",
                    help="run as local processes (the only mode this command starts; "
                    "for kind use `make up`)")
    up.add_argument("--no-load", action="store_true", help="do not start Locust's customers")
    _add_lab_flags(up)
    up.set_defaults(func=run_up)

    down = sub.add_parser("down", help="stop the local lab and remove its data (logs stay)")
    down.add_argument("--lab-dir", type=Path, default=Path(".lab"), help=_LAB_DIR_HELP)
    down.set_defaults(func=run_down)

    status = sub.add_parser("status", help="health of every component of the local lab")
    status.add_argument("--lab-dir", type=Path, default=Path(".lab"), help=_LAB_DIR_HELP)
    status.set_defaults(func=run_status)

    d = sub.add_parser(
        "demo",
        help="the flagship game day on a local lab, start to finish, with the report",
        description="Start a local lab (customers in us-east-1 and us-west-2, launching "
        "EC2 instances too), warm up, apply the flagship scenario (DynamoDB us-east-1 "
        "answers NODATA), keep the load on through outage and recovery, switch on DWFM's "
        "throttle if EC2's fleet is still collapsed after the DNS fix, write the game-day "
        "report, stop the lab. About 7 minutes.",
    )
    d.add_argument("--out", type=Path, default=Path("reports/latest"),
                   help="report folder: report.html, report.json, PNG plots "
                   "(default: %(default)s)")
    d.add_argument("--scenario", type=Path, default=demo.FLAGSHIP,
                   help="the OutageScenario to apply (default: the flagship)")
    d.add_argument("--warmup", type=float, default=20.0,
                   help="seconds of healthy steady state required first (default: %(default)s)")
    d.add_argument("--recovery", type=float, default=60.0,
                   help="seconds of load kept on after DNS is restored (default: %(default)s)")
    d.add_argument("--mitigate-after", type=float, default=60.0, metavar="S",
                   help="an EC2 DWFM fleet still collapsed S seconds after DNS is restored "
                   "gets its incoming-work throttle, as AWS's engineers did; the load then "
                   "stays on until the fleet is back (default: %(default)s; a negative "
                   "value never mitigates)")
    _add_lab_flags(d)
    d.set_defaults(func=run_demo)

    m = sub.add_parser(
        "mitigate",
        help="switch on (or off) a mitigation in the running local lab",
        description="Switch on a mitigation DNS alone does not give: dwfm-throttle is EC2 "
        "DWFM's incoming-work throttle (queue-size-based admission). After a DynamoDB "
        "fault longer than a lease (8 s), DWFM's fleet collapses under its own re-lease "
        "backlog and stays collapsed; the throttle ends it within seconds. Watch it in "
        "`chaoslab watch` or the report (its Mitigation line).")
    m.add_argument("action", choices=("dwfm-throttle",), help="the mitigation")
    m.add_argument("--region", default=None,
                   help="EC2's region (default: every region with EC2 in the lab)")
    m.add_argument("--off", action="store_true", help="switch it off again")
    m.add_argument("--lab-dir", type=Path, default=Path(".lab"), help=_LAB_DIR_HELP)
    m.set_defaults(func=run_mitigate)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def run_up(args: argparse.Namespace) -> int:
    if not args.local:
        return _fail("`chaoslab up` starts the local lab: add --local "
                     "(`make up LAB=local`); the kind lab is `make up`")
    lab = runtime.LocalLab(_lab_options(args))
    try:
        state = lab.up()
    except (ComponentFailed, ToolMissing) as exc:
        return _fail(str(exc))
    # Absolute, so the export line works pasted into any shell, from any directory.
    kubeconfig = Path(state.kubeconfig).resolve()
    watch = "chaoslab watch" + ("" if args.lab_dir == Path(".lab")
                                else f" --lab-dir {args.lab_dir}")
    print(f"""
The lab is up. State in {lab.state_file}
  DNS (CoreDNS)   {state.dns}
  Prometheus      {state.prometheus}
  Locust          {state.locust}
  kubeconfig      export KUBECONFIG={kubeconfig}
  settings        tuning {lab.options.tuning}; customers in {lab.options.customer_regions}
                  (a scenario asking for others is refused at kubectl apply, saying why)
Try:  kubectl apply -f scenarios/us-east-1-dynamodb-dns.yaml
      {watch}   (live: scenarios, tiers, DNS faults; q quits)
      dig @{state.dns.split(':')[0]} -p {state.dns.split(':')[1]} dynamodb.us-east-1.aws.internal
      chaoslab status ; chaoslab report --out reports/now ; chaoslab down""")
    return 0


def run_down(args: argparse.Namespace) -> int:
    state_file = args.lab_dir / "state.json"
    if state_file.exists() and LabState.load(state_file).lab == "node":
        from chaoslab.node.command import run_down as node_down

        return node_down(args)
    if runtime.down(args.lab_dir):
        print(f"the local lab is stopped (logs kept in {args.lab_dir / 'logs'})")
    else:
        print("no local lab is running (no .lab/state.json)")
    return 0


def run_status(args: argparse.Namespace) -> int:
    state_file = args.lab_dir / "state.json"
    if not state_file.exists():
        return _fail("no local lab is running; start one with `make up LAB=local`")
    rows = health.check(LabState.load(state_file))
    print(health.render(rows))
    return 0 if all(r.healthy for r in rows) else 1


def run_demo(args: argparse.Namespace) -> int:
    from chaoslab_dns.validate import ScenarioError

    opts = demo.DemoOptions(out=args.out, scenario=args.scenario.resolve(),
                            warmup_seconds=args.warmup, recovery_seconds=args.recovery,
                            mitigate_after=args.mitigate_after if args.mitigate_after >= 0
                            else None)
    try:
        demo.check_scenario(opts.scenario)
    except OSError as exc:
        return _fail(f"cannot read --scenario {args.scenario}: {exc.strerror}")
    except ScenarioError as exc:
        return _fail(f"--scenario {args.scenario} is not a valid OutageScenario: {exc}; "
                     "fix it or pick one from scenarios/")
    try:
        return demo.run(opts, _lab_options(args, demo.scenario_annotations(opts.scenario),
                                           regions=demo.DEMO_REGIONS,
                                           workflows=demo.DEMO_WORKFLOWS))
    except (ComponentFailed, ToolMissing) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("interrupted; the lab was stopped", file=sys.stderr)
        return 130


def run_mitigate(args: argparse.Namespace) -> int:
    state_file = args.lab_dir / "state.json"
    if not state_file.exists():
        return _fail(f"no lab is running (no {state_file}); start one with "
                     "`make up LAB=local`")
    state = LabState.load(state_file)
    regions = [args.region] if args.region else mitigate.dwfm_regions(state)
    try:
        for region in regions or ["us-east-1"]:
            after = mitigate.dwfm_throttle(state, region, not args.off)
            print(f"EC2 {region}: DWFM throttle {'off' if args.off else 'on'}; it holds "
                  f"{after.get('held')} of {after.get('hosts')} host leases, queue "
                  f"{after.get('queue_depth')}")
    except ComponentFailed as exc:
        return _fail(str(exc))
    return 0
