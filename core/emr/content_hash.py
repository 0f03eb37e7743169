"""A stable fingerprint of a record value: SHA-256 of its canonical JSON.

Two imports of the same visit give the same hash whatever the file around it looked like (the parser has already
normalised text to NFC, dates to UTC, codes to strings); any change of any field gives another hash. The
canonical form: dataclasses as objects with every field (sorted keys), tuples as lists, frozensets as sorted
lists, enums by value, decimals, dates and times as their ISO / string form, compact separators, UTF-8.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import json
from decimal import Decimal
from typing import Any


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def canonical(value: Any) -> Any:
    """``value`` as plain JSON values (see the module docstring)."""
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, enum.Enum):
            return value.value
        return value
    if isinstance(value, tuple | list):
        return [canonical(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: canonical(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"time": value.isoformat()}
    if isinstance(value, frozenset | set):
        return sorted(canonical(item) for item in value)
    if isinstance(value, float):
        return value
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _default(value: Any) -> Any:
    """The encoder's hook for what JSON lacks (the C encoder does tuples, strings, enums and numbers)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: getattr(value, name) for name in _field_names(type(value))}
    if isinstance(value, Decimal | dt.datetime | dt.date | dt.time | frozenset | set):
        return canonical(value)
    raise TypeError(f"no canonical form for {type(value).__name__}")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def content_hash(value: Any) -> str:
    """The hex SHA-256 of ``value``'s canonical JSON (the same text as ``json.dumps(canonical(value))``)."""
    return hashlib.sha256(_ENCODER.encode(value).encode("utf-8")).hexdigest()
