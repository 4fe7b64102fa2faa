from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MetricDatum(_message.Message):
    __slots__ = ("metric_name", "dimensions", "value", "timestamp", "count")
    class DimensionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    metric_name: str
    dimensions: _containers.ScalarMap[str, str]
    value: float
    timestamp: float
    count: int
    def __init__(self, metric_name: _Optional[str] = ..., dimensions: _Optional[_Mapping[str, str]] = ..., value: _Optional[float] = ..., timestamp: _Optional[float] = ..., count: _Optional[int] = ...) -> None: ...

class PutMetricDataRequest(_message.Message):
    __slots__ = ("token", "namespace", "data")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    token: str
    namespace: str
    data: _containers.RepeatedCompositeFieldContainer[MetricDatum]
    def __init__(self, token: _Optional[str] = ..., namespace: _Optional[str] = ..., data: _Optional[_Iterable[_Union[MetricDatum, _Mapping]]] = ...) -> None: ...

class PutMetricDataResponse(_message.Message):
    __slots__ = ("accepted",)
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    def __init__(self, accepted: _Optional[int] = ...) -> None: ...

class GetMetricStatisticsRequest(_message.Message):
    __slots__ = ("token", "namespace", "metric_name", "dimensions", "start_time", "end_time", "period_seconds")
    class DimensionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    METRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PERIOD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    token: str
    namespace: str
    metric_name: str
    dimensions: _containers.ScalarMap[str, str]
    start_time: float
    end_time: float
    period_seconds: int
    def __init__(self, token: _Optional[str] = ..., namespace: _Optional[str] = ..., metric_name: _Optional[str] = ..., dimensions: _Optional[_Mapping[str, str]] = ..., start_time: _Optional[float] = ..., end_time: _Optional[float] = ..., period_seconds: _Optional[int] = ...) -> None: ...

class Datapoint(_message.Message):
    __slots__ = ("timestamp", "sample_count", "sum", "minimum", "maximum", "average")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUM_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_FIELD_NUMBER: _ClassVar[int]
    timestamp: float
    sample_count: int
    sum: float
    minimum: float
    maximum: float
    average: float
    def __init__(self, timestamp: _Optional[float] = ..., sample_count: _Optional[int] = ..., sum: _Optional[float] = ..., minimum: _Optional[float] = ..., maximum: _Optional[float] = ..., average: _Optional[float] = ...) -> None: ...

class GetMetricStatisticsResponse(_message.Message):
    __slots__ = ("datapoints",)
    DATAPOINTS_FIELD_NUMBER: _ClassVar[int]
    datapoints: _containers.RepeatedCompositeFieldContainer[Datapoint]
    def __init__(self, datapoints: _Optional[_Iterable[_Union[Datapoint, _Mapping]]] = ...) -> None: ...

class Alarm(_message.Message):
    __slots__ = ("name", "namespace", "metric_name", "dimensions", "statistic", "period_seconds", "evaluation_periods", "threshold", "comparison", "state", "state_reason", "state_updated_at")
    class DimensionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    METRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    PERIOD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_PERIODS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    metric_name: str
    dimensions: _containers.ScalarMap[str, str]
    statistic: str
    period_seconds: int
    evaluation_periods: int
    threshold: float
    comparison: str
    state: str
    state_reason: str
    state_updated_at: float
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., metric_name: _Optional[str] = ..., dimensions: _Optional[_Mapping[str, str]] = ..., statistic: _Optional[str] = ..., period_seconds: _Optional[int] = ..., evaluation_periods: _Optional[int] = ..., threshold: _Optional[float] = ..., comparison: _Optional[str] = ..., state: _Optional[str] = ..., state_reason: _Optional[str] = ..., state_updated_at: _Optional[float] = ...) -> None: ...

class PutMetricAlarmRequest(_message.Message):
    __slots__ = ("token", "alarm")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ALARM_FIELD_NUMBER: _ClassVar[int]
    token: str
    alarm: Alarm
    def __init__(self, token: _Optional[str] = ..., alarm: _Optional[_Union[Alarm, _Mapping]] = ...) -> None: ...

class PutMetricAlarmResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DescribeAlarmsRequest(_message.Message):
    __slots__ = ("token", "name_prefix", "state")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAME_PREFIX_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    token: str
    name_prefix: str
    state: str
    def __init__(self, token: _Optional[str] = ..., name_prefix: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

class DescribeAlarmsResponse(_message.Message):
    __slots__ = ("alarms",)
    ALARMS_FIELD_NUMBER: _ClassVar[int]
    alarms: _containers.RepeatedCompositeFieldContainer[Alarm]
    def __init__(self, alarms: _Optional[_Iterable[_Union[Alarm, _Mapping]]] = ...) -> None: ...
