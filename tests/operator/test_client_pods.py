"""Client-scoped faults on a real API server and a real CoreDNS: the operator resolves a
pod selector to pod IPs, keeps them current as Pod objects come and go (a pod added during
the scenario is faulted, a deleted pod's address leaves the rule), writes nothing when the
address set did not change, and CoreDNS faults exactly the queries from those addresses."""

from __future__ import annotations

import re
import time

import pytest
from oplab import BASE_ANSWER, OpLab, scenario_yaml, wait_for

from chaoslab.local.pods import register, unregister
from chaoslab.testkit.dnsprobe import resolve_from
from chaoslab_dns.corefile import marked_faults

IAM = "iam.aws.internal"
LAMBDA = {"chaoslab.io/service": "lambda", "chaoslab.io/region": "us-east-1"}
CLOUDWATCH = {"chaoslab.io/service": "cloudwatch", "chaoslab.io/region": "us-east-1"}


def clients_of(lab: OpLab) -> list[str]:
    """The `clients` value of every fault line in the live ConfigMap (each rule once)."""
    return [m for line in marked_faults(lab.configmap())
            for m in re.findall(r" clients (\S+) ", line)]


def scoped(name: str, selector: dict[str, str]) -> str:
    return scenario_yaml(name, [{"target": IAM, "mode": "servfail", "clients": {
        "podSelector": {"matchLabels": selector}}}], "120s")


@pytest.fixture
def pods(lab: OpLab):  # type: ignore[no-untyped-def]
    made: list[str] = []

    def add(name: str, labels: dict[str, str], ip: str) -> None:
        register(lab.cp.kubectl, name, labels, ip)
        made.append(name)

    yield add
    for name in made:
        unregister(lab.cp.kubectl, name)


def test_pods_come_and_go_from_the_rule(lab: OpLab, pods) -> None:  # type: ignore[no-untyped-def]
    pods("lambda-us-east-1", LAMBDA, "127.0.0.12")
    pods("cloudwatch-us-east-1", CLOUDWATCH, "127.0.0.13")
    assert lab.apply(scoped("lambda-iam", {"chaoslab.io/service": "lambda"})).returncode == 0
    try:
        wait_for("lambda's address in the rule", lambda: clients_of(lab) == ["127.0.0.12"], 20)
        lab.wait_phase("lambda-iam", "Active", timeout=20)
        wait_for("CoreDNS faults lambda", lambda: resolve_from(
            "127.0.0.12", IAM, lab.dns_port) == "SERVFAIL", 15)
        assert resolve_from("127.0.0.13", IAM, lab.dns_port) == BASE_ANSWER
        assert resolve_from("127.0.0.1", IAM, lab.dns_port) == BASE_ANSWER

        # A matching pod that starts during the scenario joins it.
        pods("lambda-us-east-1-b", LAMBDA, "127.0.0.2")
        wait_for("the new pod joins", lambda: clients_of(lab) == ["127.0.0.2,127.0.0.12"], 20)
        wait_for("CoreDNS faults it", lambda: resolve_from(
            "127.0.0.2", IAM, lab.dns_port) == "SERVFAIL", 15)
        wait_for("the wide listing shows 2 pod IPs", lambda: "iam.aws.internal: 2 pod IP(s)" in
                 lab.cp.kubectl("get", "outagescenario", "lambda-iam", "-o", "wide").stdout, 10)

        # A pod that does not match changes nothing: no ConfigMap write at all.
        version = lab.configmap_version()
        pods("cloudwatch-us-east-1-b", CLOUDWATCH, "127.0.0.3")
        time.sleep(1.0)  # well past the debounce: a write would have happened by now
        assert lab.configmap_version() == version

        # A deleted pod's address leaves the rule, and its queries resolve again.
        unregister(lab.cp.kubectl, "lambda-us-east-1")
        wait_for("the deleted pod leaves", lambda: clients_of(lab) == ["127.0.0.2"], 20)
        wait_for("it resolves again", lambda: resolve_from(
            "127.0.0.12", IAM, lab.dns_port) == BASE_ANSWER, 15)
    finally:
        lab.delete("lambda-iam")
    wait_for("every client resolves", lambda: all(resolve_from(
        ip, IAM, lab.dns_port) == BASE_ANSWER for ip in ("127.0.0.2", "127.0.0.12")), 15)
    assert clients_of(lab) == []


def test_a_selector_matching_nobody_faults_nobody(lab: OpLab, pods) -> None:  # type: ignore[no-untyped-def]
    pods("lambda-us-east-1", LAMBDA, "127.0.0.12")
    assert lab.apply(scoped("nobody", {"chaoslab.io/service": "no-such"})).returncode == 0
    try:
        lab.wait_phase("nobody", "Active", timeout=20)
        wait_for("the rule is written", lambda: clients_of(lab) == ["none"], 20)
        for source in ("127.0.0.12", "127.0.0.1"):
            assert resolve_from(source, IAM, lab.dns_port) == BASE_ANSWER
        wait_for("status.clients", lambda: lab.status("nobody").get("clients")
                 == "iam.aws.internal: 0 pod IP(s)", 10)
    finally:
        lab.delete("nobody")
