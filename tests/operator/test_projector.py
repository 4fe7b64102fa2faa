"""The projector: ConfigMap key -> file, atomically, SIGUSR1 after each change, resync on errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from oplab import wait_for

from chaoslab.controlplane import ControlPlane
from chaoslab.procs import free_port, spawn
from chaoslab.projector import Projector, write_atomically


def _configmap(cp: ControlPlane, name: str, text: str) -> None:
    cp.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"Corefile": text, "other": "x"},
    }))


def test_write_atomically_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "Corefile"
    write_atomically(target, "one\n")
    write_atomically(target, "two\n")
    assert target.read_text() == "two\n"
    assert [p.name for p in target.parent.iterdir()] == ["Corefile"]  # no temp file left


def test_projects_changes_and_signals(control_plane: ControlPlane, tmp_path: Path) -> None:
    _configmap(control_plane, "proj1", "first\n")
    out = tmp_path / "Corefile"
    # A child that counts SIGUSR1s, standing in for CoreDNS.
    counter = tmp_path / "signals"
    child = subprocess.Popen([sys.executable, "-c", (
        "import signal, time, pathlib\n"
        f"p = pathlib.Path({str(counter)!r}); p.write_text('0')\n"
        "def h(*_): p.write_text(str(int(p.read_text()) + 1))\n"
        "signal.signal(signal.SIGUSR1, h)\n"
        "while True: time.sleep(0.05)\n"
    )])
    wait_for("signal counter ready", counter.exists, 10)
    seen: list[str] = []
    projector = Projector(
        kubeconfig=control_plane.kubeconfig, namespace="default", name="proj1",
        key="Corefile", out=out, signal_pid=child.pid, on_write=seen.append, resync_seconds=5,
    ).start()
    try:
        wait_for("first projection", lambda: out.exists() and out.read_text() == "first\n", 10)
        _configmap(control_plane, "proj1", "second\n")
        t0 = time.monotonic()
        wait_for("second projection", lambda: out.read_text() == "second\n", 10, 0.01)
        assert time.monotonic() - t0 < 2.0
        wait_for("two signals", lambda: counter.read_text() == "2", 5)
        # A change of another key does not rewrite the file nor signal.
        control_plane.kubectl("patch", "configmap", "proj1", "-p", '{"data":{"other":"y"}}')
        time.sleep(0.5)
        assert seen == ["first\n", "second\n"] and counter.read_text() == "2"
        # A deleted ConfigMap leaves the file as it was, and a new one is picked up.
        control_plane.kubectl("delete", "configmap", "proj1")
        time.sleep(0.5)
        assert out.read_text() == "second\n"
        _configmap(control_plane, "proj1", "third\n")
        wait_for("projection after re-creation", lambda: out.read_text() == "third\n", 10)
        assert projector.healthy()
    finally:
        projector.stop()
        child.send_signal(signal.SIGKILL)
        child.wait()


def test_resyncs_after_an_api_server_restart(tmp_path: Path) -> None:
    """The watch breaks while the API server is down; the projector lists again once it is back
    and picks up a change it never saw as a watch event."""
    from chaoslab import controlplane

    cp = controlplane.start(tmp_path / "cp")
    try:
        _configmap(cp, "proj2", "a\n")
        out = tmp_path / "Corefile"
        projector = Projector(
            kubeconfig=cp.kubeconfig, namespace="default", name="proj2", key="Corefile",
            out=out, resync_seconds=2, timeout=2.0,
        ).start()
        try:
            wait_for("projection", lambda: out.exists() and out.read_text() == "a\n", 10)
            apiserver = cp.procs[1]
            argv = [str(a) for a in apiserver.popen.args]
            apiserver.stop()
            wait_for("error noticed", lambda: projector.last_error is not None, 20)
            cp.procs[1] = spawn("kube-apiserver", argv, cp.logs / "kube-apiserver-2.log")
            wait_for("API server back", cp._ready, 60, 0.2)
            _configmap(cp, "proj2", "b\n")
            wait_for("projection after restart", lambda: out.read_text() == "b\n", 20)
            wait_for("healthy again", projector.healthy, 10)
        finally:
            projector.stop()
    finally:
        cp.stop()


def test_command_line_with_healthz(control_plane: ControlPlane, tmp_path: Path) -> None:
    _configmap(control_plane, "proj3", "cli\n")
    out = tmp_path / "Corefile"
    port = free_port()
    proc = spawn("projector", [
        sys.executable, "-m", "chaoslab.projector", "--kubeconfig", control_plane.kubeconfig,
        "--configmap", "default/proj3", "--key", "Corefile", "--out", out,
        "--http", f"127.0.0.1:{port}",
    ], tmp_path / "projector.log")
    try:
        wait_for("file", lambda: out.exists() and out.read_text() == "cli\n", 20)

        def healthz() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                return r.status == 200

        wait_for("/healthz", healthz, 10)
    finally:
        proc.stop()
    assert proc.popen.returncode is not None
