"""CloudWatch stand-in: metrics in memory, alarms and their state in DynamoDB.

Every call is authorised via IAM (global, us-east-1), so even us-west-2 monitoring goes
blind when us-east-1 IAM does. Alarm definitions and states live in ``dynamodb.<region>``;
the evaluator re-reads them each ``alarm_eval_interval`` and writes state changes with a
conditional put, so while DynamoDB is unreachable alarms silently stop changing state --
the "monitoring was down too" part of the incident.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

import grpc

from chaoslab_services.common import validation as v
from chaoslab_services.common.auth import authorize
from chaoslab_services.common.config import parse_duration
from chaoslab_services.common.deps import DependencyError
from chaoslab_services.common.errors import ServiceError, invalid
from chaoslab_services.common.server import Runtime, rpc
from chaoslab_services.common.tables import Tables
from chaoslab_services.protos import cloudwatch_pb2 as pb
from chaoslab_services.protos import cloudwatch_pb2_grpc as pb_grpc
from chaoslab_services.protos import dynamodb_pb2

ALARMS = "cloudwatch-alarms"
ALARM_PK = "alarms"
STATISTICS = ("Sum", "Average", "Maximum", "Minimum", "SampleCount")
COMPARISONS = {
    "GreaterThanThreshold": lambda x, t: x > t,
    "GreaterThanOrEqualToThreshold": lambda x, t: x >= t,
    "LessThanThreshold": lambda x, t: x < t,
    "LessThanOrEqualToThreshold": lambda x, t: x <= t,
}
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
MAX_SERIES = 20_000
MAX_DIMENSIONS = 30
MAX_DATAPOINTS = 1440

SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]


def _check_dimensions(field: str, dims: Any) -> tuple[tuple[str, str], ...]:
    if len(dims) > MAX_DIMENSIONS:
        raise invalid(field, f"at most {MAX_DIMENSIONS} dimensions")
    for k, val in dims.items():
        v.name(f"{field}[{k[:32]!r}]", k)
        v.key(f"{field}[{k[:32]!r}]", val)
    return tuple(sorted(dims.items()))


def _statistic(stat: str, agg: list[float]) -> float:
    count, total, lo, hi = agg
    return {"Sum": total, "Average": total / count if count else 0.0, "Maximum": hi,
            "Minimum": lo, "SampleCount": count}[stat]


class CloudWatchServicer(pb_grpc.CloudWatchServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.region = runtime.region
        s = runtime.settings
        self.retention = parse_duration(s.get("retention", "3h"), "settings.retention")
        self.eval_every = parse_duration(s.get("alarm_eval_interval", "10s"),
                                         "settings.alarm_eval_interval")
        self.tables = Tables(runtime, f"dynamodb.{self.region}")
        # series -> second -> [count, sum, min, max]
        self.series: dict[SeriesKey, dict[int, list[float]]] = {}

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:000000000000:{kind}/{name}"

    def _add(self, key: SeriesKey, ts: float, value: float, count: int) -> None:
        series = self.series.get(key)
        if series is None:
            if len(self.series) >= MAX_SERIES:
                raise ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"series limit ({MAX_SERIES}) reached")
            series = self.series[key] = {}
        second = int(ts)
        agg = series.get(second)
        if agg is None:
            series[second] = [count, value * count, value, value]
        else:
            agg[0] += count
            agg[1] += value * count
            agg[2] = min(agg[2], value)
            agg[3] = max(agg[3], value)

    def aggregate(self, key: SeriesKey, start: float, end: float, period: int
                  ) -> dict[int, list[float]]:
        """period start -> [count, sum, min, max] over [start, end)."""
        out: dict[int, list[float]] = {}
        for second, (count, total, lo, hi) in self.series.get(key, {}).items():
            if start <= second < end:
                bucket = int(start + ((second - start) // period) * period)
                agg = out.get(bucket)
                if agg is None:
                    out[bucket] = [count, total, lo, hi]
                else:
                    agg[0] += count
                    agg[1] += total
                    agg[2] = min(agg[2], lo)
                    agg[3] = max(agg[3], hi)
        return out

    @rpc
    async def PutMetricData(self, request: pb.PutMetricDataRequest) -> pb.PutMetricDataResponse:
        v.name("namespace", request.namespace)
        if not request.data:
            raise invalid("data", "at least one datum is required")
        if len(request.data) > 1000:
            raise invalid("data", "at most 1000 data per call")
        now = time.time()
        checked = []
        for i, d in enumerate(request.data):
            v.name(f"data[{i}].metric_name", d.metric_name)
            dims = _check_dimensions(f"data[{i}].dimensions", d.dimensions)
            v.finite(f"data[{i}].value", d.value, lo=-1e300, hi=1e300)
            ts = d.timestamp or now
            v.finite(f"data[{i}].timestamp", ts, lo=now - 14 * 86400, hi=now + 7200)
            if d.count > 1_000_000:
                raise invalid(f"data[{i}].count", "must be <= 1000000")
            checked.append(((request.namespace, d.metric_name, dims), ts, d.value, d.count or 1))
        await authorize(self.runtime, request.token, "cloudwatch:PutMetricData",
                        self.arn("metric", request.namespace))
        for key, ts, value, count in checked:
            self._add(key, ts, value, count)
        return pb.PutMetricDataResponse(accepted=len(checked))

    @rpc
    async def GetMetricStatistics(self, request: pb.GetMetricStatisticsRequest
                                  ) -> pb.GetMetricStatisticsResponse:
        v.name("namespace", request.namespace)
        v.name("metric_name", request.metric_name)
        dims = _check_dimensions("dimensions", request.dimensions)
        v.finite("start_time", request.start_time, lo=0)
        v.finite("end_time", request.end_time, lo=0)
        if request.end_time <= request.start_time:
            raise invalid("end_time", "must be after start_time")
        if not 1 <= request.period_seconds <= 86400:
            raise invalid("period_seconds", f"must be 1..86400, got {request.period_seconds}")
        if (request.end_time - request.start_time) / request.period_seconds > MAX_DATAPOINTS:
            raise invalid("period_seconds", f"range/period gives more than {MAX_DATAPOINTS} points")
        await authorize(self.runtime, request.token, "cloudwatch:GetMetricStatistics",
                        self.arn("metric", request.namespace))
        buckets = self.aggregate((request.namespace, request.metric_name, dims),
                                 request.start_time, request.end_time, request.period_seconds)
        out = pb.GetMetricStatisticsResponse()
        for ts in sorted(buckets):
            count, total, lo, hi = buckets[ts]
            out.datapoints.add(timestamp=ts, sample_count=int(count), sum=total, minimum=lo,
                               maximum=hi, average=total / count if count else 0.0)
        return out

    @rpc
    async def PutMetricAlarm(self, request: pb.PutMetricAlarmRequest) -> pb.PutMetricAlarmResponse:
        a = request.alarm
        v.name("alarm.name", a.name)
        v.name("alarm.namespace", a.namespace)
        v.name("alarm.metric_name", a.metric_name)
        dims = _check_dimensions("alarm.dimensions", a.dimensions)
        v.one_of("alarm.statistic", a.statistic, STATISTICS)
        v.one_of("alarm.comparison", a.comparison, tuple(COMPARISONS))
        if not 1 <= a.period_seconds <= 86400:
            raise invalid("alarm.period_seconds", f"must be 1..86400, got {a.period_seconds}")
        if not 1 <= a.evaluation_periods <= 100:
            raise invalid("alarm.evaluation_periods", "must be 1..100")
        v.finite("alarm.threshold", a.threshold)
        await authorize(self.runtime, request.token, "cloudwatch:PutMetricAlarm",
                        self.arn("alarm", a.name))
        definition = {"namespace": a.namespace, "metric_name": a.metric_name,
                      "dimensions": dict(dims), "statistic": a.statistic,
                      "period_seconds": a.period_seconds,
                      "evaluation_periods": a.evaluation_periods, "threshold": a.threshold,
                      "comparison": a.comparison}
        await self.tables.put(ALARMS, ALARM_PK, {
            "definition": json.dumps(definition, sort_keys=True), "state": "INSUFFICIENT_DATA",
            "state_reason": "alarm created or updated", "state_updated_at": f"{time.time():.3f}",
        }, sk=a.name)
        return pb.PutMetricAlarmResponse()

    async def _alarms(self) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
        resp = await self.tables.call("Query", dynamodb_pb2.QueryRequest(
            table=ALARMS, pk=ALARM_PK, limit=1000))
        out = []
        for item in resp.items:
            try:
                out.append((item.sk, json.loads(item.attributes["definition"]),
                            dict(item.attributes)))
            except (KeyError, ValueError):
                continue
        return out

    @rpc
    async def DescribeAlarms(self, request: pb.DescribeAlarmsRequest) -> pb.DescribeAlarmsResponse:
        if request.name_prefix:
            v.name("name_prefix", request.name_prefix)
        if request.state:
            v.one_of("state", request.state, STATES)
        await authorize(self.runtime, request.token, "cloudwatch:DescribeAlarms",
                        self.arn("alarm", request.name_prefix + "*"))
        out = pb.DescribeAlarmsResponse()
        for name, d, attrs in await self._alarms():
            if not name.startswith(request.name_prefix):
                continue
            if request.state and attrs.get("state") != request.state:
                continue
            out.alarms.add(
                name=name, namespace=d["namespace"], metric_name=d["metric_name"],
                dimensions=d["dimensions"], statistic=d["statistic"],
                period_seconds=d["period_seconds"], evaluation_periods=d["evaluation_periods"],
                threshold=d["threshold"], comparison=d["comparison"],
                state=attrs.get("state", ""), state_reason=attrs.get("state_reason", ""),
                state_updated_at=float(attrs.get("state_updated_at", "0") or 0))
        return out

    def evaluate(self, d: dict[str, Any], now: float) -> tuple[str, str]:
        """New state of an alarm: ALARM when every evaluated period breaches."""
        period, periods = int(d["period_seconds"]), int(d["evaluation_periods"])
        end = math.floor(now / period) * period
        start = end - period * periods
        key = (d["namespace"], d["metric_name"], tuple(sorted(d["dimensions"].items())))
        buckets = self.aggregate(key, start, end, period)
        if not buckets:
            return "INSUFFICIENT_DATA", "no datapoints in the evaluation range"
        compare = COMPARISONS[d["comparison"]]
        values = [_statistic(d["statistic"], buckets[t]) if t in buckets else None
                  for t in range(int(start), int(end), period)]
        breaching = [x is not None and compare(x, d["threshold"]) for x in values]
        if all(breaching):
            return "ALARM", f"{d['statistic']} breached {d['threshold']} for {periods} period(s)"
        return "OK", f"{d['statistic']} within threshold"

    async def evaluator(self) -> None:
        while True:
            await asyncio.sleep(self.eval_every)
            self.prune(time.time())
            try:
                alarms = await self._alarms()
                for name, d, attrs in alarms:
                    state, reason = self.evaluate(d, time.time())
                    if state == attrs.get("state"):
                        continue
                    await self.tables.put(ALARMS, ALARM_PK, {
                        **attrs, "state": state, "state_reason": reason,
                        "state_updated_at": f"{time.time():.3f}"},
                        sk=name, expected={"state": attrs.get("state", "")})
            except DependencyError:
                continue  # the edge already counted and logged it; try next round

    def prune(self, now: float) -> None:
        cutoff = int(now - self.retention)
        for key in list(self.series):
            series = self.series[key]
            for second in [s for s in series if s < cutoff]:
                del series[second]
            if not series:
                del self.series[key]


def register(runtime: Runtime) -> list[tuple[Any, Any, str]]:
    servicer = CloudWatchServicer(runtime)
    runtime.background(servicer.evaluator)
    return [(pb_grpc.add_CloudWatchServicer_to_server, servicer,
             "chaoslab.cloudwatch.v1.CloudWatch")]
