"""What every Zalo endpoint does around its own work: count the request, inject a pending fault, turn
``ZaloError`` / ``OAuthError`` into Zalo's HTTP 200 error replies, and check the ``access_token`` header."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from .codes import (
    EXPIRED_TOKEN,
    INVALID_PARAMETER,
    INVALID_TOKEN,
    OAuthError,
    ZaloError,
    failure,
    oauth_failure,
)
from .context import current_simulator
from .faults import Fault

View = Callable[..., ResponseReturnValue]
REVOKING_CODES = {INVALID_TOKEN, EXPIRED_TOKEN}


def zalo_endpoint(*, oauth: bool = False) -> Callable[[View], View]:
    """Wrap a Zalo endpoint; ``oauth`` selects the flat error shape of the OAuth host."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            simulator = current_simulator()
            simulator.store.count_request(request.path)
            fault = simulator.faults.take(request.path)
            if fault is None:
                return _run(view, oauth, args, kwargs)
            return _inject(fault, view, oauth, args, kwargs)

        return wrapper

    return decorate


def _run(view: View, oauth: bool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ResponseReturnValue:
    try:
        return view(*args, **kwargs)
    except ZaloError as exc:
        return failure(exc.code, exc.message)
    except OAuthError as exc:
        return oauth_failure(exc.code, exc.description)


def _inject(
    fault: Fault, view: View, oauth: bool, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> ResponseReturnValue:
    if fault.is_timeout:
        reply = _run(view, oauth, args, kwargs) if fault.processed else None
        time.sleep(fault.delay_seconds)
        return reply if reply is not None else _http_error(504, "Gateway Timeout")
    status = fault.http_status
    if status is not None:
        return _http_error(status, "Simulated failure")
    code = fault.zalo_code
    assert code is not None
    if code in REVOKING_CODES:
        current_simulator().tokens.revoke(request.headers.get("access_token"))
    return oauth_failure(code) if oauth else failure(code)


def _http_error(status: int, title: str) -> ResponseReturnValue:
    body = f"<html><head><title>{status} {title}</title></head><body><h1>{status} {title}</h1></body></html>"
    return body, status, {"Content-Type": "text/html; charset=utf-8"}


def require_token() -> str:
    """The OA whose valid access token came in the ``access_token`` header, else Zalo's -216."""
    oa_id = current_simulator().tokens.owner(request.headers.get("access_token"))
    if oa_id is None:
        raise ZaloError(INVALID_TOKEN)
    return oa_id


def json_body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ZaloError(INVALID_PARAMETER, "the body must be a JSON object")
    return body


def data_param() -> dict[str, Any]:
    """Zalo's GET endpoints take one JSON query parameter named ``data``."""
    raw = request.args.get("data")
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ZaloError(INVALID_PARAMETER, "query parameter data must be a JSON object")
    return data
