"""A throwaway real Prometheus on loopback, for the report's tests and benchmarks.

The report is only as right as its PromQL, so its tests run the real binary (`make tools`
puts Debian's build in .tools/bin) against scrape targets the test controls, with a 1 s
scrape interval like the local lab's.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from chaoslab.procs import Proc, free_port, spawn, wait_until
from chaoslab.toolpaths import tool


@dataclass
class LocalPrometheus:
    url: str
    proc: Proc
    data_dir: Path

    def stop(self) -> None:
        self.proc.stop()


def start(workdir: Path, targets: Mapping[str, str] | None = None, interval: str = "1s",
          data_dir: Path | None = None, extra_args: tuple[str, ...] = (),
          timeout: float = 60.0) -> LocalPrometheus:
    """Prometheus scraping `targets` (job -> "host:port"), its data in `data_dir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir or workdir / "data"
    config = {
        "global": {"scrape_interval": interval, "scrape_timeout": interval,
                   "evaluation_interval": interval},
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [addr]}]}
                           for job, addr in sorted((targets or {}).items())],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = spawn("prometheus", [
        tool("prometheus"), f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={data_dir}", f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=30d", *extra_args], workdir / "prometheus.log")
    url = f"http://127.0.0.1:{port}"
    wait_until("Prometheus /-/ready",
               lambda: requests.get(f"{url}/-/ready", timeout=1).status_code == 200,
               timeout, [proc])
    return LocalPrometheus(url, proc, data_dir)


def backfill(openmetrics: str, workdir: Path) -> Path:
    """A TSDB holding `openmetrics` (text ending in `# EOF`), made with promtool, for
    `start(..., data_dir=)`: a long synthetic history in seconds, without scraping it."""
    workdir.mkdir(parents=True, exist_ok=True)
    source, data = workdir / "data.om", workdir / "data"
    source.write_text(openmetrics)
    subprocess.run([str(tool("promtool")), "tsdb", "create-blocks-from", "openmetrics",
                    str(source), str(data)], check=True, capture_output=True, timeout=600)
    return data
