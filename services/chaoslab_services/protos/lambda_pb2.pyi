from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class CreateFunctionRequest(_message.Message):
    __slots__ = ("token", "name", "code_bucket", "code_key")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CODE_BUCKET_FIELD_NUMBER: _ClassVar[int]
    CODE_KEY_FIELD_NUMBER: _ClassVar[int]
    token: str
    name: str
    code_bucket: str
    code_key: str
    def __init__(self, token: _Optional[str] = ..., name: _Optional[str] = ..., code_bucket: _Optional[str] = ..., code_key: _Optional[str] = ...) -> None: ...

class CreateFunctionResponse(_message.Message):
    __slots__ = ("arn", "created")
    ARN_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    arn: str
    created: bool
    def __init__(self, arn: _Optional[str] = ..., created: _Optional[bool] = ...) -> None: ...

class InvokeRequest(_message.Message):
    __slots__ = ("token", "function", "payload")
    class PayloadEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    token: str
    function: str
    payload: _containers.ScalarMap[str, str]
    def __init__(self, token: _Optional[str] = ..., function: _Optional[str] = ..., payload: _Optional[_Mapping[str, str]] = ...) -> None: ...

class InvokeResponse(_message.Message):
    __slots__ = ("result", "cold_start", "request_id")
    class ResultEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RESULT_FIELD_NUMBER: _ClassVar[int]
    COLD_START_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    result: _containers.ScalarMap[str, str]
    cold_start: bool
    request_id: str
    def __init__(self, result: _Optional[_Mapping[str, str]] = ..., cold_start: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...
