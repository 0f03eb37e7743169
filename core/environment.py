"""Development or production: what a process refuses to start with, checked once where settings are loaded.

``HENKHAM_ENV=production`` refuses development secrets and the Zalo simulator's addresses. Secrets are found
by name, generically, so settings added later are covered too: any setting (or field of a nested setting such
as an OA of ``HENKHAM_ZALO_OAS``) whose name ends in ``token``, ``secret`` or ``secret_key``. Such a value is a
development value when it is the code's own default, starts with ``dev-``/``dev_``, contains ``change-me``, or
is empty (a top-level secret left unset; an OA's first refresh token may be empty, the database holds it).
Development mode says so once per process, on stderr.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable, Iterator
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

SECRET_SUFFIXES = ("token", "secret", "secret_key")
DEV_MARKERS = ("dev-", "dev_")
OPTIONAL_WHEN_EMPTY = {"refresh_token"}  # an OA's first refresh token: the database may hold the current one
LOCAL_HOSTS = {"localhost", "localhost.localdomain", "0.0.0.0", "::", "::1"}
ENV_PREFIX = "HENKHAM_"

_announced = False
S = TypeVar("S", bound=BaseModel)


class ProductionRefused(ValueError):
    """Raised (inside settings validation) when production is configured with development values."""


def _is_secret(name: str) -> bool:
    return name.lower().endswith(SECRET_SUFFIXES)


def _looks_like_dev(value: str, default: object) -> bool:
    lowered = value.strip().lower()
    return (
        (isinstance(default, str) and default != "" and value == default)
        or lowered.startswith(DEV_MARKERS)
        or "change-me" in lowered
        or "changeme" in lowered
    )


def _secrets(model: BaseModel, where: str, top_level: bool) -> Iterator[str]:
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        label = f"{where}{name.upper()}" if top_level else f"{where}.{name}"
        if isinstance(value, BaseModel):
            yield from _secrets(value, label, False)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _secrets(item, f"{label}[{index}]", False)
        elif _is_secret(name) and isinstance(value, str):
            if value.strip() == "":
                if top_level or name not in OPTIONAL_WHEN_EMPTY:
                    yield f"{label} is empty"
            elif _looks_like_dev(value, field.default):
                yield f"{label} is a development value"


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, in any form the resolver accepts: ``127.1``, ``0x7f000001`` and
    ``2130706433`` are 127.0.0.1 to ``inet_aton``; ``::ffff:127.0.0.1`` is too (no DNS is asked)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.ip_address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_local(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    address = _address(host)
    return address is not None and (address.is_loopback or address.is_unspecified)


def production_problems(settings: BaseModel) -> list[str]:
    """What keeps these settings from running in production (empty: nothing)."""
    problems = list(_secrets(settings, ENV_PREFIX, True))
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name.startswith("zalo_") and name.endswith("_base") and isinstance(value, str) and _is_local(value):
            problems.append(f"{ENV_PREFIX}{name.upper()} points at a local address (the Zalo simulator)")
    if getattr(settings, "rate_limit_enabled", True) is False:
        problems.append(f"{ENV_PREFIX}RATE_LIMIT_ENABLED is off")
    if str(getattr(settings, "rate_limit_storage_url", "")).startswith("memory://"):
        problems.append(
            f"{ENV_PREFIX}RATE_LIMIT_STORAGE_URL is memory:// (each web process would count alone: use Redis)"
        )
    return problems


def refuse_development_values(settings: BaseModel) -> None:
    """The rule itself, called by the settings' own validation (so every way of making settings passes it)."""
    if getattr(settings, "env", "development") != "production":
        return
    problems = production_problems(settings)
    if problems:
        raise ProductionRefused("HENKHAM_ENV=production refuses to start: " + "; ".join(problems))


def one_line(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{ENV_PREFIX}{where.upper()}: {message}" if where else message)
    return "; ".join(parts)


def checked(factory: Callable[[], S]) -> S:
    """Load the settings; a refusal is one line on stderr and exit status 1 (SystemExit), never a traceback."""
    global _announced
    try:
        settings = factory()
    except ValidationError as error:
        raise SystemExit(f"henkham: configuration refused: {one_line(error)}") from None
    if getattr(settings, "env", "development") != "production" and not _announced:
        _announced = True
        print(
            "henkham: development mode (HENKHAM_ENV=development): development secrets and the Zalo simulator "
            "are allowed; production sets HENKHAM_ENV=production",
            file=sys.stderr,
        )
    return settings
