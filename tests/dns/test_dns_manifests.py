"""The one reader of scenario files (`chaoslab_dns.manifests`): what it accepts and how each
refusal names the file and the document."""

from __future__ import annotations

import pytest

from chaoslab_dns.manifests import ManifestError, from_yaml, one
from chaoslab_dns.validate import ScenarioError

GOOD = """apiVersion: chaoslab.io/v1alpha1
kind: OutageScenario
metadata: {name: NAME}
spec:
  faults: [{target: dynamodb.us-east-1.aws.internal, mode: nodata}]
  duration: 1m
"""


def doc(name: str) -> str:
    return GOOD.replace("NAME", name)


def test_every_document_is_read_and_validated() -> None:
    found = from_yaml(doc("a") + "---\n---\n" + doc("b"), "s.yaml")
    assert [m.spec.name for m in found] == ["a", "b"]
    assert found[0].doc["metadata"] == {"name": "a"}  # as written: no defaults filled in
    assert one(doc("a")).spec.duration == 60.0


@pytest.mark.parametrize(
    ("text", "source", "message"),
    [
        ("a: [", "s.yaml", "s.yaml: not valid YAML: "),
        ("a: [", "", "(document): not valid YAML: "),
        ("", "s.yaml", "s.yaml: holds no OutageScenario document"),
        ("- 1\n", "s.yaml", "s.yaml: manifest: must be a mapping"),
        (doc("a") + "---\n" + doc("a").replace("nodata", "explode"), "s.yaml",
         "s.yaml (document 2): spec.faults[0].mode: invalid mode 'explode'"),
        (doc("a") + "---\n" + doc("a").replace("nodata", "explode"), "",
         "(document 2): spec.faults[0].mode: invalid mode 'explode'"),
    ],
)
def test_refusals_name_the_file_and_document(text: str, source: str, message: str) -> None:
    with pytest.raises(ManifestError) as exc:
        from_yaml(text, source)
    assert str(exc.value).startswith(message)


def test_without_a_source_a_single_documents_error_is_the_validators_own() -> None:
    with pytest.raises(ScenarioError) as exc:
        from_yaml(doc("a").replace("1m", "forever"))
    assert not isinstance(exc.value, ManifestError)
    assert exc.value.field == "spec.duration"


def test_one_wants_exactly_one_document() -> None:
    with pytest.raises(ManifestError, match=r"^s.yaml: holds 2 OutageScenario documents"):
        one(doc("a") + "---\n" + doc("b"), "s.yaml")
