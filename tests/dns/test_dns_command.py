"""``chaoslab corefile``: what the operator would write, and errors a CI log can point at."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.command import register

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
        "--scenario", str(files["two"]), capsys=capsys,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert "fault dynamodb.us-east-1.aws.internal nodata scenario default/ddb\n" in out
    assert "fault dynamodb.us-east-1.aws.internal nodata scenario default/ddb2\n" in out
    assert "fault iam.aws.internal servfail probability 0.5 scenario gameday/iam\n" in out


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
