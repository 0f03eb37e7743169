"""Every refusal of the web app as the one error JSON: ``{"error": {"code", "message", "message_vi", "details"}}``.

HTTP errors (routing, validation, auth, a body too large…), rate limits (429 with ``Retry-After``), the domain
errors of the services, and anything unexpected (500, nothing leaked) all go through here.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import request
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from core.errors import DomainError

from .limits import retry_after

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}
VI = {
    "unauthorized": "Dạ, ứng dụng chưa được cấp quyền truy cập ạ.",
    "forbidden": "Dạ, ứng dụng không có quyền thực hiện thao tác này ạ.",
    "bad_request": "Dạ, yêu cầu gửi lên chưa đúng định dạng ạ.",
    "not_found": "Dạ, em không tìm thấy thông tin này ạ.",
    "invalid_input": "Dạ, thông tin gửi lên chưa đúng. Anh/chị kiểm tra lại giúp em ạ.",
    "too_large": "Dạ, dữ liệu gửi lên quá lớn ạ.",
    "unsupported_media_type": "Dạ, dữ liệu cần được gửi dưới dạng JSON ạ.",
    "rate_limited": "Dạ, anh/chị thao tác quá nhanh. Anh/chị vui lòng thử lại sau ít phút ạ.",
    "internal_error": "Dạ, hệ thống đang gặp sự cố. Anh/chị vui lòng thử lại sau ít phút ạ.",
    "http_error": "Dạ, yêu cầu chưa thực hiện được. Anh/chị vui lòng thử lại ạ.",
}
NOT_VALID = "the request is not valid; see details"

# The HTTP status of every code a DomainError can carry (the services name no status; the API maps them here,
# the chat and the CLI in their own forms). tests/test_error_codes.py fails for a code raised without a row.
_RULES = (  # core/booking/rules.py, core/booking/appointments.py, core/booking/checkin.py: a rule refuses
    "already_started",
    "beyond_horizon",
    "change_cutoff_passed",
    "duplicate_in_session",
    "not_changeable",
    "not_checked_in",
    "not_checkin_able",
    "slot_elsewhere",
    "slot_full",
    "slot_in_past",
    "slot_unavailable",
    "too_late_to_book",
    "too_many_active",
    "wrong_day",
)
_CAPS = ("too_many_profiles", "client_profile_limit", "too_many_bookings", "client_booking_limit")  # caps.py
STATUS_OF_CODE: dict[str, int] = {
    "domain_error": 400,
    "account_required": 400,
    "invalid_zalo_token": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    **dict.fromkeys(_RULES, 409),
    **dict.fromkeys(_CAPS, 409),
    "invalid_input": 422,
    "import_refused": 422,  # henkham/web/emr_api.py: nothing of the file imported (the report in details)
    # core/emr/record_access.py and consent.py: record links in chat, the desk
    "phone_not_on_record": 404,
    "phone_shared": 409,
    "wrong_code": 422,
    "code_expired": 422,
    "no_pending_code": 409,
    "locked_out": 429,
    "too_many_codes": 429,
    "not_linked": 403,
    "not_guardian": 409,
    "desk_code_unknown": 404,
    "no_consent": 403,
    "bot_unreachable": 503,
    "zalo_unavailable": 503,
}


def status_of(error: DomainError) -> int:
    """The HTTP status the API answers ``error`` with (400, a refusal, for a code the table lacks)."""
    return STATUS_OF_CODE.get(error.code, 400)


def body(code: str, message: str, details: dict | None = None, message_vi: str | None = None) -> dict:
    return {
        "error": {
            "code": code,
            "message": message,
            "message_vi": message_vi or VI.get(code, VI["http_error"]),
            "details": details or {},
        }
    }


def _in_console() -> bool:
    """The staff console answers errors with HTML pages (henkham/web/console/pages.py), not the error JSON."""
    return request.blueprint == "staff" or request.path == "/staff" or request.path.startswith("/staff/")


def _console_page(status: int, message_vi: str | None, headers: Any = None) -> Any:
    from .console.pages import error_page

    return error_page(status, message_vi, dict(headers or {}))


def install(app: APIFlask) -> None:
    @app.error_processor
    def _http_error(error: HTTPError):  # every HTTP error, validation errors included
        if _in_console():
            return _console_page(error.status_code, None, error.headers)
        code = CODES.get(error.status_code, "http_error")
        message = error.message
        if error.status_code >= 500:
            code, message = "internal_error", "internal error"
        if error.status_code == 422:
            message = NOT_VALID
        return body(code, message, error.detail or {}), error.status_code, error.headers

    @app.errorhandler(HTTPException)
    def _werkzeug_error(error: HTTPException):
        # APIFlask's own handler keeps only the reason phrase; keep a description that says more.
        described = error.description and error.description != type(error).description
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        message = error.description if described and (error.code or 500) < 500 else error.name
        return _http_error(HTTPError(error.code or 500, message=message, headers=headers))

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(error: RateLimitExceeded):
        limiter = app.extensions["henkham.limiter"]
        seconds = retry_after(limiter)
        if _in_console():
            return _console_page(429, None, {"Retry-After": str(seconds)})
        details = {"limit": str(error.limit.limit), "retry_after_seconds": seconds}
        return body("rate_limited", "too many requests; retry later", details), 429, {"Retry-After": str(seconds)}

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        if _in_console():
            return _console_page(status_of(error), error.message_vi)
        return body(error.code, error.message, error.details, error.message_vi), status_of(error)
