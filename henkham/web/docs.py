"""The interactive API docs page, with Swagger UI served from the installed ``swagger-ui-bundle`` package.

Hospital networks are often offline: nothing is loaded from a CDN. The page has no inline script, so the
strict docs CSP of henkham/web/headers.py (``script-src 'self'``) holds.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, abort, send_from_directory, url_for
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


def install(app: Flask, *, spec_endpoint: str = "openapi.spec") -> None:
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
            spec=url_for(spec_endpoint),
            bundle=asset("swagger-ui-bundle.js"),
            preset=asset("swagger-ui-standalone-preset.js"),
            init=url_for("api_docs_init"),
        )
        return Response(page, mimetype="text/html")

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
