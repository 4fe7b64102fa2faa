"""One target behind the endpoint: a data path that serves and a health path that may not.

``GET /`` is the data path (what customers use); ``GET /health`` is what the checker
probes. A target whose network configuration has not propagated (``--unpropagated``, or
``POST /admin/propagated?value=false`` at run time) keeps serving its data path while its
health path answers 503 -- the 2025 NLB case. A target that is down for real is a stopped
process. Standard library only: eight of them start in well under a second.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _State:
    def __init__(self, address: str, propagated: bool) -> None:
        self.address, self.propagated = address, propagated
        self.served = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server_version = "chaoslab-target"
    state: _State

    def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        st = self.state
        if path == "/":
            with st.lock:
                st.served += 1
                body = {"target": st.address, "served": st.served}
            self._send(200, json.dumps(body).encode() + b"\n", "application/json")
        elif path == "/health":
            if st.propagated:
                self._send(200, b"ok\n")
            else:
                self._send(503, b"network configuration not propagated\n")
        else:
            self._send(404, b"not found: GET /, GET /health, POST /admin/propagated\n")

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        value = urllib.parse.parse_qs(query).get("value", [""])[0].lower()
        if path != "/admin/propagated" or value not in ("true", "false"):
            self._send(400, b"POST /admin/propagated?value=true|false\n")
            return
        self.state.propagated = value == "true"
        self._send(200, json.dumps({"propagated": self.state.propagated}).encode() + b"\n",
                   "application/json")

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per probe would drown the log


def serve(address: str, port: int, propagated: bool = True) -> int:
    """Serves until SIGTERM/SIGINT; exit 0."""
    handler = type("Handler", (_Handler,), {"state": _State(address, propagated)})
    try:
        httpd = ThreadingHTTPServer((address, port), handler)
    except OSError as exc:
        print(f"error: --listen: cannot listen on {address}:{port}: {exc}", file=sys.stderr)
        return 2
    httpd.daemon_threads = True

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps({"msg": "target serving", "address": address, "port": port,
                      "propagated": propagated}), file=sys.stderr, flush=True)
    httpd.serve_forever(poll_interval=0.2)
    httpd.server_close()
    return 0
