"""Soak: a long game day on the local lab, to see what grows without bound.

Game days run for hours; nothing else runs the lab for more than a few minutes. This starts
the local lab at 5x the default customers (100), applies a scenario every ``--every``
seconds (default 120) cycling through the fault modes -- every other one deleted early,
the rest left to expire -- and SIGKILLs and restarts the operator twice (at 35 % and 70 %
of the run). It prints, at the start (after a warm-up) and at the end: RSS and open file
descriptors of every component, Prometheus's TSDB size, the operator's reconcile p99,
CoreDNS q/s, and whether every scenario's fault was reverted on time (its rule out of the
ConfigMap and the real answer back from DNS within ``GRACE`` seconds of its end or
deletion).

Exit 1 if any fault leaked, any component other than the killed operator died or changed
pid, or a component's RSS grew by more than 50 %; 0 otherwise. Bounded: default 30 minutes.

    .venv/bin/python benchmarks/soak.py [--minutes 30] [--every 120] [--users 100]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from chaoslab.local.runtime import LabOptions, LocalLab, http_ok
from chaoslab.procs import Proc, spawn, wait_until
from chaoslab.toolpaths import tool

GRACE = 6.0  # s after a scenario's end/deletion by which its fault must be gone
MODES = [("nxdomain", {}), ("servfail", {}), ("nodata", {}), ("delay", {"delay": "800ms"}),
         ("refused", {}), ("truncate", {}), ("servfail", {"probability": 0.5}),
         ("redirect", {"redirectTo": "127.0.0.2"})]
TARGETS = ["dynamodb.us-east-1.aws.internal", "s3.us-east-1.aws.internal",
           "kms.us-west-2.aws.internal", "cloudwatch.us-west-2.aws.internal"]
GROWTH_LIMIT = 1.5


@dataclass
class Check:
    name: str
    target: str
    due: float  # monotonic time by which the fault must be gone
    how: str  # "expired" | "deleted"
    ok: bool | None = None
    late_by: float = 0.0


def rss_and_fds(pid: int) -> tuple[int, int]:
    """(RSS in KiB, open fds) of one process, (0, 0) if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rss = next(int(line.split()[1]) for line in status.splitlines()
                   if line.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return 0, 0


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def prom_scalar(prom: str, query: str) -> float | None:
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=10) as resp:
        result = json.load(resp)["data"]["result"]
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if value != value else value  # NaN: no observations yet


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lab = LocalLab(LabOptions(lab_dir=args.lab_dir, users=args.users,
                                       spawn_rate=args.users / 5),
                            progress=lambda m: print(f"up: {m}", flush=True))
        self.checks: list[Check] = []
        self.pending_deletes: list[tuple[float, str, str]] = []  # (when, name, target)
        self.problems: list[str] = []
        self.started = 0.0

    # -- helpers ------------------------------------------------------------------------
    def kubectl(self, *argv: str, stdin: str | None = None) -> str:
        assert self.lab.state is not None
        return subprocess.run([str(tool("kubectl")), *argv], input=stdin, check=True,
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "KUBECONFIG": self.lab.state.kubeconfig}
                              ).stdout

    def corefile(self) -> str:
        return self.kubectl("get", "configmap", "-n", "kube-system", "coredns",
                            "-o", "jsonpath={.data.Corefile}")

    def dns_clean(self, name: str) -> bool:
        assert self.lab.state is not None
        host, port = self.lab.state.dns.split(":")
        try:
            reply = dns.query.udp(dns.message.make_query(name, "A"), host, port=int(port),
                                  timeout=0.5)
        except Exception:
            return False
        return reply.rcode() == dns.rcode.NOERROR and any(
            rr.address == "127.0.0.1" for rrset in reply.answer for rr in rrset
            if hasattr(rr, "address"))

    def components(self) -> dict[str, Proc]:
        return {p.name: p for p in self.lab.procs}

    def figures(self, label: str) -> dict[str, object]:
        assert self.lab.state is not None
        prom = self.lab.state.prometheus
        procs = {name: rss_and_fds(p.pid) for name, p in self.components().items()}
        window = max(30, int(time.monotonic() - self.started))
        out = {
            "rss_kib": {k: v[0] for k, v in procs.items()},
            "fds": {k: v[1] for k, v in procs.items()},
            "tsdb_bytes": du(self.lab.root / "prometheus" / "data"),
            "head_series": prom_scalar(prom, "prometheus_tsdb_head_series"),
            "reconcile_p99_s": prom_scalar(
                prom, "histogram_quantile(0.99, sum by (le) (increase("
                f"chaoslab_operator_reconcile_duration_seconds_bucket[{window}s])))"),
            "coredns_qps": prom_scalar(prom, "sum(rate(coredns_dns_requests_total[30s]))"),
        }
        print(f"\n== {label} (t={time.monotonic() - self.started:.0f}s)")
        print(f"{'component':32} {'RSS MiB':>9} {'fds':>5}")
        for name in sorted(procs):
            rss, fds = procs[name]
            print(f"{name:32} {rss / 1024:9.1f} {fds:5d}")
        p99 = out["reconcile_p99_s"]
        qps = out["coredns_qps"]
        print(f"Prometheus TSDB {int(out['tsdb_bytes']) / 2**20:.1f} MiB on disk, "
              f"{out['head_series']} head series")
        print("operator reconcile p99 "
              + (f"{float(p99) * 1000:.1f} ms" if p99 is not None else "n/a")
              + f" (over {window}s); CoreDNS "
              + (f"{float(qps):.0f} q/s" if qps is not None else "n/a"), flush=True)
        return out

    # -- the run -------------------------------------------------------------------------
    def apply(self, index: int) -> None:
        mode, extra = MODES[index % len(MODES)]
        target = TARGETS[index % len(TARGETS)]
        name = f"soak-{index}"
        delete_early = index % 2 == 1
        every = self.args.every
        duration = int(every if delete_early else every / 2)
        fault = {"target": target, "mode": mode, **extra}
        doc = {"apiVersion": "chaoslab.io/v1alpha1", "kind": "OutageScenario",
               "metadata": {"name": name, "namespace": "default"},
               "spec": {"faults": [fault], "duration": f"{duration}s"}}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(doc))
        now = time.monotonic()
        print(f"t={now - self.started:5.0f}s apply {name}: {target} {mode} {extra or ''} "
              f"for {duration}s" + (", to be deleted early" if delete_early else ""),
              flush=True)
        if delete_early:
            self.pending_deletes.append((now + every / 4, name, target))
        else:
            self.checks.append(Check(name, target, now + duration + GRACE, "expired"))

    def delete(self, name: str, target: str) -> None:
        self.kubectl("delete", "outagescenario", name, "--wait=false")
        print(f"t={time.monotonic() - self.started:5.0f}s delete {name}", flush=True)
        self.checks.append(Check(name, target, time.monotonic() + GRACE, "deleted"))

    def verify_due(self, final: bool = False) -> None:
        now = time.monotonic()
        for check in self.checks:
            if check.ok is not None or (now < check.due and not final):
                continue
            if now < check.due:  # at the end: wait for what is not due yet
                time.sleep(check.due - now)
            gone = f"scenario default/{check.name}" not in self.corefile()
            clean = self.dns_clean(check.target)
            check.ok = gone and clean
            check.late_by = time.monotonic() - check.due
            if not check.ok:
                self.problems.append(f"fault of {check.name} ({check.how}) still live "
                                     f"{GRACE:.0f}s after its end: rule in ConfigMap={not gone}"
                                     f", DNS clean={clean}")
            now = time.monotonic()

    def restart_operator(self) -> None:
        old = self.components()["operator"]
        print(f"t={time.monotonic() - self.started:5.0f}s SIGKILL operator pid {old.pid}",
              flush=True)
        os.killpg(old.pid, signal.SIGKILL)
        old.popen.wait(10)
        self.lab.procs.remove(old)
        new = spawn("operator", list(old.popen.args), old.log, into=self.lab.procs)
        self.lab._record()
        assert self.lab.state is not None
        port = int(self.lab.state.http["operator"].rsplit(":", 1)[1])
        wait_until("operator /healthz", lambda: http_ok(port, "/healthz"), 60, [new])
        print(f"t={time.monotonic() - self.started:5.0f}s operator back as pid {new.pid}",
              flush=True)

    def run(self) -> int:
        self.lab.up()
        try:
            self.started = time.monotonic()
            time.sleep(self.args.warmup)
            start = self.figures("start")
            pids = {name: p.pid for name, p in self.components().items()}
            end_at = self.started + self.args.minutes * 60
            kills = [self.started + f * self.args.minutes * 60 for f in (0.35, 0.7)]
            next_apply, index = time.monotonic(), 0
            # The last scenario must have ended (and been checked) before the run does.
            last_apply = end_at - self.args.every / 2 - GRACE - 5
            while time.monotonic() < end_at:
                now = time.monotonic()
                if now >= next_apply and now <= last_apply:
                    self.apply(index)
                    index += 1
                    next_apply += self.args.every
                for item in [d for d in self.pending_deletes if d[0] <= now]:
                    self.pending_deletes.remove(item)
                    self.delete(item[1], item[2])
                if kills and now >= kills[0]:
                    kills.pop(0)
                    self.restart_operator()
                self.verify_due()
                for name, proc in self.components().items():
                    if name != "operator" and not proc.alive():
                        self.problems.append(f"{name} exited with {proc.popen.returncode}")
                        return self.finish(start, pids)
                time.sleep(0.5)
            for _due, name, target in self.pending_deletes:
                self.delete(name, target)
            self.verify_due(final=True)
            return self.finish(start, pids)
        finally:
            self.lab.stop()

    def finish(self, start: dict[str, object], pids: dict[str, int]) -> int:
        end = self.figures("end")
        for name, pid in pids.items():
            now = self.components().get(name)
            if name == "operator":
                continue
            if now is None or now.pid != pid or not now.alive():
                self.problems.append(f"{name} is not the process it was at the start")
        start_rss, end_rss = start["rss_kib"], end["rss_kib"]
        assert isinstance(start_rss, dict) and isinstance(end_rss, dict)
        print(f"\n{'component':32} {'RSS start':>10} {'end':>8} {'growth':>7}")
        for name in sorted(start_rss):
            before, after = start_rss[name], end_rss.get(name, 0)
            growth = after / before if before else 0.0
            print(f"{name:32} {before / 1024:9.1f}M {after / 1024:7.1f}M {growth:6.2f}x")
            if name != "operator" and before and growth > GROWTH_LIMIT:
                self.problems.append(f"{name}: RSS grew {growth:.2f}x "
                                     f"({before / 1024:.0f} -> {after / 1024:.0f} MiB)")
        on_time = sum(1 for c in self.checks if c.ok)
        print(f"\nfaults reverted on time: {on_time}/{len(self.checks)} "
              f"(within {GRACE:.0f}s of end or deletion)")
        for problem in self.problems:
            print(f"FAIL: {problem}")
        print("soak: " + ("FAILED" if self.problems else "ok"), flush=True)
        return 1 if self.problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0,
                        help="length of the soak once the lab is up, warm-up included "
                        "(default: %(default)s)")
    parser.add_argument("--every", type=float, default=120.0,
                        help="seconds between two scenarios (default: %(default)s)")
    parser.add_argument("--users", type=int, default=100,
                        help="Locust customers, 5x the lab's default (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=30.0,
                        help="seconds of load before the start figures (default: %(default)s)")
    parser.add_argument("--lab-dir", type=Path, default=Path(".lab-soak"))
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 24 * 60 or args.every < 20:
        parser.error("--minutes must be in (0, 1440] and --every at least 20")
    return Soak(args).run()


if __name__ == "__main__":
    sys.exit(main())
