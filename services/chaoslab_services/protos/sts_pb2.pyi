from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetSessionTokenRequest(_message.Message):
    __slots__ = ("user", "secret", "duration_seconds")
    USER_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    user: str
    secret: str
    duration_seconds: int
    def __init__(self, user: _Optional[str] = ..., secret: _Optional[str] = ..., duration_seconds: _Optional[int] = ...) -> None: ...

class GetSessionTokenResponse(_message.Message):
    __slots__ = ("token", "expires_at")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: float
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[float] = ...) -> None: ...

class GetCallerIdentityRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class GetCallerIdentityResponse(_message.Message):
    __slots__ = ("user", "arn", "role")
    USER_FIELD_NUMBER: _ClassVar[int]
    ARN_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    user: str
    arn: str
    role: str
    def __init__(self, user: _Optional[str] = ..., arn: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class GetFederationTokenRequest(_message.Message):
    __slots__ = ("token", "duration_seconds")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    token: str
    duration_seconds: int
    def __init__(self, token: _Optional[str] = ..., duration_seconds: _Optional[int] = ...) -> None: ...
