"""`chaoslab experiment`: one scenario under several client-policy profiles, compared."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from chaoslab.experiment.compare import METASTABLE_FACTOR
from chaoslab.experiment.labtuning import LabTuning
from chaoslab.experiment.runner import (
    ProfileSpec,
    RunOptions,
    ScenarioRun,
    run_experiment,
    say,
)
from chaoslab.experiment.scenario import ScenarioFile, parse_seconds
from chaoslab.procs import sigterm_as_interrupt

DEFAULT_PROFILES = "naive,backoff-jitter,resilient,resilient-stale"
# Names that stand for a list in --profiles, so a comparison the README makes is one word.
PROFILE_SETS: dict[str, tuple[str, ...]] = {
    "policies": tuple(DEFAULT_PROFILES.split(",")),  # the lab's own client policies
    "sdk": ("legacy", "standard", "adaptive", "sdk-2026"),  # the AWS SDKs' retry modes
}
DESCRIPTION = """\
Run one OutageScenario under several client-policy profiles, one after the other, each on
a fresh local lab from the same healthy steady state: up, warm-up, fault (kubectl apply),
observation after the DNS restore, the game-day report, down. Then compare them:
comparison.md, comparison.json and comparison.png in --out, one report per profile in
--out/PROFILE/report/. Ctrl-C stops the lab.

--profiles sdk compares the AWS SDKs' retry modes (legacy, standard, adaptive, sdk-2026);
--profiles policies the default four; sets, names and files mix: sdk,naive.

The lab is tuned for retry storms by default (--lab-tuning storm: IAM at ~45 Authorize/s,
customers with a 1 s deadline and 3 attempts); --lab-tuning stock runs the stock lab.
"""


def register(sub: Any) -> None:
    p = sub.add_parser("experiment", help="compare client-policy profiles under one scenario",
                       description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", type=Path, help="OutageScenario YAML (required unless "
                   "--reanalyse)")
    p.add_argument("--profiles", default=DEFAULT_PROFILES,
                   help="comma-separated profile names, policy files or sets ("
                        + "; ".join(f"{k} = {','.join(v)}" for k, v in PROFILE_SETS.items())
                        + ") (default: %(default)s)")
    p.add_argument("--out", type=Path, required=True, help="folder for the results")
    p.add_argument("--users", type=int, default=20,
                   help="Locust customers (default: %(default)s)")
    p.add_argument("--warmup", type=parse_seconds, default=20.0, metavar="S",
                   help="seconds of healthy steady state before the fault (default: %(default)s)")
    p.add_argument("--observe", type=parse_seconds, metavar="S",
                   help="seconds of load after the DNS restore (default: 3x the fault's "
                        "duration + 10 s, enough to call a failure metastable)")
    p.add_argument("--fault-duration", type=parse_seconds, metavar="D",
                   help="override spec.duration, e.g. 30s or 2m")
    p.add_argument("--relief-users", type=int, metavar="N",
                   help="if customers still fail after --observe, cut them to N and watch "
                        "the lab heal (shows the failure was metastable)")
    p.add_argument("--relief-observe", type=parse_seconds, default=60.0, metavar="S",
                   help="seconds watched after the load cut (default: %(default)s)")
    p.add_argument("--customer-region", metavar="R",
                   help="where customers live (default: the scenario's "
                        "chaoslab.io/customer-region, else us-east-1)")
    p.add_argument("--lab-tuning", choices=("storm", "stock"), default="storm",
                   help="lab capacity and customer behaviour (default: %(default)s)")
    p.add_argument("--slo", type=float, help="availability objective (default: 0.99; "
                   "with --reanalyse, the experiment's)")
    p.add_argument("--reanalyse", action="store_true",
                   help="no lab: analyse the runs saved in --out again (e.g. with another "
                        "--slo) and rewrite the reports and the comparison")
    p.set_defaults(func=run)


def expand_profiles(text: str) -> list[str]:
    """The --profiles list with each set (`sdk`, `policies`) spelled out, in the order
    given and each profile once: every profile runs on a lab of its own in a folder named
    after it, so a repeat would only overwrite a run that took minutes."""
    names: list[str] = []
    for item in (p.strip() for p in text.split(",")):
        for name in PROFILE_SETS.get(item, (item,)):
            if name and name not in names:
                names.append(name)
    return names


def options(args: argparse.Namespace, scenario: ScenarioFile) -> RunOptions:
    if args.observe is None:
        args.observe = METASTABLE_FACTOR * scenario.duration + 10.0
    return RunOptions(
        out=args.out, users=args.users, warmup=args.warmup, observe=args.observe,
        relief_users=args.relief_users, relief_observe=args.relief_observe,
        slo=0.99 if args.slo is None else args.slo, customer_region=args.customer_region,
        tuning=LabTuning.default() if args.lab_tuning == "storm" else LabTuning.stock())


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this experiment, every setting spelled out."""
    argv = ["chaoslab", "experiment", "--scenario", str(args.scenario),
            "--profiles", args.profiles, "--users", str(args.users),
            "--warmup", f"{args.warmup:g}", "--observe", f"{args.observe:g}"]
    if args.fault_duration is not None:
        argv += ["--fault-duration", f"{args.fault_duration:g}s"]
    if args.relief_users is not None:
        argv += ["--relief-users", str(args.relief_users),
                 "--relief-observe", f"{args.relief_observe:g}"]
    if args.customer_region:
        argv += ["--customer-region", args.customer_region]
    if args.lab_tuning != "storm":
        argv += ["--lab-tuning", args.lab_tuning]
    if args.slo is not None:
        argv += ["--slo", str(args.slo)]
    return " ".join(shlex.quote(a) for a in [*argv, "--out", str(args.out)])


def run(args: argparse.Namespace) -> int:
    from chaoslab.experiment import results
    from chaoslab.procs import ComponentFailed
    from chaoslab.toolpaths import ToolMissing
    from chaoslab_dns.validate import ScenarioError

    if args.reanalyse:
        return reanalyse(args)
    if args.scenario is None:
        print("error: --scenario is required (or --reanalyse)", file=sys.stderr)
        return 2
    try:
        scenario = ScenarioFile.load(args.scenario)
        if args.fault_duration is not None:
            scenario = scenario.modified(duration=args.fault_duration)
        specs = [ProfileSpec.parse(p) for p in expand_profiles(args.profiles)]
    except (OSError, ValueError, ScenarioError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not specs:
        print("error: --profiles is empty", file=sys.stderr)
        return 2
    opts = options(args, scenario)
    say(f"experiment: {scenario.name} ({results.faults_text(scenario)}) under "
        f"{', '.join(s.label for s in specs)}; results in {opts.out}")
    if scenario.hypothesis:
        say(f"hypothesis: {scenario.hypothesis}")
    try:
        with sigterm_as_interrupt():
            runs = run_experiment(scenario, specs, opts)
    except (ComponentFailed, ToolMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the lab was stopped", file=sys.stderr)
        return 130
    return finish(scenario, runs, opts, command_line(args))


def finish(scenario: ScenarioFile, runs: list[ScenarioRun], opts: RunOptions,
           command: str) -> int:
    """Writes and prints the comparison; exit code 3 if a hypothesis did not hold."""
    from chaoslab.experiment import results

    _, verdicts = results.write(scenario, runs, opts, command)
    say(f"comparison: {opts.out / 'comparison.md'} (+ comparison.json, comparison.png)")
    print((opts.out / "comparison.md").read_text(), flush=True)
    return 0 if all(v.held for v in verdicts) else 3


def reanalyse(args: argparse.Namespace) -> int:
    from chaoslab.experiment import results

    try:
        scenario, runs, opts, command = results.reanalyse(args.out, args.slo)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot reanalyse {args.out}: {exc}", file=sys.stderr)
        return 2
    say(f"reanalysing {len(runs)} saved run(s) of {scenario.name} in {args.out}")
    return finish(scenario, runs, opts, command)
