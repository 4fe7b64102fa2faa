"""Fixtures for the services suite: real CoreDNS and real service processes.

CoreDNS must be the project's build (``make tools`` -> .tools/bin/coredns). A missing
binary fails the tests with that instruction; they are never skipped.
"""

from __future__ import annotations

import os

import pytest

from chaoslab.testkit import services as testlab

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


@pytest.fixture(scope="session")
def coredns_binary():
    try:
        return testlab.coredns_binary()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("svc-lab")
