"""Ports the lab hands its children: never ones an outgoing connection can take meanwhile."""

from __future__ import annotations

import socket
from pathlib import Path

from chaoslab.procs import free_port


def _ephemeral() -> range:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return range(int(low), int(high) + 1)


def test_ports_are_outside_the_ephemeral_range_and_never_repeat() -> None:
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert not [p for p in ports if p in _ephemeral()]
    assert min(ports) >= 10000


def test_a_port_is_bindable_for_tcp_and_udp() -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", port))
        udp.bind(("127.0.0.1", port))


def test_a_port_someone_listens_on_is_skipped(monkeypatch) -> None:
    spare = free_port()
    monkeypatch.setattr("chaoslab.procs._handed_out", set())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        picks = iter([taken, taken, spare])
        monkeypatch.setattr("chaoslab.procs.random.choice", lambda pool: next(picks))
        assert free_port() == spare
