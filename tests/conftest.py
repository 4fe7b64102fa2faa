"""Fixtures shared by every component's tests: the real local control plane.

Tests never skip for a missing tool: `make test` installs the tools first, and a test
run without them fails with a message that names `make tools`.
Each test gets its xdist group here (`chaoslab.testkit.suite`: labs one at a time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import pytest

from chaoslab import controlplane
from chaoslab.controlplane import ControlPlane
from chaoslab.testkit.suite import xdist_group


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One etcd + kube-apiserver for the session; tests use their own namespaces."""
    cp = controlplane.start(tmp_path_factory.mktemp("cp"))
    yield cp
    cp.stop()


@pytest.fixture
def control_plane_factory(
    tmp_path: Path,
) -> Iterator[Callable[[], ControlPlane]]:
    """Fresh control planes for tests that must own kube-system (e.g. the coredns ConfigMap)."""
    started: list[ControlPlane] = []

    def make() -> ControlPlane:
        cp = controlplane.start(tmp_path / f"cp{len(started)}")
        started.append(cp)
        return cp

    yield make
    for cp in started:
        cp.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        module = PurePosixPath(Path(str(item.path)).relative_to(root)).as_posix()
        slow = item.get_closest_marker("slow") is not None
        item.add_marker(pytest.mark.xdist_group(xdist_group(module, slow)))
