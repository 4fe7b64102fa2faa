"""``spec.faults[].clients`` in the CRD: the real API server refuses a malformed scope at
``kubectl apply`` with a message naming the field, accepts the good ones, and lists the
compiled scope in ``kubectl get -o wide``."""

from __future__ import annotations

from typing import Any

import pytest
from oplab import OpLab, wait_for

from chaoslab.testkit.scenarios import outage_yaml

OK_FAULT = {"target": "iam.aws.internal", "mode": "servfail"}


def manifest(clients: Any, name: str = "bad") -> str:
    return outage_yaml(name, faults=[{**OK_FAULT, "clients": clients}])


C = "spec.faults[0].clients"
MALFORMED: list[tuple[str, Any, str, str]] = [
    ("empty scope", {}, C, "needs at least one of namespaces, podSelector or cidrs"),
    ("unknown key", {"pods": ["a"]}, C, "unknown field"),
    ("empty namespaces", {"namespaces": []}, f"{C}.namespaces", "at least 1"),
    ("bad namespace", {"namespaces": ["Team B"]}, f"{C}.namespaces[0]",
     '"Team B" is not a namespace name'),
    ("bad cidr", {"cidrs": ["lambda"]}, f"{C}.cidrs[0]",
     '"lambda" is not an IP address or CIDR prefix'),
    ("host bits", {"cidrs": ["10.0.0.1/8"]}, f"{C}.cidrs[0]",
     "has host bits set: write the prefix by its network address"),
    ("bad label key", {"podSelector": {"matchLabels": {"a b": "x"}}},
     f"{C}.podSelector.matchLabels", "every key must be a label key"),
    ("bad label value", {"podSelector": {"matchLabels": {"k": "-x"}}},
     f"{C}.podSelector.matchLabels", "every value must be a label value"),
    ("bad operator", {"podSelector": {"matchExpressions": [{"key": "k", "operator": "Has"}]}},
     f"{C}.podSelector.matchExpressions[0].operator", "Unsupported value"),
    ("In without values", {"podSelector": {"matchExpressions": [
        {"key": "k", "operator": "In"}]}},
     f"{C}.podSelector.matchExpressions[0].values", "values is required"),
    ("Exists with values", {"podSelector": {"matchExpressions": [
        {"key": "k", "operator": "Exists", "values": ["a"]}]}},
     f"{C}.podSelector.matchExpressions[0].values", "values must be empty"),
]


@pytest.mark.parametrize(("case", "clients", "field", "says"), MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_refused_naming_the_field(lab: OpLab, case: str, clients: Any, field: str,
                                  says: str) -> None:
    result = lab.apply(manifest(clients))
    assert result.returncode != 0, f"{case}: accepted"
    assert field in result.stderr and says in result.stderr, f"{case}: {result.stderr}"
    assert 'Invalid value: "string"' not in result.stderr, result.stderr
    assert lab.get("bad") is None


def test_good_scopes_are_accepted(lab: OpLab) -> None:
    for clients in (
        {"podSelector": {"matchLabels": {"chaoslab.io/service": "lambda"}}},
        {"podSelector": {}},
        {"namespaces": ["chaoslab", "team-b"], "podSelector": {"matchExpressions": [
            {"key": "chaoslab.io/region", "operator": "In", "values": ["us-east-1"]},
            {"key": "canary", "operator": "DoesNotExist"}]}},
        {"cidrs": ["10.244.0.7", "10.244.1.0/24", "fd00::/64", "::1"]},
    ):
        result = lab.cp.kubectl("apply", "--dry-run=server", "-f", "-",
                                input=manifest(clients, "good"), check=False)
        assert result.returncode == 0, f"{clients}: {result.stderr}"


def test_scope_shown_in_wide_listing(lab: OpLab) -> None:
    assert lab.apply(manifest({"cidrs": ["127.0.0.12", "10.0.0.0/8"]}, "shown")).returncode == 0
    try:
        wait_for("status.clients", lambda: ((lab.get("shown") or {}).get("status") or {})
                 .get("clients"), 20)
        out = lab.cp.kubectl("get", "outagescenario", "shown", "-n", "default",
                             "-o", "wide").stdout
        assert "CLIENTS" in out.splitlines()[0]
        assert "iam.aws.internal: 2 CIDR(s)" in out
    finally:
        lab.cp.kubectl("delete", "outagescenario", "shown", "-n", "default", "--wait=false",
                       check=False)
