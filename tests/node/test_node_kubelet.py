"""Reading the kubelet's figures and judging restarts (pure: the soak's and the node tests'
verdict must not depend on a live node to be checked)."""

from __future__ import annotations

from typing import Any

import pytest

from chaoslab.node.kubelet import PodFigures, component_of, parse, restart_problems


def pod(name: str, uid: str, restarts: int = 0, ns: str = "chaoslab",
        hashed: bool = True, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": uid,
                            "labels": {"pod-template-hash": "abc"} if hashed else {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T04:00:00Z"
    return {"metadata": meta, "status": {"containerStatuses": [
        {"name": "main", "restartCount": restarts}]}}


def figures(*pods: dict[str, Any]) -> dict[str, PodFigures]:
    return parse({"items": list(pods)}, {"pods": []})


OP_A, OP_B = "chaoslab-operator-5d8f7-aaaaa", "chaoslab-operator-5d8f7-bbbbb"
LAMBDA = "lambda-us-east-1-7c9b4-xxxxx"


@pytest.mark.parametrize(("meta", "component"), [
    ({"name": LAMBDA, "namespace": "chaoslab", "labels": {"pod-template-hash": "7c9b4"}},
     "chaoslab/lambda-us-east-1"),
    ({"name": "chaoslab-bootstrap-q7x2k", "namespace": "chaoslab",
      "ownerReferences": [{"kind": "Job"}]}, "chaoslab/chaoslab-bootstrap"),
    ({"name": "lambda-extra", "namespace": "chaoslab"}, "chaoslab/lambda-extra"),
])
def test_a_pods_component_survives_its_replacement(meta: dict, component: str) -> None:
    assert component_of({"metadata": meta}) == component


def test_memory_and_volumes_come_from_the_summary_by_uid() -> None:
    summary = {"pods": [{"podRef": {"uid": "u1"},
                         "memory": {"rssBytes": 10, "workingSetBytes": 20},
                         "volume": [{"name": "data", "usedBytes": 30}]}]}
    got = parse({"items": [pod("prometheus-6b-zzzzz", "u1", restarts=2),
                           pod("chaoslab-bootstrap-q7x2k", "u2", hashed=False)]}, summary)
    prom = got["chaoslab/prometheus-6b-zzzzz"]
    assert (prom.rss_bytes, prom.working_set_bytes, prom.volumes) == (10, 20, {"data": 30})
    assert prom.restart_count == 2 and prom.component == "chaoslab/prometheus"
    assert got["chaoslab/chaoslab-bootstrap-q7x2k"].rss_bytes == 0  # finished: no stats


START = figures(pod(OP_A, "op-a"), pod(LAMBDA, "l1"))


@pytest.mark.parametrize(("end", "replaced", "restarted", "problems"), [
    # Nothing happened: nothing to say.
    (figures(pod(OP_A, "op-a"), pod(LAMBDA, "l1")), (), {}, []),
    # A restart nobody caused.
    (figures(pod(OP_A, "op-a"), pod(LAMBDA, "l1", restarts=1)), (), {},
     ["chaoslab/lambda-us-east-1: 1 container restart(s) seen by the kubelet, 0 caused on "
      "purpose"]),
    # A pod replaced by itself (an eviction, a failed liveness probe's recreation).
    (figures(pod(OP_A, "op-a"), pod(LAMBDA[:-5] + "yyyyy", "l2")), (), {},
     ["chaoslab/lambda-us-east-1: pods replaced by themselves (gone: "
      f"{LAMBDA}; new: {LAMBDA[:-5]}yyyyy)"]),
    # The operator deleted on purpose, its successor's container killed on purpose once;
    # the old pod still terminating is not counted.
    (figures(pod(OP_A, "op-a", restarts=3, deleting=True), pod(OP_B, "op-b", restarts=1),
             pod(LAMBDA, "l1")),
     {"chaoslab/chaoslab-operator"}, {"chaoslab/chaoslab-operator": 1}, []),
    # A kill the kubelet never answered with a restart: the soak did not do what it says.
    (figures(pod(OP_B, "op-b"), pod(LAMBDA, "l1")),
     {"chaoslab/chaoslab-operator"}, {"chaoslab/chaoslab-operator": 1},
     ["chaoslab/chaoslab-operator: 0 container restart(s) seen by the kubelet, 1 caused on "
      "purpose"]),
    # A pod of a new component (not deleted-and-replaced on purpose).
    (figures(pod(OP_A, "op-a"), pod(LAMBDA, "l1"), pod("stray", "s", hashed=False)), (), {},
     ["chaoslab/stray: pods replaced by themselves (gone: -; new: stray)"]),
])
def test_restart_problems(end: dict[str, PodFigures], replaced: set[str],
                          restarted: dict[str, int], problems: list[str]) -> None:
    assert restart_problems(START, end, replaced, restarted) == problems
