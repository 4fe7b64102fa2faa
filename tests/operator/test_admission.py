"""Admission that names the mistake: a valid spec that would do nothing, or the wrong thing,
on this lab is Failed before anything is injected, and the message says why and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from oplab import BASE_ANSWER, OpLab, scenario_yaml

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import fault_zones, zone_covers
from chaoslab_dns.validate import parse_spec
from chaoslab_operator.admission import admit

ROOT = Path(__file__).resolve().parents[2]
LOCAL = local_corefile(5353, 9153, {"dynamodb.us-east-1.aws.internal": "127.0.0.1"})
KIND_LAB = (ROOT / "charts/chaoslab/files/coredns/Corefile.kind-lab").read_text()


def spec(*faults: dict[str, str]):
    return parse_spec({"faults": list(faults), "duration": "1m"}, "default", "x")


def test_fault_zones_are_the_blocks_with_markers() -> None:
    assert fault_zones(LOCAL) == ["aws.internal", "lab.test"]
    assert fault_zones(KIND_LAB) == ["", "aws.internal"]  # "" = the root: every name


@pytest.mark.parametrize(("zone", "target", "covered"), [
    ("aws.internal", "dynamodb.us-east-1.aws.internal", True),
    ("aws.internal", "aws.internal", True),
    ("aws.internal", "*.aws.internal", True),
    ("aws.internal", "*.internal", True),  # reaches the names of aws.internal
    ("aws.internal", "xaws.internal", False),
    ("aws.internal", "www.google.com", False),
    ("", "www.google.com", True),
])
def test_zone_covers(zone: str, target: str, covered: bool) -> None:
    assert zone_covers(zone, target) is covered


def test_admit_names_the_zones_and_the_networks() -> None:
    off_zone = admit(LOCAL, spec({"target": "www.google.com", "mode": "nxdomain"}))
    assert off_zone is not None and off_zone.reason == "TargetNotServed"
    assert "'www.google.com'" in off_zone.message
    assert "(aws.internal, lab.test)" in off_zone.message
    assert admit(KIND_LAB, spec({"target": "www.google.com", "mode": "nxdomain"})) is None
    away = admit(LOCAL, spec({"target": "iam.aws.internal", "mode": "redirect",
                              "redirectTo": "8.8.8.8"}))
    assert away is not None and away.reason == "RedirectNotAllowed"
    assert "'8.8.8.8'" in away.message and "(127.0.0.0/8)" in away.message
    assert "--allowed-networks" in away.message
    assert admit(LOCAL, spec({"target": "iam.aws.internal", "mode": "redirect",
                              "redirectTo": "8.8.8.8"}), ("8.8.8.0/24",)) is None
    assert admit(LOCAL, spec({"target": "iam.aws.internal", "mode": "redirect",
                              "redirectTo": "127.0.0.9"})) is None


@pytest.mark.parametrize(("name", "fault", "reason", "says"), [
    ("off-zone", {"target": "www.google.com", "mode": "nxdomain"}, "TargetNotServed",
     "is in no zone this lab's DNS injects faults for (aws.internal, lab.test)"),
    ("off-net", {"target": "iam.aws.internal", "mode": "redirect", "redirectTo": "8.8.8.8"},
     "RedirectNotAllowed", "outside the lab's allowed networks (127.0.0.0/8)"),
])
def test_refused_before_injection_naming_the_mistake(
    lab: OpLab, name: str, fault: dict[str, str], reason: str, says: str
) -> None:
    version = lab.configmap_version()
    assert lab.apply(scenario_yaml(name, [fault])).returncode == 0
    status = lab.wait_phase(name, "Failed", timeout=15)
    assert status["reason"] == reason
    assert says in status["message"] and "nothing injected" in status["message"]
    assert not status.get("injectedAt")
    assert lab.configmap_version() == version and lab.configmap() == lab.base
    assert lab.resolve("iam.aws.internal") == BASE_ANSWER
    lab.delete(name)


def test_an_upper_case_target_is_lower_cased(lab: OpLab) -> None:
    """DNS names are case-insensitive: the CRD accepts the capitals, the Corefile has none."""
    fault = {"target": "IAM.aws.internal", "mode": "nxdomain"}
    assert lab.apply(scenario_yaml("capitals", [fault], duration="1m")).returncode == 0
    lab.wait_dns("iam.aws.internal", "NXDOMAIN")
    assert lab.phase("capitals") == "Active"
    assert "fault iam.aws.internal nxdomain until " in lab.configmap()
    assert "IAM" not in lab.configmap()
    lab.delete("capitals")
    assert lab.configmap() == lab.base
