"""Mitigations an operator switches on in a running local lab (`chaoslab mitigate`).

DNS being fixed does not end every failure: EC2's DropletWorkflow Manager, its host leases
lapsed while DynamoDB was unreachable, collapses under its own re-lease backlog and stays
collapsed (services/README.md, "EC2 and DWFM"). AWS ended it by throttling incoming work;
here that is DWFM's queue-size-based admission, switched on over EC2's HTTP port. The demo
calls the same function when the collapse outlives the DNS fix.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from chaoslab.local.state import LabState
from chaoslab.procs import ComponentFailed

__all__ = ["CLUSTER_HINT", "dwfm_regions", "dwfm_throttle"]

_EC2 = "service-ec2"  # LabState.http's key prefix for EC2's HTTP port

CLUSTER_HINT = (
    "on kind or the node lab, reach the EC2 pod's HTTP port instead: kubectl -n chaoslab "
    "port-forward deploy/ec2-REGION 8080 & curl -X POST "
    "'http://127.0.0.1:8080/dwfm/throttle?enabled=true'")


def dwfm_regions(state: LabState) -> list[str]:
    """Regions whose EC2 (and so DWFM) runs in this lab."""
    return sorted(key.partition(".")[2] for key in state.http
                  if key.startswith(f"{_EC2}."))


def dwfm_throttle(state: LabState, region: str, on: bool = True, timeout: float = 5.0
                  ) -> dict[str, Any]:
    """Switches DWFM's incoming-work throttle in `region`; returns DWFM's state after it
    (held leases, queue depth, throttle). ComponentFailed says what to do instead."""
    if state.lab != "local":
        raise ComponentFailed(f"chaoslab mitigate drives the local lab; {CLUSTER_HINT}")
    addr = state.http.get(f"{_EC2}.{region}")
    if addr is None:
        known = ", ".join(dwfm_regions(state)) or "none"
        raise ComponentFailed(f"no EC2 in region {region!r} in this lab (EC2 runs in: {known})")
    url = f"http://{addr}/dwfm/throttle?enabled={'true' if on else 'false'}"
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return dict(json.loads(resp.read()))
    except (OSError, ValueError) as exc:  # URLError is an OSError; bad JSON a ValueError
        raise ComponentFailed(f"EC2 {region} did not take the throttle ({url}: {exc}); is "
                              "the lab up? `chaoslab status` says which component is not") \
            from exc
