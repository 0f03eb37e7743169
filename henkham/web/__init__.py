"""Flask application factory: the web app assembled from its parts (henkham/bootstrap.py ``web()`` wires them)."""

from __future__ import annotations

import hmac

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from werkzeug.routing import IntegerConverter

from bot.zalo_webhook.graph import ZaloGraph
from bot.zalo_webhook.metrics import QueueCollector
from bot.zalo_webhook.oas import OARegistry
from bot.zalo_webhook.webhook import zalo
from core.config import Settings
from core.uow import Database

from . import bodies, console, docs, errors, headers, limits, openapi, paths

API_DESCRIPTION = """henkham's core REST API for a Zalo Mini App, a check-in kiosk and the hospital information system.

The catalogue (hospitals, departments, doctors, visit types, free slots) is public. Everything else needs an
API key (`Authorization: Bearer hk_…`); a client that acts for an end user proves that user with their Zalo
access token (`X-Zalo-Access-Token`, verified with Zalo's Graph API); only a server-to-server key created with
`--trust-account-header` may name the user in `X-Henkham-Account` instead. A key bound to a hospital gets 403
for any other hospital's records. Errors are `{"error": {"code", "message", "message_vi", "details"}}`;
`message_vi` is a polite Vietnamese sentence a patient-facing client may show as it is. Booking-code lookups,
check-ins, refused authentications and bookings are rate limited: a limited client gets 429 with `Retry-After`.
"""


def _bearer_is(secret: str) -> bool:
    """Whether the request carries ``Authorization: Bearer <secret>`` (constant time; never with no secret)."""
    given = request.authorization.token if request.authorization and request.authorization.token else ""
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


class IdConverter(IntegerConverter):
    """A positive 32-bit database id in a URL; anything larger is simply not found."""

    def __init__(self, map, *args, **kwargs) -> None:
        super().__init__(map, min=1, max=2**31 - 1)


def create_app(
    settings: Settings | None = None, database: Database | None = None, graph: ZaloGraph | None = None
) -> APIFlask:
    """The app of ``settings``; what is not given is wired by henkham/bootstrap.py, as for the web process."""
    from henkham import bootstrap

    settings = settings or bootstrap.load_settings()
    app = APIFlask(
        "henkham",
        title="henkham API",
        version="1.0",
        spec_path="/api/v1/openapi.json",
        docs_path=None,  # henkham/web/docs.py serves the docs page with local assets
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        VALIDATION_ERROR_STATUS_CODE=422,
        DESCRIPTION=API_DESCRIPTION,
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.request_class = bodies.StrictRequest
    app.json = bodies.StrictJSONProvider(app)
    app.json.ensure_ascii = False
    app.extensions["henkham.db"] = database or bootstrap.database(settings)
    app.extensions["henkham.settings"] = settings
    app.extensions["henkham.zalo_graph"] = graph or bootstrap.graph(settings)
    app.extensions["henkham.rasa"] = bootstrap.rasa_bot(settings)
    app.extensions["henkham.campaign_channel"] = bootstrap.campaign_channel()
    app.extensions["henkham.zalo_oas"] = OARegistry(settings)

    errors.install(app)
    app.url_map.converters["id"] = IdConverter
    app.before_request(paths.refuse_unstorable_input)
    app.before_request(bodies.refuse_non_json_bodies)

    # These modules add their routes to the api blueprint: campaigns, clinical records.
    from . import campaigns_api, emr_api, emr_links_api, emr_matches_api  # noqa: F401
    from .api import api

    app.register_blueprint(api)
    app.register_blueprint(zalo)
    docs.install(app)
    console.install(app, settings)

    queues = CollectorRegistry(auto_describe=False)  # this app's own: read from its database at each scrape
    queues.register(QueueCollector(app.extensions["henkham.db"]))

    @app.get("/metrics")
    @app.doc(hide=True)
    def metrics():
        """Prometheus metrics, for the scraper holding HENKHAM_METRICS_TOKEN (``bearer_token`` in its config)."""
        if not _bearer_is(settings.metrics_token):
            raise HTTPError(401, "send the metrics token: Authorization: Bearer $HENKHAM_METRICS_TOKEN")
        return Response(generate_latest() + generate_latest(queues), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    @app.doc(hide=True)
    def healthz():
        return {"status": "ok"}

    limits.install(app, settings)  # after every route: limits are applied to endpoints by name
    openapi.install(app, limits.limited_endpoints(app))
    headers.install(app, docs_prefix=docs.DOCS_PATH, console_prefix=console.console.url_prefix or "/staff")
    return app
