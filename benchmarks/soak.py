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
The schedule, the revert checks and the verdict are shared with the node lab's soak
(benchmarks/node_soak.py) in soak_common.py.

    .venv/bin/python benchmarks/soak.py [--minutes 30] [--every 120] [--users 100]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
from soak_common import (
    Check,
    SoakRun,
    du,
    growth_problems,
    parse_soak_arguments,
    prom_scalar,
    soak_arguments,
)

from chaoslab.local.runtime import LabOptions, LocalLab, http_ok
from chaoslab.procs import Proc, spawn, wait_until
from chaoslab.toolpaths import tool

TARGETS = ["dynamodb.us-east-1.aws.internal", "s3.us-east-1.aws.internal",
           "kms.us-west-2.aws.internal", "cloudwatch.us-west-2.aws.internal"]


def rss_and_fds(pid: int) -> tuple[int, int]:
    """(RSS in KiB, open fds) of one process, (0, 0) if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rss = next(int(line.split()[1]) for line in status.splitlines()
                   if line.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return 0, 0


class Soak(SoakRun):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args.minutes, args.every, TARGETS)
        self.args = args
        self.lab = LocalLab(LabOptions(lab_dir=args.lab_dir, users=args.users,
                                       spawn_rate=args.users / 5),
                            progress=lambda m: print(f"up: {m}", flush=True))

    # -- the lab's side of soak_common.SoakRun --------------------------------------------
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

    def still_live(self, check: Check) -> str | None:
        gone = f"scenario default/{check.name}" not in self.corefile()
        clean = self.dns_clean(check.target)
        return None if gone and clean else f"rule in ConfigMap={not gone}, DNS clean={clean}"

    def health(self) -> str | None:
        for name, proc in self.components().items():
            if name != "operator" and not proc.alive():
                return f"{name} exited with {proc.popen.returncode}"
        return None

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
    def kill_operator(self, nth: int) -> None:
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
            self.drive()
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
        self.problems += growth_problems({k: v * 1024 for k, v in start_rss.items()},
                                         {k: v * 1024 for k, v in end_rss.items()}, "RSS",
                                         skip=["operator"])
        return self.verdict()


def main(argv: list[str] | None = None) -> int:
    parser = soak_arguments(__doc__ or "", minutes=30.0, every=120.0, warmup=30.0,
                            lab_dir=Path(".lab-soak"))
    parser.add_argument("--users", type=int, default=100,
                        help="Locust customers, 5x the lab's default (default: %(default)s)")
    return Soak(parse_soak_arguments(parser, argv)).run()

if __name__ == "__main__":
    sys.exit(main())
