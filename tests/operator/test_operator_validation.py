"""Validation at the operator too: with a lenient CRD installed (an old CRD, a schema edited
by hand), hostile scenarios reach the operator, which marks them Failed with the reason and
never writes them. An unusable ConfigMap holds injections back instead of failing them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml
from oplab import BASE_ANSWER, OpLab, wait_for

from chaoslab.controlplane import ControlPlane
from chaoslab.procs import log_tail
from chaoslab_operator.resources import CRD_NAME, crd_path

DYNAMO = "dynamodb.us-east-1.aws.internal"


def lenient_crd() -> str:
    crd = yaml.safe_load(crd_path().read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return json.dumps(crd)


@pytest.fixture(scope="module")
def lenient_lab(module_cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[OpLab]:
    lab = OpLab(module_cp, tmp_path_factory.mktemp("lenient"))
    module_cp.kubectl("apply", "-f", "-", input=lenient_crd())
    module_cp.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=30s")
    lab.create_configmap()
    lab.start_dns()
    lab.start_operator()
    yield lab
    lab.stop()
    print("--- operator log tail ---\n" + log_tail(lab.workdir / "operator.log", 40))


def raw(name: str, spec: object) -> str:
    return json.dumps({"apiVersion": "chaoslab.io/v1alpha1", "kind": "OutageScenario",
                       "metadata": {"name": name, "namespace": "default"}, "spec": spec})


HOSTILE = [
    ("brace", {"faults": [{"target": "x.aws.internal {\n    erratic", "mode": "nxdomain"}],
               "duration": "1m"}, "spec.faults[0].target"),
    ("closing", {"faults": [{"target": "}", "mode": "nxdomain"}], "duration": "1m"},
     "spec.faults[0].target"),
    ("mode", {"faults": [{"target": DYNAMO, "mode": "explode"}], "duration": "1m"},
     "spec.faults[0].mode"),
    ("long", {"faults": [{"target": DYNAMO, "mode": "nodata"}], "duration": "25h"},
     "spec.duration"),
    ("noduration", {"faults": [{"target": DYNAMO, "mode": "nodata"}]}, "spec.duration"),
    ("probability", {"faults": [{"target": DYNAMO, "mode": "nodata", "probability": 2}],
                     "duration": "1m"}, "spec.faults[0].probability"),
    ("redirect", {"faults": [{"target": DYNAMO, "mode": "redirect",
                              "redirectTo": "10.0.0.1 }"}], "duration": "1m"},
     "spec.faults[0].redirectTo"),
    ("hypnoquery", {"faults": [{"target": DYNAMO, "mode": "nodata"}], "duration": "1m",
                    "hypotheses": [{"name": "h", "during": {"min": 1}}]},
     "spec.hypotheses[0].query"),
    ("hypnobound", {"faults": [{"target": DYNAMO, "mode": "nodata"}], "duration": "1m",
                    "hypotheses": [{"name": "h", "query": "up", "after": {"within": "5s"}}]},
     "spec.hypotheses[0].after"),
    ("hypwindows", {"faults": [{"target": DYNAMO, "mode": "nodata"}], "duration": "1m",
                    "hypotheses": [{"name": "h", "query": "up"}]}, "spec.hypotheses[0]"),
    ("hypwithin", {"faults": [{"target": DYNAMO, "mode": "nodata"}], "duration": "1m",
                   "hypotheses": [{"name": "h", "query": "up",
                                   "after": {"min": 1, "within": "soon"}}]},
     "spec.hypotheses[0].after.within"),
    ("phasefaults", {"faults": [{"target": DYNAMO, "mode": "nodata"}],
                     "phases": [{"faults": [{"target": DYNAMO, "mode": "nodata"}],
                                 "duration": "1m"}]}, "spec.faults"),
    ("phaselong", {"phases": [{"faults": [{"target": DYNAMO, "mode": "nodata"}],
                               "duration": "13h"}] * 2}, "spec.phases"),
    ("phasebrace", {"phases": [{"faults": [{"target": "x.aws.internal }", "mode": "nodata"}],
                                "duration": "1m"}]}, "spec.phases[0].faults[0].target"),
    ("cron", {"faults": [{"target": DYNAMO, "mode": "nodata"}], "duration": "1m",
              "schedule": {"cron": "* 25 * * *"}}, "spec.schedule.cron"),
]


def test_hostile_specs_fail_and_are_never_written(lenient_lab: OpLab) -> None:
    lab = lenient_lab
    version = lab.configmap_version()
    for name, spec, _ in HOSTILE:
        result = lab.apply(raw(name, spec))
        assert result.returncode == 0, result.stderr  # the lenient CRD lets it in
    for name, _, field in HOSTILE:
        status = lab.wait_phase(name, "Failed", timeout=10)
        assert status["reason"] == "InvalidSpec" and status["message"].startswith(field), status
        accepted = next(c for c in status["conditions"] if c["type"] == "Accepted")
        assert accepted["status"] == "False" and field in accepted["message"]
    wait_for("Failed event", lambda: "Failed" in lab.events("brace"), 5)
    assert lab.configmap_version() == version and lab.configmap() == lab.base
    assert lab.resolve(DYNAMO) == BASE_ANSWER

    # A failed scenario does not block a valid one, and fixing the spec retries it.
    fixed = {"faults": [{"target": DYNAMO, "mode": "nodata"}], "duration": "1m"}
    assert lab.apply(raw("long", fixed)).returncode == 0
    lab.wait_phase("long", "Active", timeout=10)
    lab.wait_dns(DYNAMO, "NODATA")
    for name, _, _ in HOSTILE:
        lab.delete(name)
    assert lab.configmap() == lab.base


def test_unusable_configmap_holds_injection_back(lenient_lab: OpLab) -> None:
    lab = lenient_lab
    no_markers = "\n".join(line for line in lab.base.split("\n") if "chaoslab faults" not in line)
    lab.cp.kubectl("patch", "configmap", "coredns", "-n", "kube-system", "--type=merge",
                   "-p", json.dumps({"data": {"Corefile": no_markers}}))
    spec = {"faults": [{"target": DYNAMO, "mode": "refused"}], "duration": "1m"}
    assert lab.apply(raw("held", spec)).returncode == 0
    status = lab.wait_phase("held", "Pending", timeout=10)
    wait_for("reason", lambda: lab.status("held").get("reason") == "ConfigMapUnavailable", 10)
    status = lab.status("held")
    assert "no chaoslab markers" in status["message"] and not status.get("injectedAt")
    assert lab.configmap() == no_markers  # the user's Corefile is left alone
    code, body = lab.http_get("/readyz")
    assert code == 503 and "markers" in body
    # The markers come back: the scenario starts then, with its full duration.
    lab.cp.kubectl("patch", "configmap", "coredns", "-n", "kube-system", "--type=merge",
                   "-p", json.dumps({"data": {"Corefile": lab.base}}))
    lab.wait_phase("held", "Active", timeout=15)
    lab.wait_dns(DYNAMO, "REFUSED")
    lab.delete("held")
    assert lab.configmap() == lab.base


def test_missing_configmap_does_not_block_deletion(lenient_lab: OpLab) -> None:
    lab = lenient_lab
    spec = {"faults": [{"target": DYNAMO, "mode": "servfail"}], "duration": "1m"}
    assert lab.apply(raw("orphan", spec)).returncode == 0
    lab.wait_dns(DYNAMO, "SERVFAIL")
    lab.cp.kubectl("delete", "configmap", "coredns", "-n", "kube-system")
    lab.delete("orphan")  # nothing left to revert: the finalizer is released
    assert lab.get("orphan") is None
    lab.create_configmap()
    assert lab.configmap() == lab.base
    lab.wait_dns(DYNAMO, BASE_ANSWER)
