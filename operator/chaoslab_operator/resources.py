"""Names of the OutageScenario resource and of the operator's marks on it (contract)."""

from __future__ import annotations

from pathlib import Path

GROUP = "chaoslab.io"
VERSION = "v1alpha1"
PLURAL = "outagescenarios"
KIND = "OutageScenario"
CRD_NAME = f"{PLURAL}.{GROUP}"

# The finalizer kopf puts on every scenario; removed only once its faults are reverted.
FINALIZER = "chaoslab.io/revert-faults"
# Where kopf keeps its own bookkeeping (annotations, never status).
ANNOTATION_PREFIX = "operator.chaoslab.io"
# Who the operator says it is in Events and as the field manager of its writes.
COMPONENT = "chaoslab-operator"


def crd_path() -> Path:
    """The CRD manifest (single source: the chart's crds/ folder, shipped in the repo)."""
    return Path(__file__).resolve().parents[2] / "charts" / "chaoslab" / "crds" / f"{PLURAL}.yaml"
