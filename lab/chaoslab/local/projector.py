"""What the kubelet does for a ConfigMap volume, but at once: ConfigMap key -> file -> SIGUSR1.

One module for every lab. The local lab runs it as a process beside CoreDNS
(`--signal-pid`); on clusters (kind, the node lab) `charts/coredns-patch.sh` adds it as a
sidecar of the CoreDNS pod (`--signal-process coredns`, `--follow-file`), so a fault the
operator writes into `kube-system/coredns` is live in CoreDNS well under a second instead
of after the kubelet's ConfigMap sync (10 s with kind-config.yaml, ~1 min by default) plus
`reload 2s`.

A `Projector` lists the one ConfigMap (a `metadata.name` field selector, so RBAC
resourceNames suffice), writes the key's content to the output file atomically (temporary
file + rename in the same folder) whenever it differs from what the file holds, sends
SIGUSR1 to CoreDNS, then watches the ConfigMap from that resourceVersion. Every watch ends
after `resync_seconds` and on any error (410 Gone, a dropped connection, an API server
restart); the loop then lists again, so a missed event is caught at the next list. A
deleted ConfigMap or a missing key leaves the file as it was, like the kubelet.

Why SIGUSR1 and nothing else: CoreDNS's `reload` plugin polls at 2 s at the fastest (p95
~1.9 s measured, benchmarks/dns_reload.py), a signal applies a Corefile in milliseconds.
The two must not be combined: after a SIGUSR1 the `reload` plugin's restarts fail
(coredns#6263), so a Corefile this projector feeds carries no `reload` directive (the
patch script writes it so). The `health` port problem of SIGUSR1 reloads (coredns#1722) is
fixed in the CoreDNS the lab builds (tests/lab/test_projector.py reloads it repeatedly).

The fallback on clusters (what `--follow-file` is for): CoreDNS reads the file this
projector writes into an emptyDir, which an init container first fills from the kubelet's
ConfigMap volume, so a new CoreDNS pod always starts from the ConfigMap. The projector also
follows that kubelet-projected file: while the API cannot be reached, a change the kubelet
brings is projected (and signalled) too. What this guarantees, and what not:
- CoreDNS always has a Corefile: a dead or unreachable projector leaves it serving the
  last one it loaded (SIGUSR1 with a broken file keeps the old config running).
- A fault never outlives its scenario: every rule carries its own `until`, which the
  chaoslab plugin enforces itself, whoever (not) reloads.
- A killed projector is back within about a second (a shell loop in the sidecar restarts
  it; the liveness probe, `/livez`, has the kubelet restart a wedged one); it lists the
  ConfigMap and projects the truth at once. While none runs (frozen, crash-looping) CoreDNS
  does NOT pick up new Corefiles: a new fault waits for it; an ending one ends by `until`.
`/readyz` answers 200 once a Corefile is in place and says in its body whether it follows
the API or, and why, falls back to the kubelet's file. It is deliberately not the sidecar's
readinessProbe: the pod's readiness is CoreDNS's place in the cluster DNS Service, which a
projector problem (one CoreDNS survives) must never take away. `/healthz` (what the local
lab waits on) is 200 once synced with the API.

    python -m chaoslab.local.projector --kubeconfig K --configmap kube-system/coredns \
        --key Corefile --out FILE [--signal-pid PID | --signal-process NAME] \
        [--follow-file FILE] [--http HOST:PORT]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

from chaoslab_operator.kube import interrupt_watch

log = logging.getLogger("chaoslab.local.projector")


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename: a reader sees the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass
class Projector:
    kubeconfig: Path | None
    namespace: str
    name: str
    key: str
    out: Path
    signal_pid: int | None = None  # SIGUSR1 after each write (CoreDNS reload)
    signal_process: str | None = None  # or to every process of this name (a sidecar's CoreDNS)
    follow_file: Path | None = None  # the kubelet-projected file: projected while the API is not
    follow_interval: float = 0.5
    fallback_after: float = 2.0  # seconds of API errors before the kubelet's file is followed
    context: str | None = None
    timeout: float = 10.0  # every API request
    resync_seconds: int = 30  # each watch ends after this long; then a fresh list
    on_write: Callable[[str], None] | None = None  # called after each write (tests)
    writes: int = 0
    last_sync: float | None = None  # last successful list or watch event
    last_error: str | None = None
    error_since: float | None = None  # when the API became unreachable
    last_attempt: float | None = None  # last list attempt or watch event: the loop is alive
    source: str | None = None  # where the file's content came from: "api" or "kubelet file"
    signals: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _api: client.CoreV1Api | None = None
    _watch: watch.Watch | None = None

    # -- API ---------------------------------------------------------------------------
    @property
    def api(self) -> client.CoreV1Api:
        if self._api is None:
            cfg = client.Configuration()
            if self.kubeconfig is not None:
                config.load_kube_config(
                    config_file=str(self.kubeconfig), context=self.context,
                    client_configuration=cfg,
                )
            else:
                try:
                    config.load_incluster_config(client_configuration=cfg)
                except config.ConfigException:
                    config.load_kube_config(context=self.context, client_configuration=cfg)
            self._api = client.CoreV1Api(client.ApiClient(cfg))
        return self._api

    def apply(self, obj: Any) -> bool:
        """Project one ConfigMap object; True if the file changed."""
        data = getattr(obj, "data", None) or {}
        if self.key not in data:
            log.warning("ConfigMap %s/%s has no key %r; file left as is",
                        self.namespace, self.name, self.key)
            return False
        return self.project(data[self.key], "api")

    def project(self, text: str, source: str) -> bool:
        """Write `text` unless the file holds it already, then signal; True if written."""
        self.source = source
        try:
            current = self.out.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current == text:
            return False
        write_atomically(self.out, text)
        self.writes += 1
        log.info("wrote %s (%d bytes) from the %s of ConfigMap %s/%s", self.out, len(text),
                 "API" if source == "api" else source, self.namespace, self.name)
        self.signal()
        if self.on_write is not None:
            self.on_write(text)
        return True

    def signal(self) -> None:
        """SIGUSR1 to CoreDNS: by PID (local lab) or to each process of that name (a pod
        with shareProcessNamespace, where CoreDNS's PID changes when its container restarts)."""
        pids = [self.signal_pid] if self.signal_pid else []
        if self.signal_process:
            pids += pids_named(self.signal_process)
            if not pids:
                log.warning("no process named %r to signal", self.signal_process)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGUSR1)
                self.signals += 1
            except ProcessLookupError:
                log.warning("process %d to signal is gone", pid)
            except PermissionError:
                log.error("may not signal process %d (run as CoreDNS's user)", pid)

    def sync_once(self) -> str:
        """List the ConfigMap, project it; returns the resourceVersion to watch from."""
        self.last_attempt = time.time()
        listed = self.api.list_namespaced_config_map(
            self.namespace, field_selector=f"metadata.name={self.name}",
            _request_timeout=(float(self.timeout), float(self.timeout)),
        )
        for item in listed.items or ():
            self.apply(item)
        if not listed.items:
            log.warning("ConfigMap %s/%s not found; file left as is", self.namespace, self.name)
        self.last_sync = time.time()
        self.last_error = self.error_since = None
        return listed.metadata.resource_version or ""

    def watch_once(self, resource_version: str) -> None:
        w = self._watch = watch.Watch()
        try:
            for event in w.stream(
                self.api.list_namespaced_config_map,
                self.namespace,
                field_selector=f"metadata.name={self.name}",
                resource_version=resource_version,
                timeout_seconds=self.resync_seconds,
                _request_timeout=(float(self.timeout), float(self.resync_seconds + 10)),
            ):
                if self._stop.is_set():
                    return
                if event["type"] == "ERROR":
                    return  # e.g. 410 Gone: list again
                self.last_sync = self.last_attempt = time.time()
                if event["type"] in ("ADDED", "MODIFIED"):
                    self.apply(event["object"])
        finally:
            w.stop()

    def run(self) -> None:
        """List + watch until `stop()`, re-listing after every watch and every error."""
        backoff = 0.0
        while not self._stop.is_set():
            try:
                rv = self.sync_once()
                self.watch_once(rv)
                backoff = 0.0
            except Exception as exc:
                if self._stop.is_set():
                    return
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self.error_since is None:
                    self.error_since = time.time()
                backoff = min(max(0.2, backoff * 2), 5.0)
                log.warning("ConfigMap %s/%s: %s (retry in %.1fs)",
                            self.namespace, self.name, self.last_error, backoff)
                self._stop.wait(backoff)

    def follow(self) -> None:
        """Poll the kubelet-projected file; project each new content of it while the API is
        not followed (unreachable, or not listed yet). Polling a small file is cheap and
        survives the kubelet's symlink swaps, which inotify on the path would not see."""
        assert self.follow_file is not None
        seen: str | None = None
        while not self._stop.is_set():
            try:
                text = self.follow_file.read_text(encoding="utf-8")
            except OSError:
                text = None
            if text is not None and text != seen:
                # The API is at least as new as the kubelet's copy while it answers; a blip
                # shorter than fallback_after (a watch's reconnect) is not an outage.
                api_down = (self.error_since is not None
                            and time.time() - self.error_since >= self.fallback_after)
                if api_down or not self.out.exists():
                    self.project(text, "kubelet file")
                    seen = text
                elif self.last_error is None and self.last_sync is not None:
                    seen = text
            self._stop.wait(self.follow_interval)

    def start(self) -> Projector:
        self._thread = threading.Thread(target=self.run, name="projector", daemon=True)
        self._thread.start()
        if self.follow_file is not None:
            threading.Thread(target=self.follow, name="projector-follow", daemon=True).start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop, closing an open watch (an API server waits for open watches on shutdown)."""
        self._stop.set()
        interrupt_watch(self._watch)
        if self._thread is not None:
            self._thread.join(timeout)

    def healthy(self, max_age: float | None = None) -> bool:
        """In sync with the API lately (a watch ends every `resync_seconds`)."""
        limit = max_age if max_age is not None else 2.0 * self.resync_seconds + 15
        return self.last_sync is not None and time.time() - self.last_sync < limit

    def alive(self) -> bool:
        """The loop makes progress (a list, an event or a retry lately): the liveness check.
        An unreachable API is no reason to restart: a new process would not reach it either."""
        if self._thread is not None and not self._thread.is_alive():
            return False
        limit = 2.0 * self.resync_seconds + 15
        return self.last_attempt is None or time.time() - self.last_attempt < limit

    def readiness(self) -> tuple[bool, str]:
        """(ready, why): ready once CoreDNS has a Corefile; the why names the source."""
        if not self.out.exists():
            return False, f"no Corefile yet at {self.out} (API: {self.last_error or 'listing'})"
        if self.last_error is None and self.last_sync is not None:
            return True, "ok: following the API"
        since = (f" for {time.time() - self.error_since:.0f}s"
                 if self.error_since is not None else "")
        fallback = (f"; following the kubelet's file {self.follow_file}"
                    if self.follow_file else "")
        return True, (f"degraded: API unreachable{since} ({self.last_error or 'not listed yet'});"
                      f" CoreDNS keeps its last Corefile{fallback}")


def pids_named(name: str) -> list[int]:
    """PIDs whose command name (/proc/PID/comm) is `name`, this process excluded."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "comm").read_text().strip() == name:
                pids.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return pids


def serve_health(projector: Projector, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/healthz":
                ok, why = projector.healthy(), f"not synced: {projector.last_error}"
            elif path == "/readyz":
                ok, why = projector.readiness()
            elif path == "/livez":
                ok, why = projector.alive(), "the projector loop is stuck or gone"
            else:
                ok, why = False, "not found"
            if ok and path != "/readyz":
                why = "ok"
            code = 200 if ok else (404 if why == "not found" else 503)
            body = f"{why}\n".encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="projector-http", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chaoslab.local.projector",
        description="Project one key of a ConfigMap into a file, like a kubelet ConfigMap "
        "volume, and SIGUSR1 a process after each change (CoreDNS reload).",
    )
    parser.add_argument("--kubeconfig", type=Path, default=None,
                        help="kubeconfig file (default: in-cluster, else $KUBECONFIG)")
    parser.add_argument("--context", default=None, help="kubeconfig context")
    parser.add_argument("--configmap", default="kube-system/coredns", metavar="NAMESPACE/NAME",
                        help="the ConfigMap (default: %(default)s)")
    parser.add_argument("--key", default="Corefile",
                        help="the key to project (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="the file to write")
    parser.add_argument("--signal-pid", type=int, default=None, metavar="PID",
                        help="send SIGUSR1 to this process after every write")
    parser.add_argument("--signal-process", default=None, metavar="NAME",
                        help="send SIGUSR1 to every process of this name after every write "
                        "(a sidecar with shareProcessNamespace: NAME=coredns)")
    parser.add_argument("--follow-file", type=Path, default=None, metavar="FILE",
                        help="the kubelet-projected copy of the key: projected while the API "
                        "cannot be reached")
    parser.add_argument("--http", default=None, metavar="HOST:PORT",
                        help="serve /healthz (synced), /readyz (a Corefile in place, and why) "
                        "and /livez (the loop alive) here")
    parser.add_argument("--resync", type=int, default=30, metavar="SECONDS",
                        help="re-list at least this often (default: %(default)s)")
    args = parser.parse_args(argv)
    namespace, sep, name = args.configmap.partition("/")
    if not sep or not namespace or not name:
        parser.error(f"--configmap {args.configmap!r}: want NAMESPACE/NAME")
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    projector = Projector(
        kubeconfig=args.kubeconfig, namespace=namespace, name=name, key=args.key,
        out=args.out, signal_pid=args.signal_pid, signal_process=args.signal_process,
        follow_file=args.follow_file, context=args.context, resync_seconds=args.resync,
    )
    server = None
    if args.http:
        host, _, port = args.http.rpartition(":")
        server = serve_health(projector, host or "127.0.0.1", int(port))

    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    projector.start()  # a daemon thread: a watch blocked on the socket does not delay exit
    done.wait()
    projector.stop()
    if server is not None:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
