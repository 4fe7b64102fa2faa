"""Fixtures shared by every component's tests: the real local control plane.

Tests never skip for a missing tool: `make test` installs the tools first, and a test
run without them fails with a message that names `make tools`.
`make test`'s two xdist workers take the labs one at a time (`chaoslab.testkit.suite`).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chaoslab import controlplane
from chaoslab.controlplane import ControlPlane
from chaoslab.testkit.suite import LabScheduling

# A suite started in the background (`make test &`, a CI step) inherits SIGINT ignored, and
# so would every lab it starts: the tests that press Ctrl-C on a lab would see it ignored.
# A handler (unlike SIG_IGN) is reset to the default in each child it starts.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent when run without -n
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> LabScheduling:
    return LabScheduling(config, log)  # type: ignore[arg-type]
