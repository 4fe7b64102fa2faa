"""``--http``: ``/metrics`` (Prometheus text), ``/healthz`` (process alive), ``/readyz``.

Readiness means "this process serves": it never depends on the health of dependencies, or
one DNS fault would take every tier out of its Service and hide the cascade we measure.
A tiny asyncio server keeps it on the service's own event loop: no threads, no extra deps.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chaoslab_services.common.errors import ConfigError


class ProbeServer:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, host, port)
        except OSError as exc:
            raise ConfigError(f"--http: cannot listen on {host}:{port}: {exc}") from None
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def _route(self, method: str, target: str) -> tuple[int, str, bytes]:
        path, _, query = target.partition("?")
        # A service may add its own pages (EC2: instance metadata, the DWFM switch):
        # ``runtime.http_routes`` maps a path prefix to ``handler(method, path, query)``.
        for prefix, handler in getattr(self.runtime, "http_routes", {}).items():
            if path.startswith(prefix):
                return handler(method, path, query)
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.runtime.metrics.registry)
        if path == "/healthz":
            return 200, "text/plain", b"ok\n"
        if path == "/readyz":
            if self.runtime.ready:
                return 200, "text/plain", b"ready\n"
            return 503, "text/plain", b"not ready\n"
        return 404, "text/plain", b"not found: try /metrics, /healthz, /readyz\n"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
            while True:  # drain headers
                header = await asyncio.wait_for(reader.readline(), 5.0)
                if header in (b"\r\n", b"\n", b""):
                    break
            parts = line.decode("latin-1").split()
            if len(parts) < 2 or parts[0] not in ("GET", "HEAD", "POST"):
                status, ctype, body = 405, "text/plain", b"method not allowed\n"
            else:
                status, ctype, body = self._route(parts[0], parts[1])
            reason = {200: "OK", 400: "Bad Request", 404: "Not Found",
                      405: "Method Not Allowed", 503: "Service Unavailable"}[status]
            head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode("latin-1"))
            if parts and parts[0] != "HEAD":
                writer.write(body)
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
