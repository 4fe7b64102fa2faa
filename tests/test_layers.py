"""The layer rule of ARCHITECTURE.md ("Layers"), checked on every import in the tree.

Every `import`/`from ... import` is read with `ast` — at module level, inside functions
and under `TYPE_CHECKING` alike, since a lazy import is still a dependency. The same
reading keeps each component's modules free of import cycles (the report, for one, keeps
its data classes in `chaoslab_report.model` so that no two of its modules need each other).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence
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


# Packages whose modules must not import each other in a circle (lazily included).
ACYCLIC: Sequence[str] = tuple(COMPONENTS)


def module_graph(package: str, root: Path) -> dict[str, set[str]]:
    """Module -> the modules of `package` it imports. `from pkg import mod` names the module
    `pkg.mod`, `from pkg.mod import name` the module `pkg.mod`."""
    modules = {".".join((package, *p.relative_to(root).with_suffix("").parts))
               .removesuffix(".__init__") for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        me = ".".join((package, *path.relative_to(root).with_suffix("").parts))
        me = me.removesuffix(".__init__")
        deps = graph.setdefault(me, set())
        for _, name in imports(path):
            while name and name not in modules:  # `pkg.mod.Name` -> `pkg.mod`
                name = name.rpartition(".")[0]
            if name and name != me and name != package:
                deps.add(name)
    return graph


def cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle in `graph` as [a, b, ..., a], or None when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_inside_a_component() -> None:
    found = {pkg: c for pkg in ACYCLIC if (c := cycle(module_graph(pkg, COMPONENTS[pkg])))}
    assert not found, "import cycles: " + "; ".join(" -> ".join(c) for c in found.values())


def test_the_cycle_check_catches_a_lazy_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "chaoslab_report"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text("import math\n")
    (pkg / "build.py").write_text("from chaoslab_report.model import Report\n"
                                  "from chaoslab_report import summary\n")
    (pkg / "summary.py").write_text("from typing import TYPE_CHECKING\n"
                                    "from chaoslab_report.model import Report\n"
                                    "if TYPE_CHECKING:\n"
                                    "    from chaoslab_report.build import analyse\n")
    graph = module_graph("chaoslab_report", pkg)
    assert graph["chaoslab_report.build"] == {"chaoslab_report.model", "chaoslab_report.summary"}
    assert cycle(graph) == ["chaoslab_report.build", "chaoslab_report.summary",
                            "chaoslab_report.build"]
    (pkg / "summary.py").write_text("from chaoslab_report.model import Report\n")
    assert cycle(module_graph("chaoslab_report", pkg)) is None
