"""`chaoslab report`: the game-day report of a lab, from its Prometheus.

Where the data is: `--prometheus URL`, or the running lab's `.lab/state.json`. When the
faults were live: the operator's session ledger and the OutageScenarios, read with kubectl
through the lab's kubeconfig (deleted scenarios are in the ledger): the named ones
(`--scenario NS/NAME`), else every one overlapping `--since`/`--until`, else those of the
latest session (back to an hour with none live); without a kubeconfig, the operator's
`chaoslab_operator_scenario_active` metric. The window defaults to a minute before the
first injection until a few minutes after the last revert (or now).

Each scenario's declared hypotheses (`spec.hypotheses`, read from the cluster) are judged
over that window. With --check the command is a CI gate: it also writes junit.xml (one
testcase per hypothesis) and exits 1 when any hypothesis failed, 0 when all held or none
were declared (it says so), 2 on usage errors or when no report could be made.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaoslab_dns import durations
from chaoslab_report.build import Report, build_report
from chaoslab_report.hypotheses import (
    Declared,
    NotInjected,
    declared,
    junit_xml,
    summary_lines,
)
from chaoslab_report.timeline import ScenarioWindow, from_kubectl, latest_session, parse_time

DEFAULT_STATE = Path(".lab/state.json")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report", help="write the game-day report (report.html, report.json, PNG plots)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="folder for the report files")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--prometheus", metavar="URL", help="Prometheus base URL")
    src.add_argument("--lab-state", type=Path, metavar="FILE",
                     help=f"a running lab's state file (default: {DEFAULT_STATE})")
    p.add_argument("--kubeconfig", metavar="FILE",
                   help="read OutageScenarios through this kubeconfig (default: the lab's)")
    p.add_argument("--scenario", action="append", default=[], metavar="NS/NAME",
                   help="scenario(s) to report on; repeatable")
    p.add_argument("--since", metavar="TIME",
                   help="window start: RFC 3339, unix seconds, or a duration ago (15m)")
    p.add_argument("--until", metavar="TIME", help="window end (same forms; default: now)")
    p.add_argument("--slo", type=slo_fraction, default=0.99,
                   help="availability objective, 0..1 (default: %(default)s)")
    p.add_argument("--hold", type=float, default=10.0, metavar="SECONDS",
                   help="recovered = at or above the SLO for this long (default: %(default)s)")
    p.add_argument("--step", type=float, default=1.0, metavar="SECONDS",
                   help="resolution; the lab scrapes every 1 s (default: %(default)s)")
    p.add_argument("--after", type=float, default=180.0, metavar="SECONDS",
                   help="window end after the last revert when --until is not given "
                        "(default: %(default)s)")
    p.add_argument("--check", action="store_true",
                   help="CI gate: also write junit.xml; exit 1 if a declared hypothesis "
                        "failed, 0 if all held (or none were declared), 2 on usage errors")
    p.set_defaults(func=run)


def slo_fraction(text: str) -> float:
    """An availability objective for --slo: strictly between 0 and 1."""
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"--slo must be between 0 and 1, got {text!r}")
    return value


def parse_when(text: str, now: float) -> float:
    """'2025-10-20T07:11:00Z', '1760944260' or '15m' / '1h30m' / '90s' (that long ago, in the
    scenarios' duration grammar)."""
    text = text.strip()
    if text != "0":  # "0" alone is unix time 0, not "zero seconds ago"
        try:
            return now - durations.parse_duration(text)
        except durations.DurationError:
            pass
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = parse_time(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(f"cannot read time {text!r}: use RFC 3339, unix seconds or e.g. 15m")
    return parsed


def _scenario_names(values: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for v in values:
        ns, sep, name = v.partition("/")
        if not sep or not ns or not name:
            raise ValueError(f"invalid scenario {v!r}: expected NAMESPACE/NAME")
        out.append((ns, name))
    return out


def _kubectl() -> str:
    """The pinned kubectl (`make tools`: $CHAOSLAB_TOOLS or the checkout's .tools/bin), else
    the one on PATH (a user's cluster). Found here rather than through `chaoslab.toolpaths`:
    the report sits below the lab (ARCHITECTURE.md, "Layers")."""
    tools = os.environ.get("CHAOSLAB_TOOLS") or str(Path(__file__).resolve().parents[2]
                                                    / ".tools" / "bin")
    pinned = Path(tools) / "kubectl"
    if pinned.is_file() and os.access(pinned, os.X_OK):
        return str(pinned)
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError(f"kubectl not found in {tools} nor on PATH: run `make tools`")
    return found


def resolve_timeline(kubeconfig: str | None, names: Sequence[tuple[str, str]]
                     ) -> list[ScenarioWindow] | None:
    """Scenario windows from the cluster; None means "use the operator's metric"."""
    if not kubeconfig:
        if names:
            raise ValueError("--scenario needs a kubeconfig (--kubeconfig or a lab state file)")
        return None
    windows = from_kubectl(_kubectl(), kubeconfig, names or None)
    if names and not windows:
        raise ValueError(f"scenario(s) {', '.join(f'{n}/{m}' for n, m in names)} were never "
                         "injected (no status.injectedAt)")
    return windows


def declared_hypotheses(kubeconfig: str | None, timeout: float = 30.0,
                        window: tuple[float, float] | None = None,
                        names: Sequence[tuple[str, str]] = ()) -> dict[str, Declared]:
    """Every scenario's `spec.hypotheses` by namespace/name (or why they are unreadable).

    From the live OutageScenario objects, and for one deleted since, from its entry in the
    operator's session ledger (which keeps `hypotheses` as declared). A scenario created in
    `window` (and among `names`, if given) that was never injected is `NotInjected`: a game
    day whose scenario was refused must not pass the check for having nothing to judge.
    """
    if not kubeconfig:
        return {}
    base = [_kubectl(), f"--kubeconfig={kubeconfig}", "get"]
    result: dict[str, Declared] = {}
    ledger = subprocess.run([*base, "configmaps", "-A", "-l", "chaoslab.io/ledger=true",
                             "-o", "json"], capture_output=True, text=True, timeout=timeout)
    if ledger.returncode == 0:  # no ledger (an older operator): the objects alone
        entries = []
        for cm in json.loads(ledger.stdout).get("items", []):
            for raw in (cm.get("data") or {}).values():
                try:
                    entries.append(json.loads(raw))
                except ValueError:
                    continue
        for e in sorted(entries, key=lambda e: str(e.get("injectedAt") or "")):
            hyps = declared({"spec": {"hypotheses": e.get("hypotheses")}})
            if hyps:  # the newest entry of a name wins
                result[f"{e.get('namespace', 'default')}/{e.get('name', '?')}"] = hyps
    argv = [*base, "outagescenarios.chaoslab.io", "-A", "-o", "json"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:])} failed: {out.stderr.strip()}")
    for obj in json.loads(out.stdout).get("items", []):
        meta = obj.get("metadata", {})
        key = f"{meta.get('namespace', 'default')}/{meta.get('name', '?')}"
        hyps = declared(obj)
        if not hyps:
            continue
        result[key] = hyps  # the live object is the authority
        status = obj.get("status") or {}
        created = parse_time(meta.get("creationTimestamp"))
        if (window is not None and not isinstance(hyps, str) and not status.get("injectedAt")
                and created is not None and window[0] <= created <= window[1]
                and (not names or (meta.get("namespace"), meta.get("name")) in names)):
            why = ": ".join(x for x in (status.get("phase") or "not yet accepted",
                                        status.get("message")) if x)
            result[key] = NotInjected(tuple(hyps), why)
    return result


def window_for(timeline: Sequence[ScenarioWindow] | None, since: float | None,
               until: float | None, now: float, after: float, lead: float = 60.0
               ) -> tuple[float, float]:
    windows = list(timeline or ())
    if until is None:
        if windows and all(w.reverted_at is not None for w in windows):
            until = min(now, max(w.reverted_at or 0.0 for w in windows) + after)
        else:
            until = now
    if since is None:
        since = (min(w.injected_at for w in windows) - lead) if windows else until - 900.0
    if until <= since:
        raise ValueError(f"empty window: since {since} is not before until {until}")
    return since, until


def generate(prometheus: str, out: Path, *, kubeconfig: str | None = None,
             scenarios: Sequence[tuple[str, str]] = (), since: float | None = None,
             until: float | None = None, slo: float = 0.99, hold: float = 10.0,
             step: float = 1.0, after: float = 180.0) -> Report:
    now = time.time()
    timeline = resolve_timeline(kubeconfig, scenarios)
    if timeline is not None and not scenarios and (since is not None or until is not None):
        lo, hi = since or 0.0, until or now
        timeline = [w for w in timeline
                    if w.injected_at < hi and (w.reverted_at is None or w.reverted_at > lo)]
    elif timeline is not None and not scenarios:
        timeline = latest_session(timeline)  # the ledger also holds past game days
    start, end = window_for(timeline, since, until, now, after)
    if timeline is not None and not timeline:
        timeline = None  # the cluster knows none in the window: fall back to the metric
    return build_report(prometheus, timeline, out, start=start, end=end, step=step, slo=slo,
                        hold=hold, hypotheses=declared_hypotheses(
                            kubeconfig, window=(start, end), names=scenarios))


def report_for_lab(state: Any, out: Path, scenarios: Sequence[tuple[str, str]] = (),
                   **kwargs: Any) -> str:
    """For the lab runtime (`chaoslab demo`): report on a running lab; returns the summary."""
    report = generate(state.prometheus, Path(out), kubeconfig=state.kubeconfig or None,
                      scenarios=scenarios, **kwargs)
    verdicts = summary_lines(report.hypotheses) if report.hypotheses else []
    return "\n".join([*report.summary, *verdicts])


def run(args: argparse.Namespace) -> int:
    now = time.time()
    try:
        scenarios = _scenario_names(args.scenario)
        since = parse_when(args.since, now) if args.since else None
        until = parse_when(args.until, now) if args.until else None
        prometheus, kubeconfig = args.prometheus, args.kubeconfig
        if not prometheus:
            state_file = args.lab_state or DEFAULT_STATE
            try:
                state = json.loads(Path(state_file).read_text())
            except FileNotFoundError:
                print(f"error: no lab state at {state_file}: start a lab (chaoslab up --local) "
                      "or pass --prometheus URL", file=sys.stderr)
                return 2
            prometheus = state["prometheus"]
            kubeconfig = kubeconfig or state.get("kubeconfig") or None
        report = generate(prometheus, args.out, kubeconfig=kubeconfig, scenarios=scenarios,
                          since=since, until=until, slo=args.slo, hold=args.hold,
                          step=args.step, after=args.after)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if args.check else 1  # with --check, 1 means "a hypothesis failed"
    for line in report.summary:
        print(line)
    for line in summary_lines(report.hypotheses):
        print(line)
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    plots = ", ".join(v for k, v in report.files.items() if k not in ("json", "html"))
    extra = ""
    if args.check:
        (args.out / "junit.xml").write_text(junit_xml(report.hypotheses))
        extra = ", junit.xml"
    print(f"[{stamp}] report written to {args.out / 'report.html'} (+ report.json, {plots}"
          f"{extra})")
    if not args.check:
        return 0
    failed = [v for v in report.hypotheses if not v.held]
    if not report.hypotheses:
        print("check: no hypotheses declared (spec.hypotheses) in this window: nothing to "
              "judge, exit 0")
    else:
        print(f"check: {len(failed)} of {len(report.hypotheses)} hypotheses failed"
              if failed else f"check: all {len(report.hypotheses)} hypotheses held")
    return 1 if failed else 0
