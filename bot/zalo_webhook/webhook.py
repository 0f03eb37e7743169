"""``POST /zalo/webhook``: verify Zalo's signature, store the event once, answer 200 at once.

Nothing else happens in the request: workers handle the event later (Zalo wants an answer within 2 s and
retries otherwise, so delivery is at least once and the inbox deduplicates). A bad or missing signature
gets 401 and nothing is stored; a body that is not a Zalo event gets 400; an oversized one 413.
"""

from __future__ import annotations

import logging
from html import escape

from apiflask import APIBlueprint
from flask import Response, current_app, jsonify, request

from core.config import Settings

from . import inbox, signature
from .events import MalformedEvent, parse
from .metrics import WEBHOOK_EVENTS
from .oas import OARegistry

log = logging.getLogger(__name__)

zalo = APIBlueprint("zalo", __name__, enable_openapi=False)


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    WEBHOOK_EVENTS.labels(outcome=code).inc()
    return jsonify({"error": {"code": code, "message": message}}), status


@zalo.post("/zalo/webhook")
def webhook():
    raw = request.get_data(cache=False)
    try:
        event, _payload = parse(raw)
    except MalformedEvent as error:
        return _error(400, "malformed_event", str(error))
    registry: OARegistry = current_app.extensions["henkham.zalo_oas"]
    oa = registry.get(event.oa_id)
    if oa is None or oa.app_id != event.app_id:
        return _error(401, "unknown_oa", "this OA / app is not served here")
    if not signature.is_valid(
        request.headers.get(signature.HEADER), event.app_id, raw, event.timestamp, oa.oa_secret_key
    ):
        return _error(401, "bad_signature", "the X-ZEvent-Signature header does not sign this body")
    with current_app.extensions["henkham.db"].uow() as uow:
        new = inbox.store(uow, event, raw)
    WEBHOOK_EVENTS.labels(outcome="stored" if new else "duplicate").inc()
    return jsonify({"status": "ok", "duplicate": not new})


@zalo.get("/")
def home():
    """The domain's home page, carrying Zalo's site-verification meta tag when one is configured."""
    settings: Settings = current_app.extensions["henkham.settings"]
    meta = ""
    if settings.zalo_site_verification:
        meta = f'<meta name="zalo-platform-site-verification" content="{escape(settings.zalo_site_verification)}" />'
    page = (
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8">{meta}<title>henkham</title></head>'
        "<body><p>henkham: trợ lý đặt lịch khám qua Zalo OA của bệnh viện.</p></body></html>"
    )
    return Response(page, mimetype="text/html")
