"""Stop-condition readings: PromQL instant queries against the Prometheus HTTP API.

A query's value is its scalar, or the largest sample of its instant vector (any series
above the threshold breaches the condition); an empty vector is "no data", which never
breaches. Every failure (connection refused, timeout, HTTP or PromQL error, a range
result) becomes a `Reading` with an error: reported in the scenario's status, never an abort.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from chaoslab_operator.plan import Reading


@dataclass(frozen=True)
class Prometheus:
    url: str  # base URL, e.g. http://127.0.0.1:9090
    timeout: float = 3.0

    def query(self, promql: str) -> Reading:
        endpoint = self.url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode(
            {"query": promql}
        )
        try:
            with urllib.request.urlopen(endpoint, timeout=self.timeout) as resp:
                payload = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("error", "")
            except (ValueError, OSError):
                detail = ""
            return Reading(error=f"Prometheus {self.url}: HTTP {exc.code} {detail}".strip())
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return Reading(error=f"Prometheus {self.url} unreachable: {reason}")
        return parse_result(payload)


def parse_result(payload: object) -> Reading:
    """Interpret a /api/v1/query response body."""
    if not isinstance(payload, dict) or payload.get("status") != "success":
        error = payload.get("error") if isinstance(payload, dict) else None
        return Reading(error=f"query failed: {error or 'unexpected response'}")
    data = payload.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    try:
        if kind == "scalar":
            return Reading(value=float(result[1]))
        if kind == "vector":
            values = [float(sample["value"][1]) for sample in result]
            values = [v for v in values if not math.isnan(v)]
            return Reading(value=max(values) if values else None)
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        return Reading(error=f"unreadable {kind} result: {exc}")
    return Reading(error=f"query returned a {kind}, want a scalar or an instant vector")


def unavailable(reason: str = "no Prometheus URL configured (--prometheus)") -> Reading:
    return Reading(error=reason)
