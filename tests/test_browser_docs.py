"""The API docs page in a real browser, offline: Swagger UI renders under its strict CSP, from the app alone."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Route, expect

from core.uow import Database
from henkham.migrate import upgrade
from henkham.web import create_app
from tests.browser_support import launched_chromium
from tests.harness import serving_app

UI_TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


def test_the_docs_page_renders_offline_under_its_csp(browser: Browser, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'docs.db'}"
    upgrade(url)
    database = Database(url)
    with serving_app(create_app(database=database)) as base:
        origin = urlsplit(base).netloc
        context = browser.new_context()
        elsewhere: list[str] = []

        def offline(route: Route) -> None:  # a hospital network without the internet
            if urlsplit(route.request.url).netloc == origin:
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        context.route("**/*", offline)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        try:
            page.goto(f"{base}/api/v1/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("henkham API", timeout=UI_TIMEOUT_MS)
            expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=UI_TIMEOUT_MS)
            assert page.locator(".opblock").count() >= 20, "every operation is shown"
        finally:
            context.close()
            database.dispose()
    assert elsewhere == [], "nothing is fetched from another host"
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == [], problems
