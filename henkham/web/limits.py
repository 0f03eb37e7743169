"""Rate limits of the API, all in this module, applied to endpoints by name (Flask-Limiter).

Counters live in ``HENKHAM_RATE_LIMIT_STORAGE_URL``: ``memory://`` (one process; the SQLite default) or
``redis://…`` (shared by every web process and worker, so the budget is per deployment, not per process). When
Redis cannot be reached the limits carry on in memory rather than refuse or fail requests.

- booking-code lookups, check-ins, a patient's appointments and re-exams and a person's clinical record by id: per
  API key and per client IP,
  and, much tighter, the lookups that match nothing (404) or another hospital's record (403) — a busy desk
  checks in hundreds of patients an hour, a guesser of 6-character codes (31^6, about 887 million) gets a few
  hundred misses a day;
- refused authentications (401), per client IP, on every endpoint that needs a key (a request with a live key
  is exempt, so a guesser cannot lock out the honest clients behind the same address);
- refused staff console logins (401), per client IP and per username;
- new bookings (201), per end-user account (the key and the Zalo user its token proves, or its
  ``X-Henkham-Account``), or per key without one.

Keys are never stored raw: a key is named by a prefix of its SHA-256 digest, an account by a digest too.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from flask import Flask, Response, request
from flask_limiter import Limiter, RequestLimit
from werkzeug.middleware.proxy_fix import ProxyFix

from core.config import Settings

LOOKUP_ENDPOINTS = (
    "api_v1.list_patient_appointments",
    "api_v1.list_re_exams",
    "api_v1.get_appointment",
    "api_v1.cancel_appointment",
    "api_v1.reschedule_appointment",
    "api_v1.complete_appointment",
    "api_v1.check_in",
    "api_v1.person_fhir",  # a clinical record by person id (henkham/web/emr_api.py)
)
BOOKING_ENDPOINTS = ("api_v1.create_appointment",)
STAFF_LOGIN = "staff.login"  # the console's login (henkham/web/console/auth_pages.py): refused logins only


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:24]


def client_ip() -> str:
    return request.remote_addr or "unknown"


def api_key() -> str:
    """The caller's API key as a digest prefix ("nokey" without one): never the key itself."""
    credentials = request.authorization
    token = (credentials.token if credentials is not None else None) or ""
    return f"key:{_digest(token)}" if token else "nokey"


def account() -> str:
    """The end-user account the request acts for (the Zalo user its token proves, or its X-Henkham-Account) with
    the key, as one digest."""
    from .api import end_user  # the API's own reading of who acts, not a second one

    return f"account:{_digest(api_key(), end_user())}"


def staff_username() -> str:
    """The username a console login names, as a digest (so a guesser is slowed on each account, from any IP)."""
    return f"staff:{_digest((request.form.get('username') or '').strip().lower()[:60])}"


def _status_is(*statuses: int) -> Callable[[Response], bool]:
    return lambda response: response.status_code in statuses


def _has_a_live_key() -> bool:
    """A request whose key authenticates is never refused for the failed keys of others on its address."""
    from .api import request_client  # the API's own look-up of the key, made once per request

    return request_client() is not None


def retry_after(limiter: Limiter) -> int:
    """Seconds until every breached limit of this request has room again (at least 1)."""
    breached: list[RequestLimit] = [limit for limit in limiter.current_limits if limit.breached]
    resets = [limit.reset_at for limit in breached] or [int(time.time()) + 1]
    return max(1, int(max(resets) - time.time()))


def install(app: Flask, settings: Settings) -> Limiter:
    """Create the limiter of this app and apply the limits to their endpoints (all routes are registered)."""
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    limiter = Limiter(
        key_func=client_ip,
        app=app,
        storage_uri=settings.rate_limit_storage_url,
        strategy="moving-window",
        headers_enabled=True,
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        key_prefix="henkham",
        enabled=settings.rate_limit_enabled,
    )

    def apply(endpoint: str, limit: str, scope: str, key: Callable[[], str], **kw: object) -> None:
        view = app.view_functions[endpoint]
        app.view_functions[endpoint] = limiter.shared_limit(limit, scope, key_func=key, **kw)(view)  # type: ignore[arg-type]

    for endpoint in LOOKUP_ENDPOINTS:
        apply(endpoint, settings.rate_limit_lookups_per_key, "lookups-key", api_key)
        apply(endpoint, settings.rate_limit_lookups_per_ip, "lookups-ip", client_ip)
        # a miss: nothing found, or another hospital's record (a guesser learns from both)
        missed = _status_is(403, 404)
        apply(endpoint, settings.rate_limit_failed_lookups_per_key, "missed-key", api_key, deduct_when=missed)
        apply(endpoint, settings.rate_limit_failed_lookups_per_ip, "missed-ip", client_ip, deduct_when=missed)
    for endpoint in BOOKING_ENDPOINTS:
        apply(endpoint, settings.rate_limit_bookings_per_account, "bookings", account, deduct_when=_status_is(201))
    if STAFF_LOGIN in app.view_functions:
        refused = _status_is(401)
        apply(
            STAFF_LOGIN,
            settings.rate_limit_staff_login_per_ip,
            "staff-login-ip",
            client_ip,
            deduct_when=refused,
            methods=["POST"],
        )
        apply(
            STAFF_LOGIN,
            settings.rate_limit_staff_login_per_user,
            "staff-login-user",
            staff_username,
            deduct_when=refused,
            methods=["POST"],
        )
    for endpoint in needs_a_key(app):
        apply(
            endpoint,
            settings.rate_limit_failed_auth_per_ip,
            "failed-auth",
            client_ip,
            deduct_when=_status_is(401),
            exempt_when=_has_a_live_key,
        )
    app.extensions["henkham.limiter"] = limiter
    return limiter


def needs_a_key(app: Flask) -> list[str]:
    """The endpoints that authenticate (APIFlask marks them in the view's spec)."""
    return [
        endpoint for endpoint, view in app.view_functions.items() if getattr(view, "_spec", {}).get("auth") is not None
    ]


def limited_endpoints(app: Flask) -> set[str]:
    """Every endpoint a 429 can come from (documented in the OpenAPI document)."""
    return {*LOOKUP_ENDPOINTS, *BOOKING_ENDPOINTS, *needs_a_key(app)}
