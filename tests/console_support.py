"""The staff console running for real, for browser tests: the chat stack of tests/browser_support.py (web app
with the console, Zalo simulator, inbox workers and a sender, a placeholder bot) plus staff accounts and login.

``console_stack`` builds the world of tests/factories.build_world (hospital "test", departments nhi and mat)
and hospital "other"; ``make_staff`` creates an account of a role; ``login`` logs a Playwright page in.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from core.staff.accounts import create_staff
from core.uow import Database
from henkham.migrate import upgrade
from henkham.web import create_app
from tests.browser_support import ChatStack, launched_chromium, running_workers
from tests.factories import add_hospital, build_world, today_local
from tests.harness import create_database, drop_database, free_port, postgres_unavailable, serving_app
from tests.zalo_helpers import SIMULATED_OA, ScriptedBot, synced_channel, zalo_settings
from tests.zalo_sim import simulator_process

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
UI_TIMEOUT_MS = 5_000
PASSWORD = "mật-khẩu-thử-nghiệm-1"  # every test account's password (a real one is chosen by its owner)
_numbers = itertools.count(1)


@dataclass
class ConsoleStack(ChatStack):
    """The running console and channel; ``settings`` as the web app got them."""

    settings: Any = None

    @property
    def console_url(self) -> str:
        return f"{self.app_url}/staff"


@contextmanager
def console_stack(
    folder: Path, *, postgres: bool = False, world_days: int = 2, **setting_overrides: Any
) -> Iterator[ConsoleStack]:
    """The whole stack on SQLite in ``folder`` (or a throw-away PostgreSQL database), stopped on exit."""
    with ExitStack() as cleanup:
        if postgres:
            reason = postgres_unavailable(POSTGRES_ADMIN_URL)
            if reason:
                pytest.skip(f"PostgreSQL is needed: {reason}")
            name, database_url = create_database(POSTGRES_ADMIN_URL, "henkham_console")
            cleanup.callback(drop_database, POSTGRES_ADMIN_URL, name)
        else:
            database_url = f"sqlite:///{folder / 'henkham.db'}"
        upgrade(database_url)
        db = Database(database_url)
        cleanup.callback(db.dispose)
        build_world(db, start=today_local(), days=world_days)
        add_hospital(db, "other")
        bot = ScriptedBot()
        simulator_port = free_port()
        simulator_base = f"http://127.0.0.1:{simulator_port}"
        setting_overrides.setdefault("rate_limit_enabled", True)
        settings = zalo_settings(
            database_url,
            zalo_api_base=simulator_base,
            zalo_zns_base=simulator_base,
            zalo_oauth_base=simulator_base,
            **setting_overrides,
        )
        app_url = cleanup.enter_context(serving_app(create_app(settings, database=db)))
        simulator_url = cleanup.enter_context(
            simulator_process(
                f"{app_url}/zalo/webhook",
                [SIMULATED_OA],
                folder / "simulator.log",
                port=simulator_port,
                webhook_timeout=5,
                start_timeout=15,
            )
        )
        channel = synced_channel(db, settings, bot)
        cleanup.enter_context(running_workers(channel))
        yield ConsoleStack(
            db=db, channel=channel, bot=bot, app_url=app_url, simulator_url=simulator_url, settings=settings
        )


def make_staff(db: Database, role: str, hospital: str | None = "test", *, password: str = PASSWORD) -> tuple[str, str]:
    """A new active account of ``role`` at ``hospital`` (None for a province admin): (username, password)."""
    username = f"{role.replace('_', '-')}-{next(_numbers)}"
    with db.uow() as uow:
        create_staff(
            uow,
            username=username,
            password=password,
            role=role,
            full_name=f"Nhân viên {role}",
            hospital_slug=None if role == "province_admin" else hospital,
        )
    return username, password


def login(page: Page, stack: ConsoleStack, username: str, password: str = PASSWORD) -> None:
    """Log ``page`` in through the login form; it ends on the console's home page."""
    page.goto(f"{stack.console_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    if "/staff/login" in page.url:
        raise AssertionError(f"the login of {username} was refused: {page.inner_text('main')}")


@contextmanager
def console_page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (its own cookies) and page, Vietnamese locale and time zone."""
    context = browser.new_context(
        locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", viewport={"width": 1366, "height": 768}
    )
    try:
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (a module's tests share it); import this fixture into a test module to use it."""
    with launched_chromium() as launched:
        yield launched
