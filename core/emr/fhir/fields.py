"""The henkham extension that carries what FHIR's own elements do not (lossless round trips).

Every resource the exporter writes says in FHIR's own elements what FHIR can say (codes, periods, dosage,
quantities, references). Whatever the record holds beyond that (XML 130 fields FHIR has no element for:
MA_LOAI_KCB, KET_QUA_DTRI, PP_DIEU_TRI, the XML8 summary texts, the XML14 slip details, the XML3 services, a
value written "5.20" …) travels in one extension, ``RECORD_FIELDS``, whose sub-extensions are named after the
field of ``core.emr.records`` they hold:

    {"url": "https://henkham.vn/fhir/StructureDefinition/record-fields",
     "extension": [{"url": "outcome", "valueString": "1"},
                   {"url": "summary", "extension": [{"url": "course", "valueString": "…"}, …]}]}

Values are typed (valueString, valueInteger, valueBoolean, valueDate, valueDateTime, valueTime, valueCode for
enumerations; a decimal as valueString, its digits as written); a tuple repeats its sub-extension; a nested
record value (an XML8 summary, an XML3 service) nests its own fields. A field whose value is the default
("" / None / ()) while FHIR's elements would say otherwise is written ``{"url": name, "valueCode": "absent"}``.
Other systems may ignore the extension: they still read everything FHIR can say.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import types
import typing
from decimal import Decimal
from functools import cache
from typing import Any

from core.timeutil import LOCAL_TZ, UTC

BASE_URL = "https://henkham.vn/fhir"
RECORD_FIELDS = f"{BASE_URL}/StructureDefinition/record-fields"
_ABSENT = "absent"


def fhir_datetime(moment: dt.datetime) -> str:
    """An instant as FHIR dateTime in Vietnam local time (what the hospital wrote), offset included."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(LOCAL_TZ)
    offset = local.utcoffset()
    if offset is not None and offset.seconds % 60:  # local mean time before 1906 (+07:06:30): FHIR has no seconds
        local = moment.astimezone(UTC)
    return local.isoformat(timespec="microseconds" if local.microsecond else "seconds")


def parse_datetime(value: str | None) -> dt.datetime | None:
    """A FHIR dateTime as an aware UTC datetime; a date alone (or a year / month) is local midnight."""
    if not value:
        return None
    if "T" not in value:
        day = parse_date(value)
        return None if day is None else dt.datetime.combine(day, dt.time(), LOCAL_TZ).astimezone(UTC)
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.astimezone(UTC)


def parse_date(value: str | None) -> dt.date | None:
    """The day of a FHIR date or dateTime (the first day of a bare year or month)."""
    if not value:
        return None
    if "T" in value:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment.astimezone(LOCAL_TZ) if moment.tzinfo else moment).date()
    parts = [int(part) for part in value.split("-")]
    while len(parts) < 3:
        parts.append(1)
    return dt.date(*parts[:3])


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _base(hint: Any) -> tuple[Any, bool]:
    """The type of a hint without None, and whether it is a tuple of it."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], True
    return hint, False


def _default(cls: type, name: str) -> Any:
    for item in dataclasses.fields(cls):
        if item.name == name:
            if item.default is not dataclasses.MISSING:
                return item.default
            if item.default_factory is not dataclasses.MISSING:
                return item.default_factory()
    hint, many = _base(_hints(cls)[name])
    return () if many else "" if hint is str else None


def _empty(cls: type, name: str) -> Any:
    """The empty value of a field: () for a tuple, None when it may be None, else ""."""
    hint = _hints(cls)[name]
    if typing.get_origin(hint) is tuple:
        return ()
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return () if typing.get_origin(_base(hint)[0]) is tuple else None
    return ""


def _is_default(value: Any) -> bool:
    return value is None or value == "" or value == ()


def _one(name: str, hint: Any, value: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(hint):
        return {"url": name, "extension": object_extensions(value)}
    if isinstance(value, enum.Enum):
        return {"url": name, "valueCode": value.value}
    if isinstance(value, bool):
        return {"url": name, "valueBoolean": value}
    if isinstance(value, int):
        return {"url": name, "valueInteger": value}
    if isinstance(value, Decimal):  # as written: a JSON number would round it
        return {"url": name, "valueString": str(value)}
    if isinstance(value, dt.datetime):
        return {"url": name, "valueDateTime": fhir_datetime(value)}
    if isinstance(value, dt.date):
        return {"url": name, "valueDate": value.isoformat()}
    if isinstance(value, dt.time):
        return {"url": name, "valueTime": value.isoformat()}
    return {"url": name, "valueString": str(value)}


def field_extensions(obj: Any, names: typing.Iterable[str], *, explicit: bool = False) -> list[dict[str, Any]]:
    """Sub-extensions for the named fields of a record value. A field at its default is left out (read back as
    the default) unless ``explicit``; an empty value ("" / None / ()) that is not the default is written absent."""
    hints = _hints(type(obj))
    out: list[dict[str, Any]] = []
    for name in names:
        value = getattr(obj, name)
        hint, many = _base(hints[name])
        if not explicit and value == _default(type(obj), name):
            continue
        if _is_default(value):
            out.append({"url": name, "valueCode": _ABSENT})
            continue
        for item in value if many else (value,):
            out.append(_one(name, hint, item))
    return out


def object_extensions(obj: Any) -> list[dict[str, Any]]:
    """Every non-default field of a record value (an object with only defaults says so with one marker)."""
    subs = field_extensions(obj, [item.name for item in dataclasses.fields(obj)])
    return subs or [{"url": "empty", "valueBoolean": True}]


def _value(hint: Any, ext: dict[str, Any]) -> Any:
    if dataclasses.is_dataclass(hint):
        return decode_object(hint, ext.get("extension") or [])
    if "valueCode" in ext and isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(ext["valueCode"])
    if "valueDateTime" in ext:
        return parse_datetime(ext["valueDateTime"])
    if "valueDate" in ext:
        return parse_date(ext["valueDate"])
    if "valueTime" in ext:
        return dt.time.fromisoformat(ext["valueTime"])
    if "valueDecimal" in ext:
        return Decimal(str(ext["valueDecimal"]))
    if "valueInteger" in ext:
        return int(ext["valueInteger"])
    if "valueBoolean" in ext:
        return bool(ext["valueBoolean"])
    if hint is Decimal:
        return Decimal(str(ext.get("valueString")))
    return str(ext.get("valueString", ""))


def decode_fields(cls: type, subs: typing.Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The field values the sub-extensions hold, for a record class (unknown names are ignored)."""
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for ext in subs:
        name = ext.get("url", "")
        if name not in hints:
            continue
        hint, many = _base(hints[name])
        if ext.get("valueCode") == _ABSENT and not (isinstance(hint, type) and issubclass(hint, enum.Enum)):
            values[name] = _empty(cls, name)
            continue
        value = _value(hint, ext)
        if many:
            values[name] = (*values.get(name, ()), value)
        else:
            values[name] = value
    return values


def decode_object(cls: type, subs: typing.Iterable[dict[str, Any]]) -> Any:
    """A record value from its sub-extensions; a field the extension leaves out is its default."""
    values = decode_fields(cls, subs)
    for item in dataclasses.fields(cls):
        if item.name not in values:
            values[item.name] = _default(cls, item.name)
    return cls(**values)


def record_fields_extension(original: Any, native: Any, *, skip: typing.Iterable[str] = ()) -> dict | None:
    """The RECORD_FIELDS extension holding the fields of ``original`` that ``native`` (what FHIR's own elements
    give back) gets wrong, or None when FHIR says everything."""
    skipped = set(skip)
    names = [
        item.name
        for item in dataclasses.fields(original)
        if item.name not in skipped and getattr(original, item.name) != getattr(native, item.name)
    ]
    if not names:
        return None
    return {"url": RECORD_FIELDS, "extension": field_extensions(original, names, explicit=True)}


def with_record_fields(native: Any, extensions: typing.Iterable[dict[str, Any]] | None) -> Any:
    """``native`` corrected by the RECORD_FIELDS extension among ``extensions``, when there is one."""
    for ext in extensions or ():
        if ext.get("url") == RECORD_FIELDS:
            return dataclasses.replace(native, **decode_fields(type(native), ext.get("extension") or []))
    return native
