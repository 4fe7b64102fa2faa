"""Polling for the tests: wait until a probe holds, and say what was last seen if it never does.

`chaoslab.procs.wait_until` is the lab's (it fails naming a dead process's log); this one
returns the probe's value, so a test can wait for and use it in one step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll until `probe()` is truthy and return it; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
        except Exception as exc:  # a probe may fail while things settle
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)
