"""The projector: ConfigMap key -> file, atomically, SIGUSR1 after each change, resync on errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from chaoslab.controlplane import ControlPlane
from chaoslab.local.projector import Projector, write_atomically
from chaoslab.procs import free_port, spawn
from chaoslab.testkit.polling import wait_for


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
        sys.executable, "-m", "chaoslab.local.projector", "--kubeconfig", control_plane.kubeconfig,
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


# -- the cluster sidecar's mechanism (issue 13): CoreDNS found by name, the kubelet fallback --
def test_signals_coredns_found_by_name_and_it_loads_at_once(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """The sidecar's reload: the real CoreDNS, found by its process name (its PID changes with
    each container restart), SIGUSR1ed after each write; a new answer is served within a
    second, again and again, with `health` and `ready` listening (coredns#1722)."""
    import shutil

    import dns.message
    import dns.query

    from chaoslab.local.projector import pids_named
    from chaoslab.toolpaths import tool

    # A copy under a name of this test's own: other labs' CoreDNS on this machine are not ours.
    name = f"cdns-{tmp_path.name[-9:]}"[:15]
    binary = tmp_path / name
    shutil.copy(tool("coredns"), binary)
    port, health, ready = free_port(), free_port(), free_port()

    def corefile(address: str) -> str:
        return (f".:{port} {{\n    bind 127.0.0.1\n    health 127.0.0.1:{health}\n"
                f"    ready 127.0.0.1:{ready}\n    template IN A t.test {{\n"
                f"        answer \"t.test. 5 IN A {address}\"\n    }}\n}}\n")

    def answer() -> str | None:
        try:
            reply = dns.query.udp(dns.message.make_query("t.test", "A"), "127.0.0.1",
                                  port=port, timeout=0.3)
        except Exception:
            return None
        return reply.answer[0][0].address if reply.answer else None

    _configmap(control_plane, "proj4", corefile("192.0.2.1"))
    out = tmp_path / "etc" / "Corefile"
    projector = Projector(
        kubeconfig=control_plane.kubeconfig, namespace="default", name="proj4", key="Corefile",
        out=out, signal_process=name,
    )
    projector.sync_once()
    coredns = spawn(name, [binary, "-conf", out], tmp_path / "coredns.log")
    try:
        wait_for("CoreDNS answering", lambda: answer() == "192.0.2.1", 20)
        assert pids_named(name) == [coredns.pid]
        projector.start()
        for i in range(2, 7):
            _configmap(control_plane, "proj4", corefile(f"192.0.2.{i}"))
            t0 = time.monotonic()
            wait_for(f"answer {i}", lambda i=i: answer() == f"192.0.2.{i}", 5, 0.01)
            assert time.monotonic() - t0 < 1.0
        assert projector.signals == 5
        with urllib.request.urlopen(f"http://127.0.0.1:{health}/health", timeout=2) as r:
            assert r.status == 200  # the health listener survived five reloads
        assert "address already in use" not in (tmp_path / "coredns.log").read_text()
    finally:
        projector.stop()
        coredns.stop()


def test_follows_the_kubelet_file_only_while_the_api_is_unreachable(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """With the API answering, the API wins (the kubelet's copy lags it); with the API gone,
    each change of the kubelet's copy is projected, and /readyz says so while staying 200."""
    import yaml

    _configmap(control_plane, "proj5", "from-api\n")
    kubelet = tmp_path / "configmap" / "Corefile"
    write_atomically(kubelet, "kubelet-old\n")
    out = tmp_path / "live" / "Corefile"
    projector = Projector(
        kubeconfig=control_plane.kubeconfig, namespace="default", name="proj5", key="Corefile",
        out=out, follow_file=kubelet, follow_interval=0.1, fallback_after=0.5,
    ).start()
    try:
        wait_for("API projection", lambda: out.exists() and out.read_text() == "from-api\n", 10)
        write_atomically(kubelet, "kubelet-lagging\n")
        time.sleep(1.0)
        assert out.read_text() == "from-api\n"  # the API answers: its version stands
        assert projector.readiness() == (True, "ok: following the API")
    finally:
        projector.stop()

    # The same, against an API server that is not there.
    config = yaml.safe_load(Path(control_plane.kubeconfig).read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(yaml.safe_dump(config))
    port = free_port()
    proc = spawn("projector", [
        sys.executable, "-m", "chaoslab.local.projector", "--kubeconfig", dead,
        "--configmap", "default/proj5", "--out", out, "--follow-file", kubelet,
        "--http", f"127.0.0.1:{port}",
    ], tmp_path / "projector-dead.log")

    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    try:
        wait_for("the kubelet's copy projected", lambda: out.read_text() == "kubelet-lagging\n", 20)
        write_atomically(kubelet, "kubelet-new\n")
        wait_for("its change projected", lambda: out.read_text() == "kubelet-new\n", 5)
        code, body = get("/readyz")
        assert code == 200 and body.startswith("degraded: API unreachable"), body
        assert "kubelet" in body and "CoreDNS keeps its last Corefile" in body
        assert get("/livez")[0] == 200  # no restart for an API outage
        assert get("/healthz")[0] == 503  # not synced with the API
    finally:
        proc.stop()
