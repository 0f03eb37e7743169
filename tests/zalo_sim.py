"""The Zalo simulator served over real HTTP for channel tests.

It runs under gunicorn in a subprocess, as ``henkham zalo simulator`` does: werkzeug's development server
drops headers spelt with underscores, and Zalo's are (``access_token``, ``secret_key``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from bot.zalo_webhook.simulator import SimulatedOA
from core.config import Settings
from tests.harness import HOST, NotReady, answers, free_port, stop_process, wait_until
from tests.zalo_helpers import SIMULATED_OA, zalo_settings

ROOT = Path(__file__).resolve().parent.parent


class Simulator:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        # Many test threads share the session: room for each, and a read (GET) asked again when it met a kept-alive
        # connection the server had just closed.
        adapter = HTTPAdapter(
            pool_maxsize=64, max_retries=Retry(total=3, connect=3, read=2, status=0, allowed_methods={"GET"})
        )
        self.http.mount("http://", adapter)

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
from bot.zalo_webhook.simulator import SimulatedOA, SimulatorConfig, serve
oas = [SimulatedOA(**fields) for fields in {oas!r}]
config = SimulatorConfig(webhook_url={webhook_url!r}, oas=oas, templates={templates!r}, webhook_timeout={timeout!r})
serve(config, {host!r}, {port!r})
"""


def sim_settings(database_url: str, sim: Simulator, **overrides: Any) -> Settings:
    """Test settings whose three Zalo hosts are the simulator."""
    return zalo_settings(
        database_url, zalo_api_base=sim.base, zalo_zns_base=sim.base, zalo_oauth_base=sim.base, **overrides
    )


@contextmanager
def simulator_process(
    webhook_url: str,
    oas: list[SimulatedOA],
    log_path: Path,
    *,
    port: int = 0,
    templates: dict[str, list[str]] | None = None,
    webhook_timeout: float = 10.0,
    start_timeout: float = 30.0,
) -> Iterator[str]:
    """The simulator under gunicorn in a subprocess (on ``port``, else a free one); yields its base URL.

    Its output goes to ``log_path``, whose tail is shown if it does not start.
    """
    port = port or free_port()
    script = _SERVE.format(
        oas=[dict(oa.__dict__) for oa in oas],
        webhook_url=webhook_url,
        templates=templates or {},
        timeout=webhook_timeout,
        host=HOST,
        port=port,
    )
    base = f"http://{HOST}:{port}"
    with running_process(
        [sys.executable, "-c", script],
        log_path,
        ready_url=f"{base}/_sim/stats",
        timeout=start_timeout,
        what="Zalo simulator",
    ):
        yield base


@contextmanager
def running_process(
    args: list[str], log_path: Path, *, ready_url: str, timeout: float, what: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A subprocess of the project, ready once ``ready_url`` answers 2xx; its output goes to ``log_path``,
    whose tail is shown if it does not start. Stopped quickly on exit (the tests using it do not look at how a
    server winds down)."""

    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        try:
            try:
                wait_until(lambda: answers(ready_url), timeout=timeout, what=what, alive=lambda: process.poll() is None)
            except NotReady as error:
                raise NotReady(f"{error}\n{log_path.read_text(errors='replace')[-3000:]}") from None
            yield process
        finally:
            stop_process(process, quick=True)


@contextmanager
def running_simulator(webhook_url: str = "http://127.0.0.1:9/zalo/webhook") -> Iterator[Simulator]:
    """The test OA's simulator (with the ``tpl-reminder`` ZNS template), and a client of its control API."""
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "simulator.log"
        with simulator_process(webhook_url, [SIMULATED_OA], log, templates={"tpl-reminder": ["noi_dung"]}) as base:
            yield Simulator(base)
