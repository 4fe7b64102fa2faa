"""Scenario manifests as an experiment uses them: read, annotated, shortened, written.

A scenario file is validated by the DNS engine's own parser (`chaoslab_dns`), so an
experiment refuses exactly what the operator would. The annotations say how to rehearse
it: `chaoslab.io/hypothesis` (what should happen), `chaoslab.io/profile` (the client policy
it is about) and `chaoslab.io/customer-region` (where the customers live). Tests and
`--fault-duration` apply a modified copy, never the file itself.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chaoslab_dns import manifests
from chaoslab_dns.durations import format_duration, parse_duration
from chaoslab_dns.model import Scenario
from chaoslab_dns.validate import parse_scenario

HYPOTHESIS = "chaoslab.io/hypothesis"
PROFILE = "chaoslab.io/profile"
CUSTOMER_REGION = "chaoslab.io/customer-region"


@dataclass(frozen=True)
class ScenarioFile:
    """One OutageScenario manifest and what its annotations ask for."""

    path: Path | None
    manifest: dict[str, Any]
    spec: Scenario  # validated by chaoslab_dns

    @classmethod
    def load(cls, path: Path) -> ScenarioFile:
        """The file's one OutageScenario, read as `chaoslab corefile` reads it."""
        found = manifests.one(Path(path).read_text(), str(path))
        return cls._of(found.doc, found.spec, Path(path))

    @classmethod
    def from_manifest(cls, doc: Any, path: Path | None = None) -> ScenarioFile:
        return cls._of(doc, parse_scenario(doc), path)  # ScenarioError names the bad field

    @classmethod
    def _of(cls, doc: Any, spec: Scenario, path: Path | None) -> ScenarioFile:
        manifest = copy.deepcopy(doc)
        manifest.setdefault("metadata", {}).setdefault("namespace", spec.namespace)
        return cls(path, manifest, spec)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def namespace(self) -> str:
        return self.spec.namespace

    @property
    def key(self) -> tuple[str, str]:
        return self.spec.namespace, self.spec.name

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.manifest.get("metadata", {}).get("annotations") or {})

    @property
    def hypothesis(self) -> str:
        return " ".join(self.annotations.get(HYPOTHESIS, "").split())

    @property
    def profile_hint(self) -> str | None:
        return self.annotations.get(PROFILE) or None

    @property
    def customer_region(self) -> str | None:
        return self.annotations.get(CUSTOMER_REGION) or None

    @property
    def duration(self) -> float:
        return self.spec.duration

    def modified(self, *, duration: float | None = None, name: str | None = None,
                 start_after: float | None = None) -> ScenarioFile:
        """A copy with another fault duration, name or start delay (validated again).

        A phased scenario keeps its shape: every phase and gap is scaled by the same factor
        (to the millisecond), so the whole lasts ``duration``.
        """
        doc = copy.deepcopy(self.manifest)
        if duration is not None and self.spec.phases:
            factor = duration / self.spec.duration
            previous_end = 0.0
            for raw, phase in zip(doc["spec"]["phases"], self.spec.phases, strict=True):
                raw["startAfter"] = format_duration(
                    round((phase.start - previous_end) * factor, 3))
                raw["duration"] = format_duration(round(phase.duration * factor, 3))
                previous_end = phase.end
        elif duration is not None:
            doc["spec"]["duration"] = format_duration(duration)
        if start_after is not None:
            doc["spec"]["startAfter"] = format_duration(start_after)
        if name is not None:
            doc["metadata"]["name"] = name
        return ScenarioFile.from_manifest(doc, self.path)

    def write(self, folder: Path) -> Path:
        """The manifest as applied, kept beside the results."""
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"{self.name}.yaml"
        out.write_text(yaml.safe_dump(self.manifest, sort_keys=False))
        return out


def parse_seconds(text: str) -> float:
    """`90`, `90s`, `1m30s` -> seconds (a bare number is seconds, as on every CLI flag)."""
    try:
        return float(text)
    except ValueError:
        return parse_duration(text)
