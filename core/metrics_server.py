"""The Prometheus endpoint of a process with no web server of its own (worker, sender, scheduler):
``GET /metrics`` on ``HENKHAM_METRICS_HOST:HENKHAM_METRICS_PORT`` (127.0.0.1 unless told otherwise), refused
without ``Authorization: Bearer $HENKHAM_METRICS_TOKEN`` as the web's /metrics is.

prometheus-client's own ``start_http_server`` takes no credential, so its WSGI app is wrapped here with the
token check and served by the standard library's WSGI server in a daemon thread.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app


class _Server(ThreadingMixIn, WSGIServer):
    """One thread per scrape: an idle or slow client never holds the others up."""

    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    timeout = 10  # seconds a client may keep a connection without sending

    def log_message(self, format: str, *args: Any) -> None:
        return  # one scrape every few seconds is no news


def guarded(app: Callable[..., Iterable[bytes]], token: str) -> Callable[..., Iterable[bytes]]:
    expected = f"Bearer {token}".encode()

    def guarded_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        given = environ.get("HTTP_AUTHORIZATION", "").encode()
        if not token or not hmac.compare_digest(given, expected):
            start_response("401 Unauthorized", [("Content-Type", "application/json")])
            return [b'{"error": "not_authenticated", "message": "send the metrics token: Authorization: Bearer"}']
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "not_found"}']
        return app(environ, start_response)

    return guarded_app


def serve_metrics(host: str, port: int, token: str) -> WSGIServer:
    """Serve this process's metrics in a daemon thread; returns the server (``.server_port``, ``.shutdown()``)."""
    if not token:
        raise ValueError("HENKHAM_METRICS_TOKEN must be set to serve metrics")
    server = make_server(host, port, guarded(make_wsgi_app(), token), server_class=_Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
