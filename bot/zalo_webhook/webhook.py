"""``POST /zalo/webhook``: verify Zalo's signature, store the event once, answer 200 at once.

Nothing else happens in the request: workers handle the event later (Zalo wants an answer within 2 s and
retries otherwise, so delivery is at least once and the inbox deduplicates). What each body gets:

- not UTF-8 JSON, nested too deeply, no ``app_id`` / ``event_name`` / ``timestamp``, an OA named by something
  that is not a Zalo id: 400 ``malformed_event``, nothing stored; over 64 KB: 413 (a user id that is not a
  Zalo id is dropped: the event is stored without a user, nobody is answered);
- a shape naming no OA at all: it belongs to the OA of our app whose secret signed it (stored without a
  user), else it is treated as below;
- one of our OAs under another app id: 401 ``unknown_oa``; one of our OAs with a bad or missing signature:
  401 ``bad_signature``; nothing stored;
- an OA not served here (Zalo's console "Test" button addresses OA 579745863508352884 with placeholder
  fields): unsigned (or the app is not ours), 200 ``ignored`` and nothing stored; signed with the OA secret
  key of one of our app's OAs, it is stored like any event (the worker marks it ``unknown_oa``; kept for an
  operator who has not configured that OA yet);
- signed, but its timestamp older than ``zalo_event_max_age_hours`` (or ahead of our clock by more than
  ``zalo_event_future_minutes``): 400 ``stale_event`` (a replay: Zalo's own retries come within about an
  hour); a timestamp that is not a number: 200 ``ignored`` (the console's placeholders), nothing stored;
- otherwise stored once (200, ``duplicate`` true for a repeated delivery).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from html import escape

from apiflask import APIBlueprint
from flask import Response, current_app, jsonify, request

from core.config import Settings
from core.correlation import correlated, of_event
from core.db import is_disconnect
from core.timeutil import utcnow
from core.uow import Database

from . import inbox, signature
from .events import MalformedEvent, ZaloEvent, event_time, parse
from .metrics import WEBHOOK_EVENTS
from .oas import OARegistry

log = logging.getLogger(__name__)

zalo = APIBlueprint("zalo", __name__, enable_openapi=False)


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    WEBHOOK_EVENTS.labels(outcome=code).inc()
    return jsonify({"error": {"code": code, "message": message}}), status


def _ignored(reason: str) -> Response:
    WEBHOOK_EVENTS.labels(outcome="ignored").inc()
    return jsonify({"status": "ignored", "reason": reason})


def _signed(event: ZaloEvent, raw: bytes, secrets: list[str]) -> bool:
    header = request.headers.get(signature.HEADER)
    return any(signature.is_valid(header, event.app_id, raw, event.timestamp, secret) for secret in secrets)


def _freshness(event: ZaloEvent, settings: Settings, now: dt.datetime) -> str | None:
    """None when the event may be stored, else why not ("stale" or "no_time")."""
    at = event_time(event.timestamp)
    if at is None:
        return "no_time"
    too_old = now - at > dt.timedelta(hours=settings.zalo_event_max_age_hours)
    too_new = at - now > dt.timedelta(minutes=settings.zalo_event_future_minutes)
    return "stale" if too_old or too_new else None


@zalo.post("/zalo/webhook")
def webhook():
    raw = request.get_data(cache=False)
    registry: OARegistry = current_app.extensions["henkham.zalo_oas"]
    settings: Settings = current_app.extensions["henkham.settings"]
    try:
        event, _payload = parse(raw, registry.serves)
    except MalformedEvent as error:
        return _error(400, "malformed_event", str(error))
    if not event.oa_id:  # a shape naming no OA: it is the OA whose secret signed it, if any of ours did
        app_oas = registry.of_app(event.app_id)
        if not app_oas:
            return _error(401, "unknown_oa", "this OA / app is not served here")
        signer = next((candidate for candidate in app_oas if _signed(event, raw, [candidate.oa_secret_key])), None)
        if signer is None:
            return _ignored("not_our_oa")
        event = replace(event, oa_id=signer.oa_id)
    oa = registry.get(event.oa_id)
    if oa is not None:
        if oa.app_id != event.app_id:
            return _error(401, "unknown_oa", "this OA / app is not served here")
        if not _signed(event, raw, [oa.oa_secret_key]):
            return _error(401, "bad_signature", "the X-ZEvent-Signature header does not sign this body")
    elif not _signed(event, raw, [candidate.oa_secret_key for candidate in registry.of_app(event.app_id)]):
        # An OA we do not serve and no signature of ours: Zalo's console test button (or noise). Acknowledge it
        # (a webhook that keeps failing is switched off) and keep nothing.
        log.info("webhook: unsigned %s for OA %s (not served here) acknowledged", event.name, event.oa_id)
        return _ignored("not_our_oa")
    else:
        log.warning("webhook: signed %s for OA %s of our app, which is not configured here", event.name, event.oa_id)
    why = _freshness(event, settings, utcnow())
    if why == "stale":
        return _error(400, "stale_event", "the event's timestamp is outside the accepted window")
    if why == "no_time":
        log.info("webhook: %s with a timestamp that is not a time acknowledged, not stored", event.name)
        return _ignored("timestamp_not_a_time")
    new = _store(current_app.extensions["henkham.db"], event, raw)
    WEBHOOK_EVENTS.labels(outcome="stored" if new else "duplicate").inc()
    if new is not None:
        with correlated(of_event(new)):  # the id every later process logs this event's work under
            log.info("webhook: %s stored", event.name)
    return jsonify({"status": "ok", "duplicate": new is None})


def _store(db: Database, event: ZaloEvent, raw: bytes) -> int | None:
    """``inbox.store``, once more on a new connection if the database connection was lost (a restart, a cut):
    storing is idempotent, and Zalo may not deliver the event again after an error."""
    for attempt in (1, 2):
        try:
            with db.uow() as uow:
                return inbox.store(uow, event, raw)
        except Exception as error:
            if attempt == 2 or not is_disconnect(error):
                raise
            log.warning("webhook: the database connection was lost; storing the event again")
    return None


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
