"""The operator's metrics (names fixed in ARCHITECTURE.md) and its /metrics, /healthz, /readyz.

/healthz answers 200 while the reconcile loop is alive; /readyz answers 200 once a
reconcile has succeeded recently (the ConfigMap and the scenarios could be read and written).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.active_scenarios = Gauge(
            "chaoslab_operator_active_scenarios",
            "Scenarios whose faults are in the Corefile now.",
            registry=r,
        )
        self.scenario_active = Gauge(
            "chaoslab_operator_scenario_active",
            "1 while the scenario's faults are in the Corefile, else 0.",
            ["namespace", "name"],
            registry=r,
        )
        self.injections = Counter(
            "chaoslab_operator_injections",
            "Scenarios whose faults were put into the Corefile.",
            registry=r,
        )
        self.reverts = Counter(
            "chaoslab_operator_reverts",
            "Scenarios whose faults were removed from the Corefile.",
            registry=r,
        )
        self.reconcile_duration = Histogram(
            "chaoslab_operator_reconcile_duration_seconds",
            "Time of one full reconcile: list, plan, status writes, ConfigMap write.",
            buckets=_BUCKETS,
            registry=r,
        )
        self.apply_to_configmap = Histogram(
            "chaoslab_operator_apply_to_configmap_seconds",
            "Time of one ConfigMap patch carrying a new Corefile.",
            buckets=_BUCKETS,
            registry=r,
        )
        self._shown: set[tuple[str, str]] = set()

    def set_active(self, active: set[tuple[str, str]], known: set[tuple[str, str]]) -> None:
        """Gauge values for every known scenario; series of vanished scenarios are dropped."""
        self.active_scenarios.set(len(active))
        for key in known:
            self.scenario_active.labels(*key).set(1 if key in active else 0)
        for key in self._shown - known:
            with contextlib.suppress(KeyError):
                self.scenario_active.remove(*key)
        self._shown = set(known)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class HttpServer:
    """/metrics, /healthz, /readyz on a background thread."""

    def __init__(
        self,
        host: str,
        port: int,
        metrics: Metrics,
        healthy: Callable[[], tuple[bool, str]],
        ready: Callable[[], tuple[bool, str]],
    ) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, outer.metrics.exposition(), CONTENT_TYPE_LATEST)
                elif path in ("/healthz", "/livez", "/readyz"):
                    ok, why = (outer.ready if path == "/readyz" else outer.healthy)()
                    self._send(200 if ok else 503, (why + "\n").encode(), "text/plain")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up; nothing to tell it

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.metrics, self.healthy, self.ready = metrics, healthy, ready
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="operator-http", daemon=True
        )

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> HttpServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
