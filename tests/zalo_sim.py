"""The Zalo simulator served over real HTTP for channel tests.

It runs under gunicorn in a subprocess, as ``henkham zalo simulator`` does: werkzeug's development server
drops headers spelt with underscores, and Zalo's are (``access_token``, ``secret_key``).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from core.config import Settings
from tests.zalo_helpers import APP_ID, APP_SECRET, OA_ID, SECRET, zalo_settings

ROOT = Path(__file__).resolve().parent.parent


class Simulator:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def fault(self, kind: str, path: str = "/v3.0/oa/message/cs", **options: Any) -> None:
        response = self.http.post(f"{self.base}/_sim/faults", json={"path": path, "kind": kind, **options})
        assert response.status_code == 200, response.text

    def messages(self, **filters: str) -> list[dict[str, Any]]:
        return self.http.get(f"{self.base}/_sim/messages", params=filters).json()["messages"]

    def stats(self) -> dict[str, Any]:
        return self.http.get(f"{self.base}/_sim/stats").json()

    def reset(self) -> None:
        self.http.post(f"{self.base}/_sim/reset")


_SERVE = """
import sys
from bot.zalo_webhook.simulator import SimulatedOA, SimulatorConfig, serve
oa = SimulatedOA({oa!r}, {app!r}, {secret!r}, {app_secret!r}, refresh_token="first-refresh-token")
config = SimulatorConfig(webhook_url={webhook!r}, oas=[oa], templates={{"tpl-reminder": ["noi_dung"]}})
serve(config, host="127.0.0.1", port={port})
"""


def sim_settings(database_url: str, sim: Simulator, **overrides: Any) -> Settings:
    """Test settings whose three Zalo hosts are the simulator."""
    return zalo_settings(
        database_url, zalo_api_base=sim.base, zalo_zns_base=sim.base, zalo_oauth_base=sim.base, **overrides
    )


@contextmanager
def running_simulator(webhook_url: str = "http://127.0.0.1:9/zalo/webhook") -> Iterator[Simulator]:
    port = free_port()
    code = _SERVE.format(oa=OA_ID, app=APP_ID, secret=SECRET, app_secret=APP_SECRET, webhook=webhook_url, port=port)
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    simulator = Simulator(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if simulator.http.get(f"{simulator.base}/_sim/stats", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the Zalo simulator did not start")
            time.sleep(0.1)
        yield simulator
    finally:
        process.terminate()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
