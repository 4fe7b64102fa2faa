"""Client-scoped faults (``spec.faults[].clients``): validation, selection, compilation.

Selection is pure (the operator hands it the pods it listed); these tests pin its
Kubernetes semantics and that the compiled ``clients`` clause is deterministic and never
widens a scope that selects nobody into an unscoped rule. The plugin's matching of the
clause is tested in dns/coredns/chaoslab/clients_test.go and, live, in
tests/lab/test_client_scope.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.clients import Pod, fault_addresses, scope_summary, selects
from chaoslab_dns.corefile import clients_token, compile_corefile, marked_faults
from chaoslab_dns.model import Clients, LabelRequirement
from chaoslab_dns.validate import ScenarioError, parse_clients, parse_spec

LAMBDA = {"podSelector": {"matchLabels": {"chaoslab.io/service": "lambda"}}}


def scenario(*clients: dict[str, Any] | None, name: str = "s") -> Any:
    faults = [{"target": "iam.aws.internal", "mode": "servfail",
               **({"clients": c} if c is not None else {})} for c in clients]
    return parse_spec({"faults": faults, "duration": "1m"}, "gameday", name).injected(2e9)


def pod(name: str, ip: str, service: str, ns: str = "chaoslab") -> Pod:
    return Pod(ns, name, {"chaoslab.io/service": service}, (ip,))


PODS = [
    pod("lambda-1", "127.0.0.12", "lambda"),
    pod("lambda-2", "127.0.0.2", "lambda"),
    pod("cw", "127.0.0.13", "cloudwatch"),
    pod("other-ns", "10.0.0.9", "lambda", ns="team-b"),
]


def test_parse_normalises_and_sorts() -> None:
    c = parse_clients({"namespaces": ["b", "a", "a"],
                       "cidrs": ["10.1.0.0/16", "::1", "10.0.0.7/32"],
                       "podSelector": {"matchLabels": {"x": "1"}, "matchExpressions": [
                           {"key": "chaoslab.io/region", "operator": "In",
                            "values": ["us-west-2", "us-east-1"]}]}})
    assert c.namespaces == ("a", "b")
    assert c.cidrs == ("10.1.0.0/16", "::1", "10.0.0.7")
    assert c.match_labels == (("x", "1"),)
    assert c.match_expressions == (
        LabelRequirement("chaoslab.io/region", "In", ("us-east-1", "us-west-2")),)
    assert parse_clients({"podSelector": {}}) == Clients(match_labels=())


@pytest.mark.parametrize(("clients", "field", "words"), [
    ({}, "c", "at least one of namespaces, podSelector or cidrs"),
    ({"pods": []}, "c.pods", "unknown field"),
    ({"namespaces": []}, "c.namespaces", "1 to 64"),
    ({"namespaces": ["Team"]}, "c.namespaces[0]", "invalid name 'Team'"),
    ({"cidrs": ["10.0.0.1/8"]}, "c.cidrs[0]", "host bits set"),
    ({"cidrs": ["lambda"]}, "c.cidrs[0]", "invalid address or CIDR 'lambda'"),
    ({"podSelector": {"matchLabels": {"a b": "x"}}}, "c.podSelector.matchLabels",
     "invalid label key 'a b'"),
    ({"podSelector": {"matchLabels": {"k": "-x"}}}, "c.podSelector.matchLabels.k",
     "invalid label value '-x'"),
    ({"podSelector": {"matchExpressions": [{"key": "k", "operator": "Has"}]}},
     "c.podSelector.matchExpressions[0].operator", "want one of In, NotIn"),
    ({"podSelector": {"matchExpressions": [{"key": "k", "operator": "In"}]}},
     "c.podSelector.matchExpressions[0].values", "is required with operator In"),
    ({"podSelector": {"matchExpressions": [{"key": "k", "operator": "Exists",
                                            "values": ["a"]}]}},
     "c.podSelector.matchExpressions[0].values", "must be empty"),
])
def test_bad_clients_name_the_field(clients: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_clients(clients, "c")
    assert err.value.field == field
    assert words in err.value.message


def test_bad_clients_in_a_manifest_name_the_fault() -> None:
    with pytest.raises(ScenarioError) as err:
        scenario(None, {"cidrs": ["x"]})
    assert err.value.field == "spec.faults[1].clients.cidrs[0]"


def test_selection_is_namespaces_and_selector() -> None:
    lam = parse_clients(LAMBDA)
    assert [p.name for p in PODS if selects(lam, p)] == ["lambda-1", "lambda-2", "other-ns"]
    both = parse_clients({**LAMBDA, "namespaces": ["chaoslab"]})
    assert [p.name for p in PODS if selects(both, p)] == ["lambda-1", "lambda-2"]
    ns_only = parse_clients({"namespaces": ["team-b"]})
    assert [p.name for p in PODS if selects(ns_only, p)] == ["other-ns"]
    assert not any(selects(parse_clients({"cidrs": ["127.0.0.0/8"]}), p) for p in PODS)
    expr = parse_clients({"podSelector": {"matchExpressions": [
        {"key": "chaoslab.io/service", "operator": "NotIn", "values": ["lambda"]},
        {"key": "chaoslab.io/service", "operator": "Exists"}]}})
    assert [p.name for p in PODS if selects(expr, p)] == ["cw"]


def test_compiled_clause_is_sorted_and_set_valued() -> None:
    s = scenario(LAMBDA, None, {**LAMBDA, "cidrs": ["10.9.0.0/16"]})
    base = local_corefile(1053, 9153, {"iam.aws.internal": "127.0.0.1"})
    addrs = fault_addresses([s], PODS)
    text = compile_corefile(base, [s], addrs)
    assert compile_corefile(base, [s], fault_addresses([s], list(reversed(PODS)))) == text
    lines = marked_faults(text)
    assert [ln.split(" clients ")[1].split()[0] if " clients " in ln else "-" for ln in lines] == [
        "10.0.0.9,127.0.0.2,127.0.0.12", "-", "10.0.0.9,10.9.0.0/16,127.0.0.2,127.0.0.12"]
    assert scope_summary(s, addrs) == (
        "iam.aws.internal: 3 pod IP(s); iam.aws.internal: 3 pod IP(s) + 1 CIDR(s)")
    assert scope_summary(scenario(None), {}) == "all"


def test_a_scope_selecting_nobody_is_never_unscoped() -> None:
    s = scenario({"podSelector": {"matchLabels": {"chaoslab.io/service": "nope"}}})
    base = local_corefile(1053, 9153, {"iam.aws.internal": "127.0.0.1"})
    assert fault_addresses([s], PODS) == {(s.key, 0): frozenset()}
    for addrs in (fault_addresses([s], PODS), None):  # resolved to nothing, or not resolved
        (line,) = marked_faults(compile_corefile(base, [s], addrs))
        assert " clients none " in line


def test_clients_token() -> None:
    assert clients_token(["::1", "127.0.0.12", "127.0.0.2", "127.0.0.2", "10.0.0.0/8"]) == (
        "10.0.0.0/8,127.0.0.2,127.0.0.12,::1")
    assert clients_token([]) == "none"
