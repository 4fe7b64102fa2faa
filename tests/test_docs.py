"""The repository's Markdown stands alone: every relative link resolves, inside the repo.

A newcomer reads the docs from a checkout, so a link to a moved file, a renamed heading or a
page outside the repository (the design card in `../shared`) is a dead end. Links are
taken from Markdown outside code (inline `[text](target)`, images, reference definitions,
HTML `href`/`src`); a `#anchor` into a Markdown file must name one of its headings under
GitHub's slug rules (lower case, punctuation dropped, spaces to hyphens, `-1`, `-2` for
repeats) or an explicit `id`/`name`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

from chaoslab.toolpaths import REPO_ROOT

# Not the repository's docs: environments, tools, lab state, caches, generated reports.
SKIP_DIRS = frozenset({
    ".git", ".venv", ".tools", ".lab", "node_modules", "reports", "build",
    ".pytest_cache", ".hypothesis", ".ruff_cache", ".benchmarks", "__pycache__",
})

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_HTML_ATTR = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""")
_HTML_ID = re.compile(r"""<[a-zA-Z][^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']""")
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# A repository path named in code, e.g. `report/chaoslab_report/paths.py`: a top folder first.
_TOP_FOLDERS = ("benchmarks", "charts", "dns", "docs", "lab", "loadtest", "operator", "report",
                "scenarios", "services", "tests", "tools")
_NAMED_PATH = re.compile(rf"`((?:{'|'.join(_TOP_FOLDERS)})/[^`\s]*)`")


@dataclass(frozen=True)
class Link:
    source: Path
    line: int
    target: str


def markdown_files(root: Path) -> list[Path]:
    """Every Markdown file under root, outside SKIP_DIRS and *.egg-info."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        found.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(".md"))
    return found


def _prose_lines(text: str) -> Iterator[tuple[int, str, str]]:
    """(number, line, line with code spans blanked) for each line outside code fences."""
    fence = ""
    for number, line in enumerate(text.splitlines(), start=1):
        m = _FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip()[len(m.group(1)):].strip():
                fence = ""
            continue
        if m:
            fence = m.group(1)
            continue
        yield number, line, _CODE_SPAN.sub("code", line)


def links(path: Path) -> list[Link]:
    found: list[Link] = []
    for number, _, line in _prose_lines(path.read_text(encoding="utf-8")):
        targets = [m.group(1) for m in _INLINE_LINK.finditer(line)]
        targets += [m.group(1) for m in _REF_DEF.finditer(line)]
        targets += [m.group(1) for m in _HTML_ATTR.finditer(line)]
        found += [Link(path, number, t.strip("<>")) for t in targets]
    return found


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: rendered text, lower case, punctuation dropped."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links -> their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a Markdown file offers: heading slugs (with repeats numbered) and ids."""
    text = path.read_text(encoding="utf-8")
    seen: dict[str, int] = {}
    found: set[str] = set()

    def add(heading: str) -> None:
        slug = github_slug(heading)
        if slug in seen:
            seen[slug] += 1
            slug = f"{slug}-{seen[slug]}"
        else:
            seen[slug] = 0
        found.add(slug)

    previous = ""
    for _, line, prose in _prose_lines(text):
        found.update(_HTML_ID.findall(prose))
        atx = _ATX.match(line)
        if atx:
            add(atx.group(2))
            previous = ""
            continue
        if _SETEXT.match(line) and previous.strip() and "|" not in previous \
                and not previous.lstrip().startswith(("-", "*", "+", ">")):
            add(previous)
            previous = ""
            continue
        previous = line
    return found


def broken(link: Link, root: Path) -> str | None:
    """Why a relative link does not resolve, or None when it does (or is not relative)."""
    target = link.target
    if _SCHEME.match(target) or target.startswith("//"):
        return None  # absolute URL: not this test's business
    path_part, _, fragment = target.partition("#")
    path_part, fragment = unquote(path_part.split("?")[0]), unquote(fragment)
    dest = (link.source.parent / path_part if path_part else link.source).resolve()
    if not dest.is_relative_to(root.resolve()):
        return f"points outside the repository, to {dest}"
    if not dest.exists():
        return f"{path_part} does not exist"
    if fragment and dest.suffix == ".md" and fragment not in anchors(dest):
        return f"{dest.relative_to(root.resolve())} has no heading #{fragment}"
    return None


def check_tree(root: Path) -> tuple[int, list[str]]:
    """(links checked, one message per broken one) for every Markdown file under root."""
    problems: list[str] = []
    count = 0
    for md in markdown_files(root):
        for link in links(md):
            count += 1
            why = broken(link, root)
            if why:
                problems.append(f"{md.relative_to(root)}:{link.line}: ({link.target}): {why}")
    return count, problems


def test_every_relative_link_in_the_repository_resolves() -> None:
    files = markdown_files(REPO_ROOT)
    assert REPO_ROOT / "README.md" in files and REPO_ROOT / "ARCHITECTURE.md" in files
    count, problems = check_tree(REPO_ROOT)
    assert count > 20, f"only {count} links found: is the parser still finding them?"
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_no_doc_names_the_design_card_outside_the_repository() -> None:
    """The contracts live in docs/CONTRACTS.md; `../shared` is not in a checkout."""
    offenders = [f"{md.relative_to(REPO_ROOT)}:{n}" for md in markdown_files(REPO_ROOT)
                 for n, line in enumerate(md.read_text(encoding="utf-8").splitlines(), 1)
                 if "../shared" in line or "shared/DESIGN.md" in line]
    assert not offenders, f"docs outside the repository named at {offenders}"


def missing_named_paths(root: Path) -> list[str]:
    """Paths written in code spans (not links) that name no file: moved or renamed files.

    Resolved from the repository root or the doc's own folder; a glob must match something;
    a pytest node id counts by its file; placeholders such as `tests/<component>/` are skipped.
    """
    missing: list[str] = []
    for md in markdown_files(root):
        for number, line, _ in _prose_lines(md.read_text(encoding="utf-8")):
            for m in _NAMED_PATH.finditer(line):
                named = m.group(1).split("::")[0]
                if any(c in named for c in "<>${}"):
                    continue
                if not any(any(base.glob(named)) if "*" in named else (base / named).exists()
                           for base in (root, md.parent)):
                    missing.append(f"{md.relative_to(root)}:{number}: `{named}`")
    return missing


def test_every_repository_path_the_docs_name_exists() -> None:
    missing = missing_named_paths(REPO_ROOT)
    assert not missing, "named in the docs, not in the repository:\n" + "\n".join(missing)


@pytest.mark.parametrize(("heading", "slug"), [
    ("`.lab/state.json`", "labstatejson"),
    ("CoreDNS wiring", "coredns-wiring"),
    ("The `OutageScenario` custom resource", "the-outagescenario-custom-resource"),
    ("Reloading a changed Corefile (tested in tests/dns/test_dns_reload.py)",
     "reloading-a-changed-corefile-tested-in-testsdnstest_dns_reloadpy"),
    ("Stop & go: [the plugin](x.md)", "stop--go-the-plugin"),
    ("How overlapping faults compose", "how-overlapping-faults-compose"),
])
def test_github_slug_rules(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_checker_finds_each_kind_of_broken_link(tmp_path: Path) -> None:
    """The link test can fail: a missing file, a missing heading, a page outside the root."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "A.md").write_text(
        "# Title\n## Same\n## Same\nOther\n-----\n<a id=\"explicit\"></a>\n## `state.json`\n")
    (tmp_path / "README.md").write_text(
        "[ok](docs/A.md) [ok](docs/A.md#title) [ok](docs/A.md#same-1) [ok](docs/A.md#other)\n"
        "[ok](docs/A.md#explicit) [ok](docs/) [ok](https://example.com/nowhere.md)\n"
        "[ok](docs/A.md#statejson)\n"
        "[gone](docs/B.md)\n"
        "[no heading](docs/A.md#same-2)\n"
        "[outside](../shared/DESIGN.md)\n"
        "`[in code](nope.md)`\n"
        "```\n[in a fence](nope.md)\n```\n"
        "[ref]: missing.md\n"
        "[self](#nothing-here)\n")
    count, problems = check_tree(tmp_path)
    assert count == 13
    assert [p.split(": ", 1)[0] for p in problems] == [
        "README.md:4", "README.md:5", "README.md:6", "README.md:11", "README.md:12"], problems
    assert "docs/B.md does not exist" in problems[0]
    assert "no heading #same-2" in problems[1]
    assert "outside the repository" in problems[2]


def test_named_path_check_finds_a_moved_file(tmp_path: Path) -> None:
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "here.py").write_text("")
    (tmp_path / "README.md").write_text(
        "`lab/here.py` `lab/*.py` `lab/here.py::test_x` `tests/<component>/`\n"
        "`lab/chaoslab/experiment/paths.py` `lab/*.go`\n```\n`lab/gone.py`\n```\n")
    assert missing_named_paths(tmp_path) == [
        "README.md:2: `lab/chaoslab/experiment/paths.py`", "README.md:2: `lab/*.go`"]
