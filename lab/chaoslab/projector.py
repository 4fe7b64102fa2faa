"""What the kubelet does for a ConfigMap volume, for the local lab: ConfigMap key -> file.

A `Projector` lists the one ConfigMap (a `metadata.name` field selector, so RBAC
resourceNames suffice), writes the key's content to the output file atomically (temporary
file + rename in the same folder) whenever it differs from what the file holds, optionally
sends SIGUSR1 to a process (CoreDNS reloads its Corefile on it), then watches the
ConfigMap from that resourceVersion. Every watch ends after `resync_seconds` and on any
error (410 Gone, a dropped connection, an API server restart); the loop then lists again,
so a missed event is caught at the next list. A deleted ConfigMap or a missing key leaves
the file as it was, like the kubelet.

    python -m chaoslab.projector --kubeconfig K --configmap kube-system/coredns \
        --key Corefile --out FILE [--signal-pid PID] [--http 127.0.0.1:PORT]
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

log = logging.getLogger("chaoslab.projector")


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
    context: str | None = None
    timeout: float = 10.0  # every API request
    resync_seconds: int = 30  # each watch ends after this long; then a fresh list
    on_write: Callable[[str], None] | None = None  # called after each write (tests)
    writes: int = 0
    last_sync: float | None = None  # last successful list or watch event
    last_error: str | None = None
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
        text = data[self.key]
        try:
            current = self.out.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current == text:
            return False
        write_atomically(self.out, text)
        self.writes += 1
        log.info("wrote %s (%d bytes) from ConfigMap %s/%s",
                 self.out, len(text), self.namespace, self.name)
        if self.signal_pid:
            try:
                os.kill(self.signal_pid, signal.SIGUSR1)
            except ProcessLookupError:
                log.warning("process %d to signal is gone", self.signal_pid)
        if self.on_write is not None:
            self.on_write(text)
        return True

    def sync_once(self) -> str:
        """List the ConfigMap, project it; returns the resourceVersion to watch from."""
        listed = self.api.list_namespaced_config_map(
            self.namespace, field_selector=f"metadata.name={self.name}",
            _request_timeout=(float(self.timeout), float(self.timeout)),
        )
        for item in listed.items or ():
            self.apply(item)
        if not listed.items:
            log.warning("ConfigMap %s/%s not found; file left as is", self.namespace, self.name)
        self.last_sync = time.time()
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
                self.last_sync = time.time()
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
                backoff, self.last_error = 0.0, None
            except Exception as exc:
                if self._stop.is_set():
                    return
                self.last_error = f"{type(exc).__name__}: {exc}"
                backoff = min(max(0.2, backoff * 2), 5.0)
                log.warning("ConfigMap %s/%s: %s (retry in %.1fs)",
                            self.namespace, self.name, self.last_error, backoff)
                self._stop.wait(backoff)

    def start(self) -> Projector:
        self._thread = threading.Thread(target=self.run, name="projector", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop, closing an open watch (an API server waits for open watches on shutdown)."""
        self._stop.set()
        interrupt_watch(self._watch)
        if self._thread is not None:
            self._thread.join(timeout)

    def healthy(self, max_age: float | None = None) -> bool:
        limit = max_age if max_age is not None else 2.0 * self.resync_seconds + 15
        return self.last_sync is not None and time.time() - self.last_sync < limit


def interrupt_watch(w: watch.Watch | None) -> None:
    """Unblock a watch stream read from another thread by shutting its response down."""
    resp = getattr(w, "_resp", None)
    shutdown = getattr(resp, "shutdown", None)
    if callable(shutdown):
        with contextlib.suppress(Exception):
            shutdown()


def serve_health(projector: Projector, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/healthz", "/readyz"):
                code, body = 404, b"not found\n"
            elif projector.healthy():
                code, body = 200, b"ok\n"
            else:
                code, body = 503, f"not synced: {projector.last_error}\n".encode()
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
        prog="python -m chaoslab.projector",
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
    parser.add_argument("--http", default=None, metavar="HOST:PORT",
                        help="serve /healthz here (200 once the ConfigMap is synced)")
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
        out=args.out, signal_pid=args.signal_pid, context=args.context,
        resync_seconds=args.resync,
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
