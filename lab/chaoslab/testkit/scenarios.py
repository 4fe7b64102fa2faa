"""OutageScenario manifests for the tests: one factory instead of the same dict written out
in each test file.

`outage(...)` gives the manifest as a test would write it in YAML (a dict; `outage_yaml` the
text): the spec's keys are the CRD's own (`startAfter`, `stopConditions`, `hypotheses`,
…) and go in as given, so a test states only what it is about and can still hand in a
wrong value on purpose.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

API_VERSION = "chaoslab.io/v1alpha1"
KIND = "OutageScenario"
NODATA = {"target": "dynamodb.us-east-1.aws.internal", "mode": "nodata"}


def outage(name: Any = "s", *, namespace: Any = "default",
           faults: Sequence[Mapping[str, Any]] = (NODATA,), duration: Any = "1m",
           meta: Mapping[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    """`{apiVersion, kind, metadata, spec}`; `meta` adds metadata (e.g. `generation`),
    `spec` any other spec field under its CRD name."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace, **copy.deepcopy(dict(meta or {}))},
        "spec": {"faults": [copy.deepcopy(dict(f)) for f in faults], "duration": duration,
                 **copy.deepcopy(spec)},
    }


def outage_yaml(name: Any = "s", **kwargs: Any) -> str:
    """`outage(...)` as the YAML a user would `kubectl apply`, in the order written."""
    return yaml.safe_dump(outage(name, **kwargs), sort_keys=False)
