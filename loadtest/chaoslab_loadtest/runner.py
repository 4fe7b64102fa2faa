"""The Locust command line the lab (and the container image) runs, built in one place.

Returning argv and env instead of starting the process keeps process ownership with the
caller (the lab runtime puts every component in its own session with a log file). Web mode
uses `--autostart`: customers start at once, as headless, and the web UI stays available to
change the load during a game day.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


class LocustCommand(NamedTuple):
    argv: list[str]
    env: dict[str, str]  # additions to the caller's environment


def locust_command(
    state_file: str | os.PathLike[str] | None = None,
    users: int | None = None,
    spawn_rate: float | None = None,
    run_time: str | None = None,
    web_port: int | None = None,
    metrics_port: int | None = None,
    headless: bool = True,
    *,
    endpoints: str | os.PathLike[str] | None = None,
    region: str | None = None,
    workflow_weights: str | None = None,
    customer_dns: str | None = None,
    config: str | os.PathLike[str] | None = None,
    role: str = "standalone",
    master_port: int | None = None,
    expect_workers: int | None = None,
    csv_prefix: str | os.PathLike[str] | None = None,
    json_file: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    extra: Sequence[str] = (),
    python: str = sys.executable,
) -> LocustCommand:
    """argv/env for `locust -f locustfile.py ...`.

    role: "standalone", "master" or "worker". A worker takes no load options (they come
    from the master); `master_port` is the master's bind port for both. `None` leaves a
    value to config.yaml (users, spawn rate) or to Locust (run time: until stopped).
    """
    if role not in ("standalone", "master", "worker"):
        raise ValueError(f"role must be standalone, master or worker, got {role!r}")
    argv = [python, "-m", "locust", "-f", str(LOCUSTFILE)]
    if role == "worker":
        argv += ["--worker", "--master-host", host]
        if master_port:
            argv += ["--master-port", str(master_port)]
        return LocustCommand([*argv, *extra], _env())
    if role == "master":
        argv += ["--master", "--master-bind-host", host]
        if master_port:
            argv += ["--master-bind-port", str(master_port)]
        if expect_workers:
            argv += ["--expect-workers", str(expect_workers)]
    if headless:
        argv.append("--headless")
    else:
        argv += ["--web-host", host, "--autostart"]
        if web_port:
            argv += ["--web-port", str(web_port)]
    for flag, value in (
        ("--users", users), ("--spawn-rate", spawn_rate), ("--run-time", run_time),
        ("--lab-state", state_file), ("--endpoints", endpoints), ("--region", region),
        ("--workflow-weights", workflow_weights), ("--customer-dns", customer_dns),
        ("--chaoslab-config", config),
        ("--metrics-port", metrics_port), ("--csv", csv_prefix), ("--json-file", json_file),
    ):
        if value is not None and value != "":
            argv += [flag, str(value)]
    if metrics_port:
        argv += ["--metrics-host", host]
    if run_time:
        argv += ["--stop-timeout", "2"]  # let in-flight workflows finish and be counted
    return LocustCommand([*argv, *extra], _env())


def _env() -> dict[str, str]:
    return {"PYTHONUNBUFFERED": "1"}  # log lines reach the lab's log file as they happen
