"""report.html in a real headless Chromium, driven over the DevTools protocol: it loads with
no console error, no failed resource, every image decoded, and a screenshot is kept."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket  # websocket-client, installed with the kubernetes client

from chaoslab_report.model import Report

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--remote-debugging-port=0",
                  "--remote-allow-origins=*", "--hide-scrollbars", "--window-size=1280,1000")


@dataclass
class Page:
    ws: websocket.WebSocket
    errors: list[str] = field(default_factory=list)
    _id: int = 0

    def call(self, method: str, timeout: float = 20.0, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)
        raise TimeoutError(method)

    def wait_event(self, name: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            self._event(msg)
            if msg.get("method") == name:
                return
        raise TimeoutError(name)

    def _event(self, msg: dict[str, Any]) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.errors.append(f"exception: {params['exceptionDetails'].get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(
                str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url')}")
        elif method == "Network.loadingFailed":
            self.errors.append(f"network: {params.get('errorText')}")

    def open(self, url: str) -> None:
        self.errors.clear()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        time.sleep(0.3)  # late console messages
        self.ws.settimeout(0.2)
        try:
            while True:
                self._event(json.loads(self.ws.recv()))
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            self.ws.settimeout(20)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Page]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, ("chromium not found: run `make tools` (it installs Debian's `chromium` "
                    "package), or apt-get install -y chromium")
    profile = tmp_path / "profile"
    with open(tmp_path / "chromium.log", "wb") as log:
        proc = subprocess.Popen([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                 "about:blank"], stdout=subprocess.DEVNULL, stderr=log,
                                start_new_session=True)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, (tmp_path / "chromium.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        page = Page(websocket.create_connection(url, timeout=20, suppress_origin=True))
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.call(f"{domain}.enable")
        yield page
        page.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_report_html_renders_cleanly(chromium: Page, synthetic_report: Report,
                                     tmp_path: Path) -> None:
    # The capture works: a page with a console error and a broken image is caught.
    bad = tmp_path / "bad.html"
    bad.write_text('<script>console.error("planted")</script><img src="missing.png">')
    chromium.open(bad.as_uri())
    assert any("planted" in e for e in chromium.errors), chromium.errors

    html = Path(synthetic_report.out_dir) / "report.html"
    chromium.open(html.as_uri())
    assert chromium.errors == []
    assert chromium.evaluate("document.title") == "Game-day report"
    assert chromium.evaluate("document.scripts.length") == 0
    assert chromium.evaluate(
        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 400)")
    assert chromium.evaluate("document.images.length") == 3
    assert chromium.evaluate(
        "performance.getEntriesByType('resource').filter(e => !e.name.startsWith('data:'))"
        ".length") == 0, "the report must not load anything from outside itself"
    summary = chromium.evaluate("document.querySelector('.summary').innerText")
    assert "DNS returned NODATA" in summary

    height = chromium.evaluate("document.documentElement.scrollHeight")
    shot = chromium.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1})
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    (Path(synthetic_report.out_dir) / "screenshot.png").write_bytes(png)
