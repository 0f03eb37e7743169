"""The base of every input shape (API bodies, CLI and service inputs): no unknown fields, surrounding spaces
stripped, no NUL characters (PostgreSQL refuses them in text); dates only as ISO strings within sane years."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator
from pydantic_core import PydanticCustomError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


MIN_DATE = dt.date(1800, 1, 1)  # generous: the services have the precise rules (birth dates, horizons)
MAX_DATE = dt.date(2999, 12, 31)  # far beyond any horizon, yet date arithmetic cannot overflow
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


_DATETIME_HINT = "Input should be an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS][+07:00])"


def _invalid(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def _iso_date(value: object) -> object:
    """Only an ISO calendar date (YYYY-MM-DD) between 1800 and 2999: pydantic's lax mode would read 0 as 1970-01-01."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise _invalid("date_parsing", "Input should be a real calendar date (YYYY-MM-DD)") from exc
    else:
        raise _invalid("date_parsing", "Input should be a date written YYYY-MM-DD")
    if not MIN_DATE <= day <= MAX_DATE:
        raise _invalid("date_range", f"Input should be a date between {MIN_DATE} and {MAX_DATE}")
    return day


def _iso_datetime(value: object) -> object:
    """An ISO 8601 date-time string (or a datetime): never a bare number of seconds."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise _invalid("datetime_parsing", _DATETIME_HINT) from exc
    else:
        raise _invalid("datetime_parsing", _DATETIME_HINT)
    if not MIN_DATE <= moment.date() <= MAX_DATE:
        raise _invalid("date_range", f"Input should be between {MIN_DATE} and {MAX_DATE}")
    return moment


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_datetime)]
