"""The whole Zalo channel running for real, for browser tests: web app, simulator, workers, Chromium.

* the henkham web app on a free port (werkzeug's threaded server, in a thread of the test process);
* the Zalo simulator on another free port, under gunicorn in a subprocess as ``serve`` runs it (werkzeug's
  server drops headers spelt with underscores, and Zalo's ``access_token`` / ``secret_key`` are);
* inbox workers and a sender (``workers.run_workers``) in threads, with a placeholder bot;
* Chromium: Debian's package (``apt-get install -y chromium``), driven by Playwright. Playwright's own
  browser download is not used.

Everything is a context manager that stops what it started, also when the test fails.
"""

from __future__ import annotations

import os
import shutil
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Error, sync_playwright
from sqlalchemy import select

from bot.zalo_webhook import wakeup, workers
from bot.zalo_webhook.models import InboundEvent, OutboundMessage
from bot.zalo_webhook.runtime import Channel
from core.uow import Database
from tests.zalo_helpers import ScriptedBot

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
INSTALL_HINT = "apt-get update && apt-get install -y chromium chromium-driver"
# Set to 1 (CI) to fail, not skip, when Chromium is missing or does not start.
REQUIRE_BROWSER = os.environ.get("HENKHAM_REQUIRE_BROWSER") == "1"


def chromium_candidates() -> list[str]:
    """Where Chromium is looked for: HENKHAM_CHROMIUM if set, else Debian's paths and ``chromium`` on PATH."""
    named = os.environ.get("HENKHAM_CHROMIUM")
    if named:
        return [named]
    on_path = shutil.which("chromium")
    return [*CHROMIUM_CANDIDATES, *([on_path] if on_path and on_path not in CHROMIUM_CANDIDATES else [])]


def find_chromium() -> str | None:
    """Debian's Chromium (or the one named by HENKHAM_CHROMIUM), or None when it is not installed."""
    return next((path for path in chromium_candidates() if os.access(path, os.X_OK)), None)


def _unavailable(reason: str) -> None:
    message = f"{reason}; install Debian's Chromium: {INSTALL_HINT}"
    if REQUIRE_BROWSER:
        pytest.fail(f"HENKHAM_REQUIRE_BROWSER=1 but {message}")
    pytest.skip(message)


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, under Playwright; skips the test (fails it with REQUIRE_BROWSER) without it."""
    executable = find_chromium()
    if executable is None:
        _unavailable(f"Chromium is not installed (none of {', '.join(chromium_candidates())} is executable)")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        except Error as error:
            _unavailable(f"Chromium at {executable} does not start ({str(error).strip().splitlines()[0]})")
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def running_workers(channel: Channel, *, inbox_threads: int = 2, sender_threads: int = 1) -> Iterator[None]:
    """Inbox workers and senders as ``henkham zalo worker`` / ``sender`` run them, stopped on exit."""
    stop = threading.Event()
    db = channel.db
    loops = [
        (lambda: workers.inbox_step(db, channel.processor), inbox_threads, wakeup.INBOX_CHANNEL),
        (lambda: workers.sender_step(db, channel.sender), sender_threads, wakeup.OUTBOX_CHANNEL),
    ]
    runners = [
        threading.Thread(
            target=workers.run_workers,
            args=(db, step),
            kwargs={"threads": threads, "stop": stop, "channel": listen},
            name=f"browser-test-loops-{n}",
            daemon=True,
        )
        for n, (step, threads, listen) in enumerate(loops)
    ]
    for runner in runners:
        runner.start()
    try:
        yield
    finally:
        stop.set()
        for runner in runners:
            runner.join(timeout=15)


@dataclass
class ChatStack:
    """Everything of one running channel that a browser test looks at."""

    db: Database
    channel: Channel
    bot: ScriptedBot  # the placeholder responder (tests only)
    app_url: str
    simulator_url: str

    def diagnosis(self) -> str:
        """The inbox, the outbox and the simulator's counters: printed when a browser test fails."""
        with self.db.reader() as uow:
            events = uow.session.execute(
                select(InboundEvent.id, InboundEvent.event_name, InboundEvent.status, InboundEvent.outcome)
            ).all()
            messages = uow.session.execute(
                select(OutboundMessage.id, OutboundMessage.status, OutboundMessage.last_error)
            ).all()
        try:
            stats: Any = requests.get(f"{self.simulator_url}/_sim/stats", timeout=2).json()
        except requests.RequestException as error:
            stats = f"unreachable: {error}"
        return textwrap.dedent(
            f"""\
            inbox: {[tuple(row) for row in events]}
            outbox: {[tuple(row) for row in messages]}
            simulator: {stats}"""
        )
