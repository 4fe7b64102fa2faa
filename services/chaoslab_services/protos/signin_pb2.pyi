from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ConsoleLoginRequest(_message.Message):
    __slots__ = ("user", "secret", "duration_seconds")
    USER_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    user: str
    secret: str
    duration_seconds: int
    def __init__(self, user: _Optional[str] = ..., secret: _Optional[str] = ..., duration_seconds: _Optional[int] = ...) -> None: ...

class ConsoleLoginResponse(_message.Message):
    __slots__ = ("token", "expires_at", "principal")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: float
    principal: str
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[float] = ..., principal: _Optional[str] = ...) -> None: ...
