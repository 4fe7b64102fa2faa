"""Which source addresses a client-scoped fault applies to: pure mapping, no I/O.

The operator lists the pods (I/O, at the edge) and hands them here as ``Pod`` values; this
module decides which of them each fault's ``clients`` selects, the way Kubernetes selects:
a pod is selected when it is in one of ``namespaces`` (any namespace when absent) AND its
labels match ``podSelector`` (any labels when absent), if at least one of the two is given.
The fault then applies to the selected pods' IPs plus the ``cidrs``. The result feeds
``compile_corefile(..., addresses=...)``; a scope selecting nothing compiles to
``clients none``, never to an unscoped rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .model import Clients, LabelRequirement, Scenario

__all__ = ["FaultRef", "Pod", "fault_addresses", "label_matches", "scope_summary", "selects"]

FaultRef = tuple[str, int]  # (scenario key "namespace/name", index in spec.faults)


@dataclass(frozen=True)
class Pod:
    """What selection needs of a pod: where it is, its labels, its addresses."""

    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ips: tuple[str, ...] = ()  # status.podIPs; empty while the pod has none


def _requirement(req: LabelRequirement, labels: Mapping[str, str]) -> bool:
    if req.operator == "Exists":
        return req.key in labels
    if req.operator == "DoesNotExist":
        return req.key not in labels
    if req.operator == "In":
        return labels.get(req.key) in req.values
    if req.operator == "NotIn":  # as in Kubernetes: a pod without the key matches
        return labels.get(req.key) not in req.values
    raise ValueError(f"unknown selector operator {req.operator!r}")


def label_matches(clients: Clients, labels: Mapping[str, str]) -> bool:
    """Kubernetes LabelSelector semantics: every matchLabels pair and every expression."""
    if clients.match_labels is None:
        return True
    return all(labels.get(k) == v for k, v in clients.match_labels) and all(
        _requirement(r, labels) for r in clients.match_expressions)


def selects(clients: Clients, pod: Pod) -> bool:
    """Is ``pod`` one of the clients (through namespaces/podSelector; cidrs aside)?"""
    if not clients.selects_pods:
        return False
    if clients.namespaces is not None and pod.namespace not in clients.namespaces:
        return False
    return label_matches(clients, pod.labels)


def fault_addresses(scenarios: Iterable[Scenario], pods: Iterable[Pod]) -> dict[FaultRef,
                                                                               frozenset[str]]:
    """Pod IPs selected by each pod-selecting fault (cidrs are added by the compiler)."""
    pods = [p for p in pods if p.ips]
    out: dict[FaultRef, frozenset[str]] = {}
    for scenario in scenarios:
        for i, fault in enumerate(scenario.faults):
            if fault.clients is not None and fault.clients.selects_pods:
                out[(scenario.key, i)] = frozenset(
                    ip for p in pods if selects(fault.clients, p) for ip in p.ips)
    return out


def scope_summary(scenario: Scenario, addresses: Mapping[FaultRef, frozenset[str]]) -> str:
    """One line for ``kubectl get -o wide``: 'all', or per scoped fault how many clients."""
    parts = []
    for i, fault in enumerate(scenario.faults):
        c = fault.clients
        if c is None:
            continue
        what = []
        if c.selects_pods:
            what.append(f"{len(addresses.get((scenario.key, i), ()))} pod IP(s)")
        if c.cidrs:
            what.append(f"{len(c.cidrs)} CIDR(s)")
        parts.append(f"{fault.target}: {' + '.join(what)}")
    return "; ".join(parts) if parts else "all"
