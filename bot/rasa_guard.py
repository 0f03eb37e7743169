"""The Rasa server's doors, for the Rasa environment (stdlib and Rasa only; installed by bot/rasa_server.py).

Rasa's ``--auth-token`` guards its HTTP API (trackers, events, ``/model/parse`` …) but not the channel
webhooks: ``/webhooks/rest/webhook`` would let anyone who reaches the port talk as any user, and every
route reads a ``text/plain`` body as JSON, so any web page could fire one from a browser. Here one Sanic
request middleware, ahead of every route, refuses:

- a request without the server's token (``?token=…``, as Rasa's own API expects it): 401, except ``GET /``
  (Rasa's bare "Hello from Rasa" health check, which tells nothing about conversations);
- a request with a body that is not ``application/json``: 415.

What Rasa logs about a failed action call is fixed too: its ``ClientResponseError`` wrote the whole response
body of the action server into the exception's message (rasa-sdk answered an error with the request, i.e.
the whole tracker), and Rasa logs that exception with its traceback. The message keeps the status only; the
body stays on ``.text`` for Rasa's own handling of a rejected action (HTTP 400).
"""

from __future__ import annotations

import hmac
import inspect
from typing import Any

from rasa.core import run as rasa_run
from rasa.utils import endpoints as rasa_endpoints
from sanic import Sanic, response
from sanic.request import Request

HEALTH_PATHS = frozenset({"/"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _failure(status: int, reason: str, message: str) -> response.HTTPResponse:
    return response.json({"status": "failure", "reason": reason, "message": message, "code": status}, status=status)


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def guard(app: Sanic, token: str) -> None:
    """Refuse every request to ``app`` without ``token``, and any body that is not JSON."""
    expected = token.encode()

    async def check(request: Request) -> response.HTTPResponse | None:
        if request.method in ("GET", "HEAD") and request.path in HEALTH_PATHS:
            return None
        provided = (request.args.get("token") or "").encode()
        if not hmac.compare_digest(provided, expected):
            return _failure(401, "NotAuthenticated", "This server needs its token (?token=…).")
        if request.method in BODY_METHODS and request.body and not is_json(request.headers.get("content-type", "")):
            return _failure(415, "UnsupportedMediaType", "Send the body as application/json.")
        return None

    app.register_middleware(check, "request")


_configure_app = rasa_run.configure_app
_AUTH_TOKEN_AT = list(inspect.signature(_configure_app).parameters).index("auth_token")


def configure_app(*args: Any, **kwargs: Any) -> Sanic:
    """``rasa.core.run.configure_app`` that refuses to serve without a token, and guards every route."""
    token = kwargs.get("auth_token", args[_AUTH_TOKEN_AT] if len(args) > _AUTH_TOKEN_AT else None)
    if not token:
        raise SystemExit("rasa-server: no auth token (set HENKHAM_RASA_TOKEN; scripts/rasa-server passes it)")
    app = _configure_app(*args, **kwargs)
    guard(app, token)
    return app


class ClientResponseError(rasa_endpoints.ClientResponseError):
    """Rasa's error of an endpoint's HTTP error, without the response body in its message."""

    def __init__(self, status: int, message: str, text: Any) -> None:
        super().__init__(status, message, text)
        self.args = (f"{status}, {message}",)

    def __str__(self) -> str:
        return f"{self.status}, {self.message}"


def install() -> None:
    rasa_run.configure_app = configure_app  # serve_application looks the function up when it runs
    rasa_endpoints.ClientResponseError = ClientResponseError  # EndpointConfig.request raises the module's name
