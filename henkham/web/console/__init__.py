"""The staff console: ``/staff``, server-rendered pages for the staff of every hospital of the deployment.

Each area of the console is a module of this package adding its views to the ``console`` blueprint; every view
declares its permission with ``access.requires`` and calls the same core services as the API and the CLI (the
channel's services for the hand-off inbox). ``access.guard`` is the one check in front of every view.
Front-end libraries (htmx, Chart.js) come from the npm registry with a lock file (``assets/``, installed by
``make setup``) and are served from this origin; the pages run under a CSP without inline scripts or styles.
"""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path

from apiflask import APIBlueprint
from flask import Flask, abort, send_from_directory

from core.config import Settings

console = APIBlueprint(
    "staff", __name__, url_prefix="/staff", template_folder="templates", static_folder="static", enable_openapi=False
)

ASSETS_DIR = Path(__file__).resolve().parent / "assets" / "node_modules"
# The library files the pages load, by the name they are served under: nothing else of node_modules is served.
ASSETS = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "chart.umd.js": "chart.js/dist/chart.umd.js",
}
# The areas of the console, each a module of this package (imported for its views).
_AREAS: tuple[str, ...] = (
    "auth_pages",
    "staff_pages",
    "schedule_pages",
    "desk",
    "record_links",
    "records_pages",
    "broadcast_pages",
    "inbox",
    "figures_pages",
)


@console.get("/assets/<name>")
def asset(name: str):
    if name not in ASSETS:
        abort(404)
    path = ASSETS_DIR / ASSETS[name]
    if not path.is_file():
        abort(404)  # `make setup` installs them (npm ci)
    return send_from_directory(path.parent, path.name, mimetype="text/javascript", max_age=3600)


def install(app: Flask, settings: Settings) -> None:
    """Register the console on ``app``: Flask-Login, CSRF, the cookie flags, the guard and every area."""
    secure = settings.staff_cookie_secure if settings.staff_cookie_secure is not None else settings.env == "production"
    app.config.update(
        SESSION_COOKIE_NAME="henkham_staff",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_PATH="/staff",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.staff_session_hours),
        REMEMBER_COOKIE_DURATION=dt.timedelta(seconds=0),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by access.guard for the console only (the API has no cookies)
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which has its own timeouts
        WTF_CSRF_SSL_STRICT=secure,
    )
    access.login_manager.init_app(app)
    access.csrf.init_app(app)
    app.register_blueprint(console)


# Once per process, before any app registers the blueprint: the guard, the page context, every area's views.
from . import access, pages  # noqa: E402

console.before_request(access.guard)
console.context_processor(pages.page_context)
for _area in _AREAS:
    importlib.import_module(f"{__name__}.{_area}")
