"""What the runner watches and steers while a lab runs: live Prometheus figures and Locust.

Only for progress lines and for deciding whether the lab is still stuck; every figure in
the comparison comes from `chaoslab_report`'s analysis of the whole run afterwards.
"""

from __future__ import annotations

import math

import requests

from chaoslab_report.prom import Prometheus, PrometheusError

CUSTOMER_RATE = "sum(rate(chaoslab_loadtest_requests_total[{w}]))"
CUSTOMER_ERRORS = (
    'sum(rate(chaoslab_loadtest_requests_total{{result!="ok"}}[{w}]))'
    " / sum(rate(chaoslab_loadtest_requests_total[{w}]))"
)
DEEPEST_QUEUE = "topk(1, max by (service, region) (chaoslab_service_queue_depth))"


def customer_errors(prom: Prometheus, window: str = "10s") -> float | None:
    """Share of customer workflows failing over the last `window`; None without traffic."""
    return prom.scalar(CUSTOMER_ERRORS.format(w=window))


def status_line(prom: Prometheus) -> str:
    """`customers 19 calls/s, errors 0.0% | deepest queue iam.us-east-1 1020`."""
    try:
        rate = prom.scalar(CUSTOMER_RATE.format(w="5s")) or 0.0
        errors = prom.scalar(CUSTOMER_ERRORS.format(w="5s"))
        queue = prom.query(DEEPEST_QUEUE)
    except (PrometheusError, KeyError, ValueError) as exc:
        return f"(Prometheus not answering: {exc})"
    text = f"customers {rate:.0f} calls/s, errors " + ("n/a" if errors is None else
                                                      f"{errors:.1%}")
    if queue:
        m, depth = queue[0]
        if not math.isnan(depth) and depth >= 1:
            text += f" | deepest queue {m.get('service', '?')}.{m.get('region', '?')} {depth:.0f}"
    return text


def set_users(locust_url: str, users: int, spawn_rate: float = 10.0) -> None:
    """Change the number of Locust customers while the test runs (Locust's /swarm)."""
    resp = requests.post(f"{locust_url.rstrip('/')}/swarm",
                         data={"user_count": users, "spawn_rate": spawn_rate}, timeout=10)
    resp.raise_for_status()
    body = resp.json()
    if not body.get("success", False):
        raise RuntimeError(f"Locust refused {users} users: {body.get('message')}")
