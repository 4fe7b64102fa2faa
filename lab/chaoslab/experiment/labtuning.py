"""The lab an experiment runs on: the local lab plus the overrides the comparison needs.

A retry storm only outlives its trigger when the retried work exceeds a tier's capacity
and the customers keep calling like SDKs do (short deadlines, a few retries). The stock
lab is sized for a healthy demo, so an experiment passes each service a `--config`
document (capacity), Locust a `--chaoslab-config` document (customer behaviour) and,
for a profile given as a file, `--policy FILE` instead of `--profile NAME`. `LabOptions`
has no fields for these yet, so `TunedLab` adds them to the argv the runtime spawns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chaoslab.local.runtime import LocalLab
from chaoslab.procs import Proc

# What the experiments measure against: the services' capacity and the customers' SDK
# behaviour under which `naive` clients turn a 30 s DNS fault into a metastable failure.
# Why these numbers (the README's experiments section has the measurements):
# - IAM: 2 workers x 40 ms per Authorize is ~45 Authorize/s, about twice what 20
#   customers need (~20/s), so a healthy lab runs IAM at ~45 % whatever the CPU does
#   (the modelled service time dominates the few ms of Python per request). Its queue of
#   256 is ~6 s of work: far beyond the naive 500 ms timeout, short enough to drain in
#   seconds once the load allows.
# - Customers: a 1 s deadline and 3 attempts, as an SDK in "standard" retry mode with a
#   tight timeout. A customer that gives up at 1 s calls again while the Lambda handler it
#   abandoned keeps retrying IAM: that abandoned work is what sustains the storm.
DEFAULT_SERVICES: dict[str, dict[str, Any]] = {
    "iam": {"capacity": {
        "max_concurrency": 2,
        "queue_limit": 256,
        "service_time": {"default": "40ms", "Authenticate": "60ms",
                         "GetSessionToken": "60ms"},
    }},
}
DEFAULT_LOAD: dict[str, Any] = {"timeout": 1.0, "attempts": 3}


@dataclass(frozen=True)
class LabTuning:
    """Overrides applied to every lab of an experiment; empty means the stock lab."""

    services: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # service -> doc
    load: Mapping[str, Any] = field(default_factory=dict)  # Locust --chaoslab-config doc
    policy: Path | None = None  # a resilience policy file replacing the named profile

    @classmethod
    def default(cls) -> LabTuning:
        return cls(DEFAULT_SERVICES, DEFAULT_LOAD)

    @classmethod
    def stock(cls) -> LabTuning:
        return cls()

    def with_policy(self, policy: Path | None) -> LabTuning:
        return LabTuning(self.services, self.load, policy)

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

    def argv_for(self, name: str, argv: list[Any], files: Mapping[str, Path]) -> list[Any]:
        """`argv` of the lab component `name` ("service-iam", "locust", ...) with overrides."""
        if name.startswith("service-"):
            service = name.removeprefix("service-").split(".", 1)[0]
            if self.policy is not None and "--profile" in argv:
                i = argv.index("--profile")
                argv = [*argv[:i], "--policy", str(self.policy), *argv[i + 2:]]
            if service in files:
                argv = [*argv, "--config", str(files[service])]
        elif name == "locust" and "load" in files:
            argv = [*argv, "--chaoslab-config", str(files["load"])]
        return argv


@dataclass
class TunedLab(LocalLab):
    """`LocalLab` whose services and customers get the tuning's overrides."""

    tuning: LabTuning = field(default_factory=LabTuning)
    _files: dict[str, Path] = field(default_factory=dict)

    def _spawn(self, name: str, argv: list, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> Proc:
        if not self._files:
            self._files = self.tuning.write(self.root / "tuning")
        return super()._spawn(name, self.tuning.argv_for(name, list(argv), self._files),
                              env=env, cwd=cwd)
