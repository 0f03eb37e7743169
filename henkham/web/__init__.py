"""Flask application factory."""

from __future__ import annotations

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import Response, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.routing import IntegerConverter

from bot.zalo_webhook.oas import OARegistry
from bot.zalo_webhook.webhook import zalo
from core.config import Settings, get_settings
from core.errors import DomainError, InvalidInput
from core.uow import Database

from .json_provider import StrictJSONProvider

API_DESCRIPTION = """henkham's core REST API for a Zalo Mini App, a check-in kiosk and the hospital information system.

The catalogue (hospitals, departments, doctors, visit types, free slots) is public. Everything else needs an
API key (`Authorization: Bearer hk_…`); a client that acts for an end user names that user in the
`X-Henkham-Account` header. Errors are `{"error": {"code", "message", "message_vi", "details"}}`;
`message_vi` is a polite Vietnamese sentence a patient-facing client may show as it is.
"""


class IdConverter(IntegerConverter):
    """A positive 32-bit database id in a URL; anything larger is simply not found."""

    def __init__(self, map, *args, **kwargs) -> None:
        super().__init__(map, min=1, max=2**31 - 1)


def create_app(settings: Settings | None = None, database: Database | None = None) -> APIFlask:
    settings = settings or get_settings()
    app = APIFlask(
        "henkham",
        title="henkham API",
        version="1.0",
        spec_path="/api/v1/openapi.json",
        docs_path="/api/v1/docs",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        VALIDATION_ERROR_STATUS_CODE=422,
        DESCRIPTION=API_DESCRIPTION,
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.json = StrictJSONProvider(app)  # request bodies: UTF-8, bounded nesting (400, not 500)
    app.json.ensure_ascii = False
    app.extensions["henkham.db"] = database or Database.from_settings(settings)
    app.extensions["henkham.settings"] = settings
    app.extensions["henkham.zalo_oas"] = OARegistry(settings)

    @app.error_processor
    def _http_error(error: HTTPError):  # every HTTP error, validation errors included
        code = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
            422: "invalid_input",
        }.get(error.status_code, "http_error")
        if error.status_code >= 500:
            code = "internal_error"
        message = error.message
        if error.status_code == 422:
            message = "the request is not valid; see details"
        body = {
            "error": {
                "code": code,
                "message": message,
                "message_vi": _VI.get(code, _VI["http_error"]),
                "details": error.detail or {},
            }
        }
        return body, error.status_code, error.headers

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        body = {
            "error": {
                "code": error.code,
                "message": error.message,
                "message_vi": error.message_vi,
                "details": error.details,
            }
        }
        return body, error.status

    app.url_map.converters["id"] = IdConverter

    @app.before_request
    def _refuse_nul_characters():
        # PostgreSQL text cannot hold NUL: refuse it at the door rather than fail deep inside.
        raw = request.full_path + "".join(request.headers.values())
        if "\x00" in raw or "%00" in request.full_path:
            raise InvalidInput("NUL characters are not allowed", "Dạ, thông tin gửi lên có ký tự không hợp lệ ạ.")

    from . import campaigns_api  # noqa: F401  (adds the campaign routes to the api blueprint)
    from .api import api

    app.register_blueprint(api)
    app.register_blueprint(zalo)

    @app.get("/metrics")
    @app.doc(hide=True)
    def metrics():
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    @app.doc(hide=True)
    def healthz():
        return {"status": "ok"}

    return app


_VI = {
    "unauthorized": "Dạ, ứng dụng chưa được cấp quyền truy cập ạ.",
    "forbidden": "Dạ, ứng dụng không có quyền thực hiện thao tác này ạ.",
    "bad_request": "Dạ, yêu cầu gửi lên chưa đúng định dạng ạ.",
    "not_found": "Dạ, em không tìm thấy thông tin này ạ.",
    "invalid_input": "Dạ, thông tin gửi lên chưa đúng. Anh/chị kiểm tra lại giúp em ạ.",
    "too_large": "Dạ, dữ liệu gửi lên quá lớn ạ.",
    "internal_error": "Dạ, hệ thống đang gặp sự cố. Anh/chị vui lòng thử lại sau ít phút ạ.",
    "http_error": "Dạ, yêu cầu chưa thực hiện được. Anh/chị vui lòng thử lại ạ.",
}
