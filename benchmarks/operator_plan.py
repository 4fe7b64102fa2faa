"""Cost of one reconcile pass's pure part (plan + compile + check) against the scenario count.

A pass plans every scenario and compiles the Corefile of the active ones; the API calls
around it are two reads and at most one ConfigMap write whatever the count. This prints
the pure part for 10, 100 and 1000 scenarios (half of them active, 2 faults each), so the
pass cost is visible as the lab grows. No cluster needed.

    .venv/bin/python benchmarks/operator_plan.py
"""

from __future__ import annotations

import time

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import check_corefile, compile_corefile
from chaoslab_operator import plan
from chaoslab_operator.plan import Observed, Status

NOW = 1_760_944_080.0


def scenarios(count: int) -> list[Observed]:
    out = []
    for i in range(count):
        manifest = {
            "apiVersion": "chaoslab.io/v1alpha1", "kind": "OutageScenario",
            "metadata": {"name": f"s{i}", "namespace": "default", "generation": 1},
            "spec": {
                "faults": [
                    {"target": f"svc{i}.us-east-1.aws.internal", "mode": "nxdomain"},
                    {"target": f"*.r{i}.aws.internal", "mode": "delay", "delay": "200ms"},
                ],
                "duration": "10m",
                "startAfter": "0s" if i % 2 == 0 else "5m",
            },
        }
        out.append(Observed("default", f"s{i}", manifest, status=Status()))
    return out


def main() -> None:
    base = local_corefile(1053, 9153, {"iam.aws.internal": "127.0.0.1"})
    print("pure part of one reconcile pass (plan + compile + check), best of 5:")
    for count in (10, 100, 1000):
        observed = scenarios(count)
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            decided = plan.plan(NOW, observed, lambda s: None)
            text = compile_corefile(base, decided.active)
            check_corefile(text)
            best = min(best, time.perf_counter() - t0)
        print(f"  {count:5d} scenarios ({len(decided.active):4d} active): {best * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
