"""Typed contacts to plain JSON data and back, for storing them (the office register).

`contact_to_data` gives a dict of JSON types (strings, numbers, booleans, lists, dicts, None)
that `contact_from_data` turns back into an equal typed contact. The dict names its class under
`"class"`; fields are the models' own (snake_case), dates and times in ISO 8601. A field the
stored data lacks takes its default, one the model no longer has is ignored, so data written by
an older version still reads.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any

from .models import (
    Contact,
    CrmCompanyContact,
    CrmContact,
    CrmDeceasedEstateContact,
    CrmPersonContact,
)

__all__ = ["contact_from_data", "contact_to_data"]

_CLASSES: dict[str, type[CrmContact]] = {
    cls.__name__: cls
    for cls in (CrmContact, CrmPersonContact, CrmCompanyContact, CrmDeceasedEstateContact)
}


def contact_to_data(contact: Contact) -> dict[str, Any]:
    data = _encode(contact)
    data["class"] = type(contact).__name__
    return data


def contact_from_data(data: dict[str, Any]) -> Contact:
    cls = _CLASSES.get(data.get("class", ""), CrmContact)
    contact = _decode(cls, data)
    if not isinstance(contact, CrmContact):  # pragma: no cover - _decode of a contact class
        raise TypeError(f"not a contact: {data!r}")
    return contact


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_encode(item) for item in value]
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _decode(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        (item_hint, *_rest) = typing.get_args(hint)
        return tuple(_decode(item_hint, item) for item in value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        names = {f.name for f in dataclasses.fields(hint) if f.init}
        hints = _hints(hint)
        kwargs = {k: _decode(hints[k], v) for k, v in value.items() if k in names}
        return hint(**kwargs)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is date:
        return date.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            return value
    return value
