from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Item(_message.Message):
    __slots__ = ("pk", "sk", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PK_FIELD_NUMBER: _ClassVar[int]
    SK_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    pk: str
    sk: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, pk: _Optional[str] = ..., sk: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ExpectedValue(_message.Message):
    __slots__ = ("attribute", "value")
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    attribute: str
    value: str
    def __init__(self, attribute: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Condition(_message.Message):
    __slots__ = ("attribute_not_exists", "expected")
    ATTRIBUTE_NOT_EXISTS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    attribute_not_exists: _containers.RepeatedScalarFieldContainer[str]
    expected: _containers.RepeatedCompositeFieldContainer[ExpectedValue]
    def __init__(self, attribute_not_exists: _Optional[_Iterable[str]] = ..., expected: _Optional[_Iterable[_Union[ExpectedValue, _Mapping]]] = ...) -> None: ...

class CreateTableRequest(_message.Message):
    __slots__ = ("table", "ttl_attribute")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    TTL_ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    table: str
    ttl_attribute: str
    def __init__(self, table: _Optional[str] = ..., ttl_attribute: _Optional[str] = ...) -> None: ...

class CreateTableResponse(_message.Message):
    __slots__ = ("created",)
    CREATED_FIELD_NUMBER: _ClassVar[int]
    created: bool
    def __init__(self, created: _Optional[bool] = ...) -> None: ...

class PutItemRequest(_message.Message):
    __slots__ = ("table", "item", "condition")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    table: str
    item: Item
    condition: Condition
    def __init__(self, table: _Optional[str] = ..., item: _Optional[_Union[Item, _Mapping]] = ..., condition: _Optional[_Union[Condition, _Mapping]] = ...) -> None: ...

class PutItemResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetItemRequest(_message.Message):
    __slots__ = ("table", "pk", "sk")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    PK_FIELD_NUMBER: _ClassVar[int]
    SK_FIELD_NUMBER: _ClassVar[int]
    table: str
    pk: str
    sk: str
    def __init__(self, table: _Optional[str] = ..., pk: _Optional[str] = ..., sk: _Optional[str] = ...) -> None: ...

class GetItemResponse(_message.Message):
    __slots__ = ("found", "item")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    found: bool
    item: Item
    def __init__(self, found: _Optional[bool] = ..., item: _Optional[_Union[Item, _Mapping]] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("table", "pk", "sk_prefix", "limit", "descending")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    PK_FIELD_NUMBER: _ClassVar[int]
    SK_PREFIX_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    DESCENDING_FIELD_NUMBER: _ClassVar[int]
    table: str
    pk: str
    sk_prefix: str
    limit: int
    descending: bool
    def __init__(self, table: _Optional[str] = ..., pk: _Optional[str] = ..., sk_prefix: _Optional[str] = ..., limit: _Optional[int] = ..., descending: _Optional[bool] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ...) -> None: ...

class DeleteItemRequest(_message.Message):
    __slots__ = ("table", "pk", "sk", "condition")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    PK_FIELD_NUMBER: _ClassVar[int]
    SK_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    table: str
    pk: str
    sk: str
    condition: Condition
    def __init__(self, table: _Optional[str] = ..., pk: _Optional[str] = ..., sk: _Optional[str] = ..., condition: _Optional[_Union[Condition, _Mapping]] = ...) -> None: ...

class DeleteItemResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...
