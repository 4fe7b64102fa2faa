"""Fixtures of the operator tests: a control plane per module (it owns kube-system/coredns)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from oplab import OpLab

from chaoslab import controlplane
from chaoslab.controlplane import ControlPlane
from chaoslab.procs import log_tail


@pytest.fixture(scope="module")
def module_cp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = controlplane.start(tmp_path_factory.mktemp("opcp"))
    yield cp
    cp.stop()


@pytest.fixture(scope="module")
def lab(module_cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpLab]:
    """CRD, coredns ConfigMap, CoreDNS + projector, and a running operator."""
    oplab = OpLab(module_cp, tmp_path_factory.mktemp("oplab")).start()
    yield oplab
    oplab.stop()
    print("--- operator log tail ---\n" + log_tail(oplab.workdir / "operator.log", 40))
