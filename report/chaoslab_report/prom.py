"""The report's only network I/O: Prometheus's HTTP API (`/api/v1/query_range`, `/api/v1/query`).

Everything else in the package works on `Series` values, so the analysis is tested on data
the test writes, and this module is tested against the real Prometheus.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

# Prometheus refuses more than 11,000 points per series; stay well under it.
MAX_POINTS = 10_000


class PrometheusError(RuntimeError):
    pass


@dataclass(frozen=True)
class Series:
    """One time series of a range query: labels, and points on a regular step grid."""

    labels: Mapping[str, str]
    times: tuple[float, ...]  # unix seconds
    values: tuple[float, ...]  # NaN where Prometheus had no sample

    def at(self, t: float) -> float:
        """Value at or before `t` (NaN before the first point)."""
        import bisect

        i = bisect.bisect_right(self.times, t) - 1
        return self.values[i] if i >= 0 else math.nan


class Prometheus:
    """A small client: range and instant queries, errors carrying Prometheus's message."""

    def __init__(self, url: str, timeout: float = 30.0,
                 session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def _get(self, path: str, params: dict[str, str]) -> Any:
        try:
            resp = self.session.get(f"{self.url}{path}", params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise PrometheusError(f"Prometheus at {self.url} unreachable: {exc}") from exc
        try:
            body = resp.json()
        except ValueError:
            raise PrometheusError(
                f"Prometheus at {self.url} answered {resp.status_code}: {resp.text[:200]!r}"
            ) from None
        if body.get("status") != "success":
            raise PrometheusError(
                f"query {params.get('query')!r} failed: {body.get('errorType')}: "
                f"{body.get('error')}")
        return body["data"]

    def query_range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        """`query` evaluated every `step` seconds over [start, end], on a grid aligned to step."""
        if end < start:
            raise ValueError(f"end {end} before start {start}")
        start = math.floor(start / step) * step
        end = math.ceil(end / step) * step
        grid = tuple(start + i * step for i in range(round((end - start) / step) + 1))
        out: list[Series] = []
        # Long windows are fetched in chunks and stitched, so any game day fits.
        chunks: dict[tuple[tuple[str, str], ...], dict[float, float]] = {}
        chunk = (MAX_POINTS - 1) * step
        t = start
        while t <= end:
            stop = min(end, t + chunk)
            data = self._get("/api/v1/query_range", {
                "query": query, "start": _fmt(t), "end": _fmt(stop), "step": _fmt(step)})
            if data.get("resultType") != "matrix":
                raise PrometheusError(f"query {query!r} returned {data.get('resultType')}")
            for item in data["result"]:
                key = tuple(sorted(item["metric"].items()))
                points = chunks.setdefault(key, {})
                for ts, value in item["values"]:
                    points[round(float(ts) / step) * step] = float(value)
            t = stop + step
        for key, points in chunks.items():
            values = tuple(points.get(round(g / step) * step, math.nan) for g in grid)
            out.append(Series(dict(key), grid, values))
        return out

    def query(self, query: str, at: float | None = None) -> list[tuple[dict[str, str], float]]:
        """Instant query: [(labels, value)]."""
        params = {"query": query}
        if at is not None:
            params["time"] = _fmt(at)
        data = self._get("/api/v1/query", params)
        if data.get("resultType") == "scalar":
            return [({}, float(data["result"][1]))]
        return [(item["metric"], float(item["value"][1])) for item in data["result"]]

    def scalar(self, query: str) -> float | None:
        """The first value of an instant query; None when there is none or it is NaN (a
        ratio before any traffic)."""
        result = self.query(query)
        if not result or math.isnan(result[0][1]):
            return None
        return result[0][1]

    def label_values(self, label: str) -> list[str]:
        data = self._get(f"/api/v1/label/{label}/values", {})
        return list(data) if isinstance(data, list) else []


def _fmt(t: float) -> str:
    return f"{t:.3f}"
