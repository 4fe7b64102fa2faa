"""Admission before injection: refuse, naming the mistake, what validation cannot see.

The spec can be valid and still do nothing or the wrong thing on this lab: a target no
server block with chaoslab markers would ever be asked about (a fault that never fires), or
a redirect to an address the lab's services refuse to dial. Both depend on the live base
Corefile and the lab's settings, so the operator checks them when it accepts a scenario
(`Failed`, nothing injected) rather than the CRD. Likewise a declared hypothesis whose
query Prometheus cannot parse would only be found out by the report, after the game day:
it is refused now (`admit_hypotheses`, on readings the reconciler takes). Pure functions,
no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from chaoslab_dns.corefile import fault_zones, zone_covers
from chaoslab_dns.model import Mode, Scenario
from chaoslab_operator.plan import QUERY_INVALID, UNREACHABLE, Notice, Reading, Refusal

# The services' default allowed networks (chaoslab_services.common.config), and so the
# operator's default: a redirect elsewhere would only be refused by every client.
DEFAULT_ALLOWED_NETWORKS = ("127.0.0.0/8",)


def _zones_text(zones: Sequence[str]) -> str:
    return ", ".join("." if z == "" else z for z in zones) or "none"


def admit(
    base: str, scenario: Scenario, allowed_networks: Sequence[str] = DEFAULT_ALLOWED_NETWORKS
) -> Refusal | None:
    """Why this scenario must not be injected on this lab; None when it may be."""
    zones = fault_zones(base)
    networks = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]
    for i, fault in enumerate(scenario.faults):
        field = scenario.fault_field(i)
        if not any(zone_covers(zone, fault.target) for zone in zones):
            return Refusal("TargetNotServed", (
                f"{field}.target {fault.target!r} is in no zone this lab's DNS injects faults "
                f"for ({_zones_text(zones)}), so the fault would never fire; target a name in "
                "one of them, e.g. 'dynamodb.us-east-1.aws.internal'"
            ))
        if fault.mode is Mode.REDIRECT and networks and fault.redirect_to is not None:
            address = ipaddress.ip_address(fault.redirect_to)
            if not any(address in net for net in networks):
                allowed = ", ".join(str(n) for n in networks)
                return Refusal("RedirectNotAllowed", (
                    f"{field}.redirectTo {fault.redirect_to!r} is outside the lab's allowed "
                    f"networks ({allowed}): the services refuse to dial it, so this would not "
                    "rehearse a wrong answer being used; pick an address in them, or widen "
                    "them with the operator's --allowed-networks (and the services' "
                    "--allowed-networks, chart value services.allowedNetworks)"
                ))
    return None


def admit_hypotheses(scenario: Scenario, readings: Sequence[Reading]) -> Refusal | Notice | None:
    """Refuse a hypothesis whose query Prometheus refused (`readings[i]`: one instant query of
    `spec.hypotheses[i]`); note, and accept, one that could not be checked.

    Noted rather than failed when Prometheus is unreachable or the evaluation failed (HTTP
    422): a hypothesis guards nothing during the game day, and the report judges it fail
    closed (a query it cannot evaluate is a failed hypothesis), so accepting cannot turn an
    unchecked query into a pass; failing would stop a game day over a verdict that comes
    later. The HypothesesChecked condition and a Warning event say it was not checked. No
    data at acceptance is fine: the metric may only appear under the fault.
    """
    unchecked = []
    for i, h in enumerate(scenario.hypotheses):
        reading = readings[i] if i < len(readings) else Reading(error="no reading")
        where = f"spec.hypotheses[{i}] ({h.name!r}) query {h.query!r}"
        if reading.error is None:
            continue
        if reading.reason == QUERY_INVALID:
            return Refusal("HypothesisInvalid", (
                f"{where}: {reading.error}; fix the query (it must return one number: a "
                "scalar or a one-element instant vector) and re-apply"))
        unchecked.append((reading.reason or UNREACHABLE, f"{where}: {reading.error}"))
    if unchecked:
        return Notice(unchecked[0][0], (
            "hypothesis queries not checked (accepted anyway; the report fails a query it "
            "cannot evaluate): " + "; ".join(m for _, m in unchecked)))
    return None
