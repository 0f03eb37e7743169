"""Run the simulator: one process (its state is in memory) with many threads, under gunicorn."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from .app import create_simulator
from .config import SimulatorConfig

THREADS = 64  # long polls of /_sim/messages (tests, benchmarks) each hold one


class _Server(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def gunicorn_options(host: str, port: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": THREADS,
        "timeout": 120,  # injected timeouts hold a thread for delay_seconds
        "graceful_timeout": 5,
        "keepalive": 300,  # a test's client keeps its connections between turns, long polls and waits included
        # Zalo's headers are spelt with underscores (access_token, secret_key); gunicorn drops such
        # headers unless told otherwise.
        "header_map": "dangerous",
        "accesslog": None,
        "loglevel": "warning",
    }


def serve(config: SimulatorConfig, host: str = "127.0.0.1", port: int = 8100) -> None:
    """Serve until stopped (blocking)."""
    _Server(create_simulator(config), gunicorn_options(host, port)).run()
