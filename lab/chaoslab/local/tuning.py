"""Lab tunings: named sets of overrides on the stock lab (`chaoslab up --local --tuning`).

A retry storm only outlives its trigger when the retried work exceeds a tier's capacity
and the customers keep calling like SDKs do (short deadlines, a few retries). The stock
lab is sized for a healthy demo, with IAM an order of magnitude above its demand, so the
same fault heals within seconds there. A tuning passes each service a `--config`
document (capacity), Locust a `--chaoslab-config` document (customer behaviour) and, for
a profile given as a file, `--policy FILE` instead of `--profile NAME`, through the
matching `LabOptions` fields; its name goes to the operator (`--lab-tuning`), which
refuses a scenario asking for another (`chaoslab.io/tuning`, chaoslab_operator.labsettings).
`chaoslab experiment` runs on `storm` by default; `chaoslab up`/`demo` on `stock`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

# chaoslab.local.runtime.LabOptions, which imports this module: a type variable, not an import.
Options = TypeVar("Options")

# Why these numbers (the README's experiments section has the measurements):
# - IAM: 2 workers x 40 ms per Authorize is ~45 Authorize/s, about twice what 20
#   customers need (~20/s), so a healthy lab runs IAM at ~45 % whatever the CPU does
#   (the modelled service time dominates the few ms of Python per request). Its queue of
#   256 is ~6 s of work: far beyond the naive 500 ms timeout, short enough to drain in
#   seconds once the load allows.
# - Customers: a 1 s deadline and 3 attempts, as an SDK in "standard" retry mode with a
#   tight timeout. A customer that gives up at 1 s calls again while the Lambda handler it
#   abandoned keeps retrying IAM: that abandoned work is what sustains the storm.
STORM_SERVICES: dict[str, dict[str, Any]] = {
    "iam": {"capacity": {
        "max_concurrency": 2,
        "queue_limit": 256,
        # GetSessionToken is STS's own process now (services/README.md): not IAM's to slow.
        "service_time": {"default": "40ms", "Authenticate": "60ms"},
    }},
}
STORM_LOAD: dict[str, Any] = {"timeout": 1.0, "attempts": 3}


@dataclass(frozen=True)
class LabTuning:
    """Overrides applied to a lab; empty means the stock lab."""

    services: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # service -> doc
    load: Mapping[str, Any] = field(default_factory=dict)  # Locust --chaoslab-config doc
    policy: Path | None = None  # a resilience policy file replacing the named profile
    name: str = "custom"  # what the operator is told (stock | storm | custom)

    @classmethod
    def default(cls) -> LabTuning:
        """The experiments' lab: `storm`."""
        return TUNINGS["storm"]

    @classmethod
    def stock(cls) -> LabTuning:
        return TUNINGS["stock"]

    @classmethod
    def named(cls, name: str) -> LabTuning:
        """A tuning by name; ValueError listing the names otherwise."""
        try:
            return TUNINGS[name]
        except KeyError:
            raise ValueError(f"unknown tuning {name!r}: use one of "
                             f"{', '.join(TUNINGS)}") from None

    def with_policy(self, policy: Path | None) -> LabTuning:
        return replace(self, policy=policy)

    def to_json(self) -> dict[str, Any]:
        return {"services": {k: dict(v) for k, v in self.services.items()},
                "load": dict(self.load),
                "policy": str(self.policy) if self.policy else None}

    def write(self, folder: Path) -> dict[str, Path]:
        """The override files, by the component that reads them ("load", service names)."""
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for service, doc in self.services.items():
            files[service] = folder / f"service-{service}.yaml"
            files[service].write_text(yaml.safe_dump(dict(doc), sort_keys=False))
        if self.load:
            files["load"] = folder / "load.yaml"
            files["load"].write_text(yaml.safe_dump(dict(self.load), sort_keys=False))
        return files

    def apply(self, options: Options, folder: Path) -> Options:
        """`options` with this tuning's override files (written to `folder`) and name."""
        files = self.write(folder)
        return replace(options, policy=self.policy or options.policy,  # type: ignore[attr-defined]
                       tuning=self.name,
                       service_configs={k: v for k, v in files.items() if k != "load"},
                       load_config=files.get("load"))


TUNINGS: dict[str, LabTuning] = {
    "stock": LabTuning(name="stock"),
    "storm": LabTuning(STORM_SERVICES, STORM_LOAD, name="storm"),
}
