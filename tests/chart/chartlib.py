"""Helpers of the chart tests: the real helm, rendering, and kind-like control planes.

Docker and kind do not run here, so the chart is checked with the pinned helm (`make tools`)
and the real kube-apiserver of `chaoslab.controlplane`: lint, render, server-side dry-run,
real apply, RBAC answers. A missing helm fails the tests with the command that installs it.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaoslab import controlplane
from chaoslab.controlplane import ControlPlane
from chaoslab.toolpaths import ToolMissing, tool

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
CHART = CHARTS / "chaoslab"
MINIMAL = CHART / "values-minimal.yaml"
COREFILES = CHART / "files" / "coredns"
KIND_COREDNS = REPO / "lab" / "chaoslab" / "node" / "kube-dns.yaml"
NAMESPACE = "chaoslab"
RELEASE = "chaoslab"
# The Kubernetes release the lab pins (tools/install.sh); helm built from source does not
# know its own default, so every helm call names it.
KUBE_VERSION = "1.34.4"
# The lab namespace's Pod Security labels (charts/kind-up.sh sets the same).
PSA_LABELS = ("pod-security.kubernetes.io/enforce=restricted",
              "pod-security.kubernetes.io/warn=restricted")


def helm_path() -> Path:
    try:
        return tool("helm")
    except ToolMissing as exc:
        pytest.fail(f"{exc} (the chart tests need the pinned helm: run `make tools`)")


def helm(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(helm_path()), *args], capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@functools.lru_cache(maxsize=32)
def _template(
    values: tuple[str, ...], sets: tuple[str, ...], include_crds: bool, chart: str
) -> str:
    args = ["template", RELEASE, chart, "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]
    for f in values:
        args += ["--values", f]
    for s in sets:
        args += ["--set", s]
    if include_crds:
        args.append("--include-crds")
    return helm(*args).stdout


def render_text(
    values: Sequence[Path | str] = (),
    sets: Sequence[str] = (),
    include_crds: bool = False,
    chart: Path = CHART,
) -> str:
    """`helm template` output (cached: the same rendering is asked for by many tests)."""
    return _template(tuple(map(str, values)), tuple(sets), include_crds, str(chart))


def render(
    values: Sequence[Path | str] = (),
    sets: Sequence[str] = (),
    include_crds: bool = False,
    chart: Path = CHART,
) -> list[dict[str, Any]]:
    """The rendered objects, parsed."""
    text = render_text(values, sets, include_crds, chart)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(
    objs: list[dict[str, Any]], kind: str, name: str | None = None
) -> list[dict[str, Any]]:
    return [o for o in objs
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = find(objs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def corefile(name: str) -> Path:
    """A Corefile of the DNS engineer's (files/coredns/); its absence is a clear failure."""
    path = COREFILES / name
    if not path.is_file():
        pytest.fail(f"{path.relative_to(REPO)} is missing (it comes with the DNS engine's work)")
    return path


def start_kind_like(workdir: Path, with_coredns_configmap: bool = True) -> ControlPlane:
    """A real control plane holding what kind creates for DNS: the CoreDNS Deployment and
    kube-dns Service and (from Corefile.kind-default) the coredns ConfigMap."""
    cp = controlplane.start(workdir)
    try:
        cp.kubectl("apply", "-f", str(KIND_COREDNS))
        if with_coredns_configmap:
            cp.kubectl("-n", "kube-system", "create", "configmap", "coredns",
                       f"--from-file=Corefile={corefile('Corefile.kind-default')}")
    except BaseException:
        cp.stop()
        raise
    return cp


def install_rendered(cp: ControlPlane, text: str) -> list[dict[str, Any]]:
    """What `helm install` does, with kubectl: CRDs first (Established), then the rest,
    each batch server-side dry-run first, then applied for real."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    rest = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
    # As kind-up.sh creates it: Pod Security "restricted" enforced (the API server warns
    # about any pod template that would violate it, and such a warning fails here).
    cp.kubectl("create", "namespace", NAMESPACE)
    cp.kubectl("label", "namespace", NAMESPACE, *PSA_LABELS)
    for batch in (crds, rest):
        if not batch:
            continue
        manifest = yaml.safe_dump_all(batch)
        dry = cp.kubectl("apply", "--dry-run=server", "-f", "-", input=manifest, check=False)
        assert dry.returncode == 0, f"server-side dry-run refused:\n{dry.stderr}"
        assert "PodSecurity" not in dry.stderr, dry.stderr
        real = cp.kubectl("apply", "-f", "-", input=manifest)
        assert "PodSecurity" not in real.stderr, real.stderr
        if batch is crds:
            for crd in crds:
                cp.kubectl("wait", "--for=condition=Established", "--timeout=30s",
                           f"crd/{crd['metadata']['name']}")
    return docs
