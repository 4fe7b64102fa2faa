"""Small pure pieces: Prometheus answers, settings parsing, time formatting, the command line."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chaoslab.procs import free_port
from chaoslab_operator.command import register
from chaoslab_operator.config import parse_configmap_ref, parse_listen
from chaoslab_operator.prom import Prometheus, parse_result
from chaoslab_operator.timeutil import human_seconds, parse_time, rfc3339


@pytest.mark.parametrize(("payload", "value", "error"), [
    ({"status": "success", "data": {"resultType": "scalar", "result": [1, "0.75"]}}, 0.75, None),
    ({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"a": "1"}, "value": [1, "0.2"]},
        {"metric": {"a": "2"}, "value": [1, "3"]}]}}, 3.0, None),
    ({"status": "success", "data": {"resultType": "vector", "result": []}}, None, None),
    ({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [1, "NaN"]}]}}, None, None),
    ({"status": "success", "data": {"resultType": "matrix", "result": []}}, None, "matrix"),
    ({"status": "error", "error": "parse error at char 3"}, None, "parse error"),
    ("garbage", None, "unexpected"),
])
def test_prometheus_answers(payload: object, value: float | None, error: str | None) -> None:
    reading = parse_result(payload)
    assert reading.value == value
    assert (reading.error is None) if error is None else (error in (reading.error or ""))


def test_prometheus_unreachable_is_a_reading_not_an_exception() -> None:
    reading = Prometheus(f"http://127.0.0.1:{free_port()}", timeout=1).query("up")
    assert reading.value is None and "unreachable" in (reading.error or "")


def test_settings_parsers() -> None:
    assert parse_configmap_ref("kube-system/coredns") == ("kube-system", "coredns")
    assert parse_configmap_ref("coredns") == ("kube-system", "coredns")
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen(":9000") == ("0.0.0.0", 9000)
    for bad in ("a/b/c", "/x", "ns/"):
        with pytest.raises(ValueError):
            parse_configmap_ref(bad)
    for bad in ("8080", "host:", "h:99999"):
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_times() -> None:
    assert rfc3339(0.5) == "1970-01-01T00:00:00.500Z"
    assert parse_time("1970-01-01T00:00:00.500Z") == 0.5
    assert parse_time("2025-10-20T07:08:00Z") == 1_760_944_080.0
    assert parse_time("yesterday") is None and parse_time(None) is None
    assert human_seconds(3723.5) == "1h2m3.5s" and human_seconds(0.8) == "800ms"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chaoslab")
    register(parser.add_subparsers())
    return parser


def test_operator_run_help_explains_every_option() -> None:
    # The exact invocation the lead uses to try it.
    code = ("import argparse,sys; from chaoslab_operator.command import register; "
            "p=argparse.ArgumentParser(); s=p.add_subparsers(); register(s); "
            "a=p.parse_args(sys.argv[1:]); sys.exit(a.func(a))")
    out = subprocess.run([sys.executable, "-c", code, "operator", "run", "--help"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    for option in ("--kubeconfig", "--coredns-configmap", "--prometheus", "--http", "--resync",
                   "--stop-check", "--api-timeout", "--crd-wait", "Pending -> Scheduled"):
        assert option in " ".join(out.stdout.split())


def test_bad_arguments_are_refused() -> None:
    parser = _parser()
    for argv in (["operator", "run", "--coredns-configmap", "a/b/c"],
                 ["operator", "run", "--http", "nowhere"],
                 ["operator", "run", "--resync", "0"],
                 ["abort"],
                 ["abort", "--all", "name"]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
    args = parser.parse_args(["operator", "run", "--coredns-configmap", "dns/cm",
                              "--http", "127.0.0.1:0", "--resync", "7"])
    assert args.coredns_configmap == ("dns", "cm") and args.http == ("127.0.0.1", 0)


def test_unreachable_api_server_fails_clearly(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": f"https://127.0.0.1:{free_port()}",
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "x", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
    }))
    out = subprocess.run(
        [sys.executable, "-m", "chaoslab_operator", "operator", "run", "--kubeconfig",
         str(kubeconfig), "--crd-wait", "1", "--api-timeout", "1", "--http", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2
    assert "API server not answering" in out.stderr and "outagescenarios.yaml" in out.stderr
