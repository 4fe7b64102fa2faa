"""Fixtures that run the real CoreDNS (``.tools/bin/coredns``, built by ``make tools``)
through the test kit's one starter, ``chaoslab.testkit.coredns``.

Every server listens on 127.0.0.1 only, on ports the kernel picked as free, and is
stopped by pid when its fixture ends. Missing tools fail the run (never skip) with a
message naming ``make tools``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chaoslab.procs import free_port
from chaoslab.testkit import coredns
from chaoslab.testkit.coredns import CoreDNS

Launcher = Callable[..., CoreDNS]


@pytest.fixture(scope="session")
def pick_port() -> Callable[[], int]:
    """``pick_port()`` -> a free 127.0.0.1 port (for a Corefile's extra listeners)."""
    return free_port


@pytest.fixture(scope="session")
def coredns_bin() -> Path:
    try:
        return coredns.coredns_binary()
    except RuntimeError as exc:
        pytest.fail(f"{exc} (builds CoreDNS with the chaoslab plugin)")


@pytest.fixture(scope="session")
def launch(coredns_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    """``launch(make_corefile, ready_within=10)`` starts CoreDNS on fresh ports.

    ``make_corefile(dns_port, metrics_port) -> str`` renders the Corefile; ready means any
    reply over UDP and TCP; every server still running at the end of the session is stopped.
    """
    started: list[CoreDNS] = []

    def start(make_corefile: Callable[[int, int], str], ready_within: float = 10.0) -> CoreDNS:
        server = coredns.launch(tmp_path_factory.mktemp("coredns"), make_corefile,
                                timeout=ready_within, binary=coredns_bin)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
