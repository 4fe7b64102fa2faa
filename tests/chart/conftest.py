"""Fixtures of the chart tests (helpers in chartlib.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chartlib import start_kind_like

from chaoslab.controlplane import ControlPlane


@pytest.fixture(scope="module")
def kind_like(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A kind-like control plane of the module's own (the chart writes kube-system)."""
    cp = start_kind_like(tmp_path_factory.mktemp("kindlike"))
    yield cp
    cp.stop()
