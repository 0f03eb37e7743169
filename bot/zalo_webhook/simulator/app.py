"""The simulator's Flask app: Zalo's three hosts on one origin, the control API and the chat page."""

from __future__ import annotations

from importlib import resources

from flask import Flask, Response

from . import chat_api, control, graph_api, oauth, zalo_api, zns
from .config import SimulatorConfig
from .context import EXTENSION_KEY, Simulator
from .faults import FaultSpecError


def create_simulator(config: SimulatorConfig) -> Flask:
    app = Flask(__name__)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions[EXTENSION_KEY] = Simulator.from_config(config)
    for blueprint in (zalo_api.blueprint, zns.blueprint, oauth.blueprint, control.blueprint, chat_api.blueprint):
        app.register_blueprint(blueprint)
    app.register_blueprint(graph_api.blueprint)  # graph.zalo.me: who holds a Zalo user access token
    app.register_error_handler(control.BadRequest, control.bad_request)
    app.register_error_handler(FaultSpecError, control.bad_request)
    app.add_url_rule("/", "chat_page", chat_page)
    return app


def chat_page() -> Response:
    page = resources.files(__package__).joinpath("chat.html").read_text(encoding="utf-8")
    return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})
