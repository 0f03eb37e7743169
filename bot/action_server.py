"""The action server (``henkham actions``): rasa-sdk's executor behind the doors it lacks.

rasa-sdk's own server listens on 0.0.0.0, runs any action for anyone who posts ``/webhook`` (so anyone on
the network could read, book and cancel any Zalo user's appointments by naming their ``sender_id``), allows
every CORS origin, reads a ``text/plain`` body as JSON (so any web page could fire it from a browser), and
answers an action's error with the whole request, i.e. the tracker with the patient's name, birth date and
phone, which Rasa then logs. This server runs the same executor and speaks the same protocol, but:

- listens on ``HENKHAM_ACTIONS_HOST`` (127.0.0.1 by default);
- runs nothing without ``Authorization: Bearer <HENKHAM_ACTIONS_TOKEN>`` (401), which Rasa sends from
  ``bot/endpoints.yml``; only ``GET /health`` answers without it;
- takes only ``application/json`` bodies (415), sends no CORS headers;
- answers an error with its kind only, and logs it without the request (``bot/redaction.py`` masks the rest).
"""

from __future__ import annotations

import hmac
import json
import logging
import zlib
from collections.abc import Callable
from typing import Any

from rasa_sdk import utils
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionMissingDomainException, ActionNotFoundException
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import redaction
from core.correlation import clean, correlated
from core.db import is_disconnect

log = logging.getLogger(__name__)

ACTIONS_PACKAGE = "bot.actions"
PUBLIC_PATHS = frozenset({"/health"})


def _error(status: int, code: str, message: str, **extra: Any) -> HTTPResponse:
    return response.json({"error": message, "code": code, **extra}, status=status)


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def bearer_token(request: Request) -> str:
    scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def create_app(token: str, executor: ActionExecutor | None = None, name: str = "henkham_actions") -> Sanic:
    """The action server's Sanic app; ``token`` is the secret Rasa must send (never empty)."""
    if not token:
        raise ValueError("the action server needs a token (HENKHAM_ACTIONS_TOKEN)")
    if executor is None:
        executor = ActionExecutor()
        executor.register_package(ACTIONS_PACKAGE)
    expected = token.encode()
    app = Sanic(name, configure_logging=False)

    @app.on_request
    async def doors(request: Request) -> HTTPResponse | None:
        if request.path in PUBLIC_PATHS and request.method in ("GET", "HEAD"):
            return None
        if not hmac.compare_digest(bearer_token(request).encode(), expected):
            return _error(401, "not_authenticated", "send the action server's token: Authorization: Bearer …")
        if request.method not in ("GET", "HEAD") and not is_json(request.headers.get("content-type", "")):
            return _error(415, "unsupported_media_type", "send the body as application/json")
        return None

    @app.get("/health")
    async def health(_request: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @app.get("/actions")
    async def actions(_request: Request) -> HTTPResponse:
        # The executor also registers the abstract bases of the actions (their name is None): not actions.
        return response.json([{"name": name} for name in executor.actions if isinstance(name, str)])

    @app.post("/webhook")
    async def webhook(request: Request) -> HTTPResponse:
        try:
            body = request.body
            if request.headers.get("content-encoding") == "deflate":  # Rasa's COMPRESS_ACTION_SERVER_REQUEST
                body = zlib.decompress(body)
            action_call = json.loads(body)
        except (zlib.error, ValueError):
            return _error(400, "invalid_body", "the body is not a JSON action call")
        if not isinstance(action_call, dict):
            return _error(400, "invalid_body", "the body is not a JSON action call")
        utils.check_version_compatibility(action_call.get("version"))
        try:
            with correlated(correlation_of(action_call)):  # what this request's log lines carry, no more
                result = await _run(executor, action_call)
        except ActionExecutionRejection as error:
            return _error(400, "rejected", error.message, action_name=error.action_name)
        except ActionNotFoundException as error:
            log.error("action %r not found", error.action_name)
            return _error(404, "not_found", error.message, action_name=error.action_name)
        except ActionMissingDomainException as error:
            return _error(449, "missing_domain", error.message, action_name=error.action_name)
        return response.json(result.model_dump() if result else None)

    @app.exception(Exception)
    async def failed(request: Request, error: Exception) -> HTTPResponse:
        if isinstance(error, SanicException):  # 404, 405, a body too large …: what Sanic says, no more
            return _error(error.status_code, "http_error", str(error))
        # Never the request (the tracker) in the answer or the log; the traceback is masked by redaction.
        name = ""
        try:
            call = json.loads(request.body) if request.body else {}
            name = str(call.get("next_action") or "") if isinstance(call, dict) else ""
        except (ValueError, UnicodeDecodeError):
            pass
        log.error("action %r failed: %s", name, type(error).__name__, exc_info=error)
        return _error(500, "action_failed", f"action {name!r} failed ({type(error).__name__})", action_name=name)

    return app


async def _run(executor: ActionExecutor, action_call: dict[str, Any]) -> Any:
    """Run the action, once more if the database connection was lost under it (a restart, a cut connection), so
    the patient gets an answer instead of "the assistant could not handle this". The unit of work in progress
    was rolled back with the connection; one that had committed before is met again by an action that changes
    nothing twice: a booking carries its form's idempotency key (the same appointment comes back), cancelling a
    cancelled appointment returns it, a reschedule into the slot it is in already says so."""
    try:
        return await executor.run(action_call)
    except Exception as error:
        if not is_disconnect(error):
            raise
        log.warning("action %r: the database connection was lost; running it again", action_call.get("next_action"))
        return await executor.run(action_call)


def correlation_of(action_call: dict[str, Any]) -> str:
    """The correlation id of the Zalo event whose message Rasa is answering: the ``message_id`` the worker sent
    (``zalo-<inbox id>``, kept on the user's message in the tracker), when it has that shape."""
    tracker = action_call.get("tracker")
    latest = tracker.get("latest_message") if isinstance(tracker, dict) else None
    metadata = latest.get("metadata") if isinstance(latest, dict) else None
    return clean(metadata.get("message_id")) if isinstance(metadata, dict) else ""


def serve(host: str, port: int, token: str, configure_logs: Callable[[], None] | None = None) -> None:
    """Serve the actions on ``host:port`` in this process until it is stopped; ``configure_logs`` sets up its
    logging (henkham/logs.py), else rasa-sdk's colored logs."""
    redaction.install()
    if configure_logs is None:
        utils.configure_colored_logging("INFO")
    else:
        configure_logs()
    utils.update_sanic_log_level()
    app = create_app(token)
    log.info("action server on http://%s:%d", host, port)
    app.run(host=host, port=port, single_process=True, access_log=False, motd=False)
