"""Stop-condition readings: PromQL instant queries against the Prometheus HTTP API.

A query's value is its scalar, or the largest sample of its instant vector (any series
above the threshold breaches the condition); an empty vector or NaN is "no data". Every
failure becomes a `Reading` with an error and a reason the planner acts on: QueryInvalid
(HTTP 400 bad_data: a parse error, an unknown function; or a result that is not a scalar or
an instant vector), QueryFailed (HTTP 422: the evaluation failed), PrometheusUnreachable
(no connection, a timeout, any other HTTP error). Prometheus's own error text is kept.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from chaoslab_operator.plan import QUERY_FAILED, QUERY_INVALID, UNREACHABLE, Reading


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
                body = json.loads(exc.read())
                detail = f"{body.get('errorType', '')}: {body.get('error', '')}".strip(": ")
            except (ValueError, OSError, AttributeError):
                detail = ""
            if exc.code == 400:
                return Reading(error=f"Prometheus refused the query: {detail}",
                               reason=QUERY_INVALID)
            if exc.code == 422:
                return Reading(error=f"Prometheus could not evaluate it: {detail}",
                               reason=QUERY_FAILED)
            return Reading(error=f"Prometheus {self.url}: HTTP {exc.code} {detail}".strip(),
                           reason=UNREACHABLE)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return Reading(error=f"Prometheus {self.url} unreachable: {reason}",
                           reason=UNREACHABLE)
        return parse_result(payload)


def parse_result(payload: object) -> Reading:
    """Interpret a /api/v1/query response body."""
    if not isinstance(payload, dict) or payload.get("status") != "success":
        error = payload.get("error") if isinstance(payload, dict) else None
        return Reading(error=f"query failed: {error or 'unexpected response'}",
                       reason=QUERY_FAILED)
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
        return Reading(error=f"unreadable {kind} result: {exc}", reason=QUERY_FAILED)
    hint = " (a range vector: wrap it, e.g. max_over_time(q[1m]))" if kind == "matrix" else ""
    return Reading(
        error=f"query returned a {kind}{hint}, want a scalar or an instant vector",
        reason=QUERY_INVALID,
    )


def unavailable(reason: str = "no Prometheus URL configured (--prometheus)") -> Reading:
    return Reading(error=reason, reason=UNREACHABLE)
