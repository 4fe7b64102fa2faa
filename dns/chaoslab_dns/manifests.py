"""OutageScenario files read one way: their YAML documents, each validated as the operator
validates it (`validate.parse_scenario`).

`chaoslab corefile`, `chaoslab demo` and `chaoslab experiment` all read scenario files
through here, so they accept and refuse the same files, with the same messages. Pure: the
caller reads the file and says what to call it (`source`) in messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from .model import Scenario
from .validate import ScenarioError, parse_scenario


class ManifestError(ScenarioError):
    """A file that holds no valid OutageScenario; `field` names the file (and document)."""


@dataclass(frozen=True)
class Manifest:
    doc: Any  # the document as written
    spec: Scenario  # what it means, validated


def from_yaml(text: str, source: str = "") -> list[Manifest]:
    """Every non-empty document of `text`, validated. Errors are prefixed with `source`
    (and "(document N)" when there are several); without a source a single document's
    ScenarioError is raised as it is."""
    where = source or "(document)"
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(where, f"not valid YAML: {exc}") from None
    if not docs:
        raise ManifestError(where, "holds no OutageScenario document")
    out = []
    for index, doc in enumerate(docs):
        try:
            out.append(Manifest(doc, parse_scenario(doc)))
        except ScenarioError as exc:
            if len(docs) == 1 and not source:
                raise
            at = source if len(docs) == 1 else f"{source} (document {index + 1})".lstrip()
            raise ManifestError(at, str(exc)) from None
    return out


def one(text: str, source: str = "") -> Manifest:
    """The one OutageScenario of a file that must hold exactly one (a demo, an experiment)."""
    found = from_yaml(text, source)
    if len(found) != 1:
        raise ManifestError(source or "(document)",
                            f"holds {len(found)} OutageScenario documents; give one")
    return found[0]
