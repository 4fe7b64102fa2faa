"""`kube.pod_value`: what of a Pod object counts for client scopes (its IPs only while it
can still send queries: not once finished or being deleted)."""

from __future__ import annotations

from datetime import UTC, datetime

from kubernetes.client import V1ObjectMeta, V1Pod, V1PodIP, V1PodStatus

from chaoslab_operator.kube import pod_value


def pod(phase: str = "Running", deleting: bool = False, **status: object) -> V1Pod:
    meta = V1ObjectMeta(name="lambda-1", namespace="chaoslab",
                        labels={"chaoslab.io/service": "lambda"},
                        deletion_timestamp=datetime.now(UTC) if deleting else None)
    return V1Pod(metadata=meta, status=V1PodStatus(phase=phase, **status))


def test_addresses_dual_stack_once_each() -> None:
    value = pod(pod_ip="10.244.0.7", pod_ips=[V1PodIP(ip="10.244.0.7"), V1PodIP(ip="fd00::7")])
    got = pod_value(value)
    assert (got.namespace, got.name, got.ips) == ("chaoslab", "lambda-1", ("10.244.0.7", "fd00::7"))
    assert got.labels == {"chaoslab.io/service": "lambda"}


def test_no_address_when_gone_or_not_yet_assigned() -> None:
    assert pod_value(pod("Succeeded", pod_ip="10.244.0.7")).ips == ()
    assert pod_value(pod("Failed", pod_ip="10.244.0.7")).ips == ()
    assert pod_value(pod(deleting=True, pod_ip="10.244.0.7")).ips == ()
    assert pod_value(pod("Pending")).ips == ()
