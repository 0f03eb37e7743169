"""The base of every input shape (API bodies, CLI and service inputs): no unknown fields, surrounding spaces
stripped, no NUL characters (PostgreSQL refuses them in text); dates only as ISO strings within sane years."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    """Only an ISO calendar date (YYYY-MM-DD) between 1900 and 2100: pydantic's lax mode would read 0 as 1970-01-01."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError("must be a real calendar date (YYYY-MM-DD)") from exc
    else:
        raise ValueError("must be a date written YYYY-MM-DD")
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(f"must be between {MIN_DATE} and {MAX_DATE}")
    return day


def _iso_datetime(value: object) -> object:
    """An ISO 8601 date-time string (or a datetime): never a bare number of seconds."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError("must be an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS][+07:00])") from exc
    else:
        raise ValueError("must be an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS][+07:00])")
    if not MIN_DATE <= moment.date() <= MAX_DATE:
        raise ValueError(f"must be between {MIN_DATE} and {MAX_DATE}")
    return moment


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_datetime)]
