"""The lab's settings as the API server sees them: where the customers live, the tuning.

A scenario that asks for lab settings (`chaoslab.io/customer-region`,
`chaoslab.io/tuning`) is checked at `kubectl apply` by a ValidatingAdmissionPolicy
(charts/chaoslab/files/lab-settings-policy.yaml, the same file the chart installs) against
the ConfigMap written here, and refused with a message saying how to start the right lab.
The alternative, the operator checking them, needs every operator to be told the lab's
settings; in the API server the refusal reaches the person who typed `kubectl apply`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chaoslab.toolpaths import REPO_ROOT

__all__ = ["CONFIGMAP", "CUSTOMER_REGION", "NAMESPACE", "POLICY_FILE", "TUNING", "binding",
           "install", "settings_configmap"]

POLICY_FILE = REPO_ROOT / "charts" / "chaoslab" / "files" / "lab-settings-policy.yaml"
POLICY = "chaoslab-lab-settings"
NAMESPACE, CONFIGMAP = "kube-system", "chaoslab-lab-settings"
CUSTOMER_REGION = "chaoslab.io/customer-region"  # the scenario annotations it checks
TUNING = "chaoslab.io/tuning"

Kubectl = Callable[..., Any]  # ControlPlane.kubectl


def settings_configmap(customer_regions: str, tuning: str) -> dict[str, Any]:
    """The policy's params: customerRegions "us-east-1[,us-west-2]", tuning stock|storm."""
    regions = ",".join(r.strip() for r in customer_regions.split(",") if r.strip())
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP, "namespace": NAMESPACE,
                         "labels": {"app.kubernetes.io/part-of": "dns-chaos-lab"}},
            "data": {"customerRegions": regions, "tuning": tuning}}


def binding() -> dict[str, Any]:
    return {"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": POLICY},
            "spec": {"policyName": POLICY, "validationActions": ["Deny"],
                     "paramRef": {"name": CONFIGMAP, "namespace": NAMESPACE,
                                  "parameterNotFoundAction": "Deny"}}}


def install(kubectl: Kubectl, customer_regions: str, tuning: str) -> None:
    """Apply the policy, its binding and the params (idempotent)."""
    kubectl("apply", "-f", str(POLICY_FILE))
    for doc in (settings_configmap(customer_regions, tuning), binding()):
        kubectl("apply", "-f", "-", input=json.dumps(doc))
