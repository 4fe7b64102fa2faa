"""``chaoslab corefile``: what the operator would write, and errors a CI log can point at."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.command import register
from chaoslab_operator.timeutil import parse_time

BASE = local_corefile(5353, 9153, {"dynamodb.us-east-1.aws.internal": "127.0.0.1"})
SCENARIO = """\
apiVersion: chaoslab.io/v1alpha1
kind: OutageScenario
metadata:
  name: ddb
spec:
  faults:
    - target: dynamodb.us-east-1.aws.internal
      mode: nodata
  duration: 2m
"""
SECOND = """\
---
apiVersion: chaoslab.io/v1alpha1
kind: OutageScenario
metadata: {name: iam, namespace: gameday}
spec:
  faults: [{target: iam.aws.internal, mode: servfail, probability: 0.5}]
  duration: 1m
"""


def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="chaoslab")
    register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "base": tmp_path / "Corefile",
        "one": tmp_path / "one.yaml",
        "two": tmp_path / "two.yaml",
    }
    paths["base"].write_text(BASE)
    paths["one"].write_text(SCENARIO)
    paths["two"].write_text(SCENARIO.replace("name: ddb", "name: ddb2") + SECOND)
    return paths


def test_base_only_prints_base(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run("corefile", "--base", str(files["base"]), capsys=capsys) == (0, BASE, "")


def test_scenarios_from_several_files_and_documents(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        "corefile", "--base", str(files["base"]), "--scenario", str(files["one"]),
        "--scenario", str(files["two"]), "--at", "2026-12-01T18:00:00Z", capsys=capsys,
    )  # fmt: skip
    assert (code, err) == (0, "")
    two_min = "until 2026-12-01T18:02:00Z"
    assert f"fault dynamodb.us-east-1.aws.internal nodata {two_min} scenario default/ddb\n" in out
    assert f"fault dynamodb.us-east-1.aws.internal nodata {two_min} scenario default/ddb2\n" in out
    assert (
        "fault iam.aws.internal servfail probability 0.5 until 2026-12-01T18:01:00Z "
        "scenario gameday/iam\n"
    ) in out


def test_ends_count_from_now_and_start_after(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --at the ends are now + startAfter + duration: what applying it now would do."""
    files["one"].write_text(SCENARIO.replace("duration: 2m", "duration: 2m\n  startAfter: 1h"))
    before = time.time()
    code, out, _ = run("corefile", "--base", str(files["base"]), "--scenario",
                       str(files["one"]), capsys=capsys)
    after = time.time()
    assert code == 0
    ends = {parse_time(m) for m in re.findall(r" until (\S+) scenario", out)}
    assert len(ends) == 1
    (end,) = ends
    assert end is not None and before + 3720 - 0.001 <= end <= after + 3720 + 0.001


def test_bad_at_is_a_usage_error(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for bad in ("tomorrow", "2026-12-01T18:00:00"):  # no zone: ambiguous, refused
        with pytest.raises(SystemExit) as exit_info:
            run("corefile", "--base", str(files["base"]), "--at", bad, capsys=capsys)
        assert exit_info.value.code == 2
        assert "want an RFC 3339 time with a zone" in capsys.readouterr().err


def test_invalid_scenario_exit_2(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files["one"].write_text(SCENARIO.replace("dynamodb.us-east-1", "dynamo db"))
    code, out, err = run(
        "corefile", "--base", str(files["base"]), "--scenario", str(files["one"]), capsys=capsys
    )
    assert (code, out) == (2, "")
    assert err.startswith(f"{files['one']}: spec.faults[0].target: invalid DNS name 'dynamo db")


def test_invalid_second_document_is_located(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files["two"].write_text(SCENARIO + SECOND.replace("servfail", "explode"))
    code, _, err = run(
        "corefile", "--base", str(files["base"]), "--scenario", str(files["two"]), capsys=capsys
    )
    assert code == 2
    assert err.startswith(
        f"{files['two']} (document 2): spec.faults[0].mode: invalid mode 'explode'"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a: [", "not valid YAML"),
        ("", "holds no OutageScenario"),
        ("- 1\n", "manifest: must be a mapping"),
    ],
)
def test_bad_scenario_files(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    files["one"].write_text(content)
    code, _, err = run(
        "corefile", "--base", str(files["base"]), "--scenario", str(files["one"]), capsys=capsys
    )
    assert code == 2 and err.startswith(f"{files['one']}: ") and message in err


def test_missing_file_and_markerless_base(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run("corefile", "--base", str(tmp_path / "nope"), capsys=capsys)
    assert code == 2 and "cannot read" in err
    files["base"].write_text(".:53 {\n    errors\n}\n")
    code, _, err = run("corefile", "--base", str(files["base"]), capsys=capsys)
    assert code == 2 and "no chaoslab markers" in err and "add these two lines" in err


def test_runs_as_a_process(files: dict[str, Path]) -> None:
    """The exact invocation the brief documents, before lab/chaoslab/cli.py exists."""
    code = (
        "import argparse,sys; from chaoslab_dns.command import register; "
        "p=argparse.ArgumentParser(); s=p.add_subparsers(); register(s); "
        "a=p.parse_args(sys.argv[1:]); sys.exit(a.func(a))"
    )
    argv = ["corefile", "--base", str(files["base"]), "--scenario", str(files["one"])]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "chaoslab {" in done.stdout
