"""The interactive API docs page, with Swagger UI served from the installed ``swagger-ui-bundle`` package.

Hospital networks are often offline: nothing is loaded from a CDN. The page has no inline script, so the
strict docs CSP of henkham/web/headers.py (``script-src 'self'``) holds.

The package's Swagger UI (4.x) renders OpenAPI 3.0 only, and the API's document is 3.1 (pydantic's JSON
Schema). The page is therefore given a 3.0 rendering of the same document (``openapi-3.0.json``: nullable
instead of a null type, boolean exclusive bounds, enum for const); ``/api/v1/openapi.json`` stays the one
document clients and the tests use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apiflask import APIFlask
from flask import Response, abort, jsonify, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/api/v1/docs"
ASSETS = {  # the files the page uses, nothing else of the package is served
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
INIT_JS = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout"
  });
});
"""
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} - API docs</title>
  <link rel="stylesheet" href="{css}">
  <link rel="icon" type="image/png" href="{icon}">
</head>
<body data-spec="{spec}">
  <div id="swagger-ui"></div>
  <script src="{bundle}"></script>
  <script src="{preset}"></script>
  <script src="{init}"></script>
</body>
</html>
"""


NULL = {"type": "null"}
ONLY_IN_31 = ("jsonSchemaDialect", "webhooks")


def _schema_30(node: Any) -> Any:
    """One JSON Schema (2020-12, as OpenAPI 3.1 has it) as OpenAPI 3.0's schema dialect says the same."""
    if isinstance(node, list):
        return [_schema_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _schema_30(value) for key, value in node.items()}
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list) and NULL in options:
            rest = [option for option in options if option != NULL]
            del node[key]
            if len(rest) == 1:
                only = rest[0]
                node.update({"allOf": [only]} if "$ref" in only else only)
            elif rest:
                node[key] = rest
            node["nullable"] = True
    types = node.get("type")
    if isinstance(types, list):
        kept = [kind for kind in types if kind != "null"]
        if "null" in types:
            node["nullable"] = True
        node["type"] = kept[0] if len(kept) == 1 else kept
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = node.get(exclusive)
        if isinstance(value, int | float) and not isinstance(value, bool):
            node[bound], node[exclusive] = value, True
    if isinstance(node.get("examples"), list):
        examples = node.pop("examples")
        if examples:
            node["example"] = examples[0]
    return node


def openapi_30(spec: dict) -> dict:
    """The OpenAPI 3.1 document as a 3.0.3 one, for Swagger UI 4 (display only)."""
    converted = {key: value for key, value in spec.items() if key not in ONLY_IN_31}
    converted["openapi"] = "3.0.3"
    for section in ("paths", "components"):
        if section in converted:
            converted[section] = _schema_30(converted[section])
    return converted


def install(app: APIFlask) -> None:
    folder = Path(swagger_ui_path)

    def asset(name: str) -> str:
        return url_for("api_docs_asset", filename=name)

    @app.get(DOCS_PATH)
    @app.doc(hide=True)
    def api_docs():
        page = PAGE.format(
            title=app.title,
            css=asset("swagger-ui.css"),
            icon=asset("favicon-32x32.png"),
            spec=url_for("api_docs_spec"),
            bundle=asset("swagger-ui-bundle.js"),
            preset=asset("swagger-ui-standalone-preset.js"),
            init=url_for("api_docs_init"),
        )
        return Response(page, mimetype="text/html")

    @app.get(f"{DOCS_PATH}/openapi-3.0.json")
    @app.doc(hide=True)
    def api_docs_spec():
        return jsonify(openapi_30(app.spec))

    @app.get(f"{DOCS_PATH}/assets/init.js")
    @app.doc(hide=True)
    def api_docs_init():
        return Response(INIT_JS, mimetype="text/javascript")

    @app.get(f"{DOCS_PATH}/assets/<filename>")
    @app.doc(hide=True)
    def api_docs_asset(filename: str):
        if filename not in ASSETS:
            abort(404)
        response = send_from_directory(folder, filename, mimetype=ASSETS[filename], max_age=86400)
        return response
