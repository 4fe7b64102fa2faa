"""The kind Corefiles load in the real CoreDNS, and the lab block maps names as intended.

The kubernetes plugin needs an API server. Pointed at a closed local port it waits 5 s per
instance, then starts "with unsynced Kubernetes API", so the files are tested as written
with only their addresses localised (ports, upstream, API endpoint, bind 127.0.0.1).
What the kubernetes plugin would answer is then tested with ``hosts`` standing in for it
in the aws.internal block alone.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dns.rcode
import pytest

from chaoslab_dns.corefile import compile_corefile
from chaoslab_dns.validate import parse_spec

FILES = Path(__file__).resolve().parents[2] / "charts" / "chaoslab" / "files" / "coredns"
KIND_DEFAULT = (FILES / "Corefile.kind-default").read_text()
KIND_LAB = (FILES / "Corefile.kind-lab").read_text()
SCENARIO = parse_spec(
    {
        "faults": [
            {"target": "dynamodb.us-east-1.aws.internal", "mode": "nodata"},
            {"target": "kubernetes.default.svc.cluster.local", "mode": "refused"},
        ],
        "duration": "1m",
    },
    "default",
    "kind",
)
# Built at import, used by tests that may run much later: an end an hour after import.
SCENARIO = dataclasses.replace(SCENARIO, until=time.time() + 3600)
SERVICES = {  # what the chart's Services would resolve to
    "dynamodb-us-east-1": "10.96.0.11",
    "dynamodb-us-west-2": "10.96.0.12",
    "sqs-us-east-1": "10.96.0.13",
    "iam-us-east-1": "10.96.0.14",
    "sts-us-east-1": "10.96.0.15",
}


@pytest.fixture(scope="module")
def localise(pick_port: Callable[[], int]) -> Callable[[str, int, int], str]:
    return lambda text, port, metrics_port: _localise(text, port, metrics_port, pick_port)


def _localise(text: str, port: int, metrics_port: int, free_port: Callable[[], int]) -> str:
    """Only addresses change: nothing may listen beyond 127.0.0.1 or send traffic off it."""
    closed = free_port()  # nothing listens there: the API server and upstream are unreachable
    text = re.sub(r"^(\S+):53 \{$", rf"\1:{port} {{\n    bind 127.0.0.1", text, flags=re.M)
    text = text.replace("prometheus :9153", f"prometheus 127.0.0.1:{metrics_port}")
    text = text.replace("    health {", f"    health 127.0.0.1:{free_port()} {{")
    text = re.sub(r"^    ready$", f"    ready 127.0.0.1:{free_port()}", text, flags=re.M)
    text = text.replace("forward . /etc/resolv.conf", f"forward . 127.0.0.1:{closed}")
    return re.sub(
        r"^(    kubernetes .*) \{$",
        rf"\1 {{\n       endpoint http://127.0.0.1:{closed}",
        text,
        flags=re.M,
    )


def test_files_have_markers_where_expected() -> None:
    assert "chaoslab" not in KIND_DEFAULT
    assert compile_corefile(KIND_LAB, []) == KIND_LAB
    assert KIND_LAB.count("# BEGIN chaoslab faults") == 2
    assert KIND_LAB.count("    reload 2s 0s\n") == 2
    # Everything of kind's default survives in the lab's .:53 block except the reload interval.
    lab_root = KIND_LAB.split("\n}\n", 1)[0] + "\n}\n"
    stripped = re.sub(r"\n    # (BEGIN|END) chaoslab faults.*", "", lab_root)
    assert stripped.replace("reload 2s 0s", "reload") == KIND_DEFAULT


def test_kind_corefiles_load_in_real_coredns(launch, localise) -> None:
    texts = {
        "kind-default": KIND_DEFAULT,
        "kind-lab": KIND_LAB,
        "kind-lab with faults": compile_corefile(KIND_LAB, [SCENARIO]),
    }
    with ThreadPoolExecutor(len(texts)) as pool:
        jobs = {
            key: pool.submit(launch, lambda p, m, t=text: localise(t, p, m), 30.0)
            for key, text in texts.items()
        }
        servers = {key: job.result() for key, job in jobs.items()}
    try:
        faulted = servers["kind-lab with faults"]
        r = faulted.query("dynamodb.us-east-1.aws.internal", timeout=3)
        assert (r.rcode(), r.answer) == (dns.rcode.NOERROR, [])  # the fault, before rewrite
        assert (
            faulted.query("kubernetes.default.svc.cluster.local", timeout=3).rcode()
            == dns.rcode.REFUSED
        )
        for key in ("kind-lab", "kind-lab with faults"):
            assert servers[key].query("nope.aws.internal", timeout=3).rcode() == dns.rcode.NXDOMAIN
    finally:
        for server in servers.values():  # signal all first: each lame-ducks for 5 s
            server.proc.popen.terminate()
        for server in servers.values():
            server.stop()


def aws_block_with_hosts(
    localise: Callable[[str, int, int], str], port: int, metrics_port: int
) -> str:
    block = KIND_LAB[KIND_LAB.index("aws.internal:53 {") :]
    hosts = "\n".join(
        f"        {ip} {svc}.chaoslab.svc.cluster.local" for svc, ip in SERVICES.items()
    )
    block = re.sub(
        r"    kubernetes cluster.local \{\n.*?\n    \}",
        f"    hosts /dev/null cluster.local {{\n{hosts}\n        ttl 5\n    }}",
        block,
        flags=re.S,
    )
    return localise(block, port, metrics_port)


@pytest.mark.parametrize("faults", [False, True])
def test_aws_internal_block_maps_names(launch, localise, faults: bool) -> None:
    def make(port: int, metrics_port: int) -> str:
        text = aws_block_with_hosts(localise, port, metrics_port)
        return compile_corefile(text, [SCENARIO]) if faults else text

    server = launch(make)
    try:
        want = {
            "dynamodb.us-east-1.aws.internal": [] if faults else ["10.96.0.11"],
            "dynamodb.us-west-2.aws.internal": ["10.96.0.12"],
            "sqs.us-east-1.aws.internal": ["10.96.0.13"],
            "iam.aws.internal": ["10.96.0.14"],
            "sts.aws.internal": ["10.96.0.15"],
        }
        for name, ips in want.items():
            r = server.query(name)
            assert r.rcode() == dns.rcode.NOERROR, name
            assert [rd.to_text() for rs in r.answer for rd in rs] == ips, name
            assert all(rs.name.to_text() == name + "." for rs in r.answer)  # answer auto
        for name in (
            "nope.aws.internal",
            "a.b.us-east-1.aws.internal",
            "dynamodb.eu-west-1.aws.internal",
        ):
            assert server.query(name).rcode() == dns.rcode.NXDOMAIN, name
    finally:
        server.stop()
