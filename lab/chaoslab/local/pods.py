"""The local lab's stand-in pods: one Pod object per service process, for client scopes.

A client-scoped fault (`spec.faults[].clients`) selects pods by namespace and labels and
faults their pod IPs; the operator resolves that through the API, the same way on every
lab. On the local lab no kubelet runs, so for each service process the lab registers a Pod
in the real kube-apiserver with the namespace and labels the chart gives that service's
pods (charts/chaoslab/templates/services/services.yaml), `spec.nodeName` of a node that
does not exist (nothing ever runs or schedules it), and `status.podIP` = the loopback
address the process sends its DNS queries from (`--dns-source`), written through the
status subresource as a kubelet would. The same scenario file then selects the same
processes in both labs. The objects live in the lab's own etcd, gone with `chaoslab down`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NAMESPACE", "NODE", "LabPod", "pod_manifest", "register", "service_pods", "unregister"]

NAMESPACE = "chaoslab"  # the release namespace charts/kind-up.sh installs into
NODE = "chaoslab-local-no-kubelet"  # no Node object, no kubelet: the pod never runs
# The chart's selector labels of a service pod (chaoslab.selectorLabels, release chaoslab).
CHART_LABELS = {
    "app.kubernetes.io/name": "chaoslab",
    "app.kubernetes.io/instance": "chaoslab",
    "app.kubernetes.io/component": "service",
}
# Source addresses: 127.0.0.1 stays the lab's listening address; processes from .10 up.
FIRST_SOURCE = 10

Kubectl = Callable[..., Any]  # ControlPlane.kubectl


@dataclass(frozen=True)
class LabPod:
    """One service process as a pod: its name as the chart's Deployment, labels, address."""

    name: str
    service: str
    region: str
    ip: str

    @property
    def labels(self) -> dict[str, str]:
        return {**CHART_LABELS, "chaoslab.io/service": self.service,
                "chaoslab.io/region": self.region}


def service_pods(processes: list[tuple[str, str]]) -> list[LabPod]:
    """(service, region) per process, in start order -> each with its own 127.0.0.X."""
    if len(processes) > 250 - FIRST_SOURCE:
        raise ValueError(f"{len(processes)} processes do not fit in 127.0.0.{FIRST_SOURCE}-250")
    return [LabPod(f"{svc}-{region}", svc, region, f"127.0.0.{FIRST_SOURCE + i}")
            for i, (svc, region) in enumerate(processes)]


def pod_manifest(name: str, labels: Mapping[str, str], namespace: str = NAMESPACE) -> dict:
    """A Pod bound to a node that runs nothing: an address holder the scheduler ignores."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "nodeName": NODE,
            "automountServiceAccountToken": False,
            "containers": [{"name": "process", "image": "chaoslab.invalid/local-process"}],
        },
    }


def register(kubectl: Kubectl, name: str, labels: Mapping[str, str], ip: str,
             namespace: str = NAMESPACE) -> None:
    """Create (or update) the Pod and give it `ip` through the status subresource."""
    if kubectl("get", "serviceaccount", "default", "-n", namespace, check=False).returncode:
        # What kube-controller-manager would create (the lab runs none); pod admission
        # looks the pod's service account up even when no token is mounted.
        kubectl("create", "namespace", namespace, check=False)
        kubectl("create", "serviceaccount", "default", "-n", namespace, check=False)
    kubectl("apply", "-f", "-", input=json.dumps(pod_manifest(name, labels, namespace)))
    status = {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}
    kubectl("patch", "pod", name, "-n", namespace, "--subresource=status", "--type=merge",
            "-p", json.dumps(status))


def unregister(kubectl: Kubectl, name: str, namespace: str = NAMESPACE) -> None:
    """Delete the Pod at once (no kubelet would ever confirm a graceful deletion)."""
    kubectl("delete", "pod", name, "-n", namespace, "--grace-period=0", "--force",
            "--ignore-not-found", check=False)
