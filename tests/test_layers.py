"""The layer rule of ARCHITECTURE.md ("Layers"), checked on every import in the tree.

Every `import`/`from ... import` is read with `ast` — at module level, inside functions
and under `TYPE_CHECKING` alike, since a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Which top-level packages each component's production code may import (besides itself,
# the standard library and third-party packages). The lab assembles everything.
COMPONENTS: Mapping[str, Path] = {
    "chaoslab_dns": REPO / "dns" / "chaoslab_dns",
    "chaoslab_services": REPO / "services" / "chaoslab_services",
    "chaoslab_operator": REPO / "operator" / "chaoslab_operator",
    "chaoslab_loadtest": REPO / "loadtest" / "chaoslab_loadtest",
    "chaoslab_report": REPO / "report" / "chaoslab_report",
    "chaoslab": REPO / "lab" / "chaoslab",
}
ALLOWED: Mapping[str, frozenset[str]] = {
    "chaoslab_dns": frozenset(),
    "chaoslab_services": frozenset({"chaoslab_dns"}),
    "chaoslab_operator": frozenset({"chaoslab_dns"}),
    "chaoslab_loadtest": frozenset({"chaoslab_services"}),
    "chaoslab_report": frozenset({"chaoslab_dns", "chaoslab_services"}),
    "chaoslab": frozenset(COMPONENTS),
}
TESTKIT = "chaoslab.testkit"


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in one file."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:  # `from chaoslab import testkit` names a module too
                yield node.lineno, f"{node.module}.{alias.name}"


def violations(component: str, root: Path) -> list[str]:
    """Every import in `root` that the rule forbids for `component`."""
    allowed = ALLOWED[component] | {component}
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        in_testkit = (root / "testkit") in path.parents
        seen = set()
        for line, module in imports(path):
            top = module.split(".")[0]
            if (line, top) in seen:  # `from x import a, b` is one dependency
                continue
            seen.add((line, top))
            where = f"{path.relative_to(root.parent)}:{line}"
            if top in COMPONENTS and top not in allowed:
                found.append(f"{where}: {component} may not import {module}")
            elif not in_testkit and (module == TESTKIT or module.startswith(TESTKIT + ".")):
                found.append(f"{where}: production code may not import the test kit ({module})")
    return found


def test_every_component_keeps_to_its_layer() -> None:
    found = [v for name, root in COMPONENTS.items() for v in violations(name, root)]
    assert not found, "imports that break ARCHITECTURE.md's layers:\n" + "\n".join(found)


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    pkg = tmp_path / "chaoslab_dns"
    pkg.mkdir()
    (pkg / "ok.py").write_text("import json\nfrom chaoslab_dns import model\n")
    (pkg / "bad.py").write_text("def f():\n    from chaoslab_operator.plan import plan\n")
    (pkg / "kit.py").write_text("from chaoslab import testkit\n")
    assert violations("chaoslab_dns", pkg) == [
        "chaoslab_dns/bad.py:2: chaoslab_dns may not import chaoslab_operator.plan.plan",
        "chaoslab_dns/kit.py:1: chaoslab_dns may not import chaoslab.testkit",
    ]


def test_only_the_test_kit_itself_may_import_it(tmp_path: Path) -> None:
    lab = tmp_path / "chaoslab"
    (lab / "testkit").mkdir(parents=True)
    (lab / "testkit" / "services.py").write_text("from chaoslab.testkit import prometheus\n")
    (lab / "runtime.py").write_text("from chaoslab.testkit.prometheus import Prometheus\n")
    assert violations("chaoslab", lab) == [
        "chaoslab/runtime.py:1: production code may not import the test kit "
        "(chaoslab.testkit.prometheus.Prometheus)",
    ]
