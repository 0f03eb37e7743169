"""The simulator's chat page in a real browser, end to end through the whole Zalo channel.

Chromium (Debian's package, driven by Playwright) opens the simulator's chat page; the simulator posts the
signed event to the henkham web app over HTTP; an inbox worker hands it to the bot (a placeholder responder,
tests only, until the dialogue exists); a sender delivers the answer to the simulator's ``/cs`` endpoint
with a token from its OAuth endpoint; the page shows it. SQLite only: the database is not what is tested.

Without Chromium the tests are skipped with the install command; HENKHAM_REQUIRE_BROWSER=1 (CI) makes that
a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from core.uow import Database
from henkham.migrate import upgrade
from henkham.web import create_app
from tests.browser_support import (
    ChatStack,
    launched_chromium,
    running_workers,
)
from tests.factories import build_world, today_local
from tests.harness import free_port, serving_app
from tests.zalo_helpers import OA_ID, OTHER_OA, SIMULATED_OA, ScriptedBot, synced_channel, zalo_settings
from tests.zalo_sim import simulator_process

REPLY_TIMEOUT_MS = 6_000  # the page polls every 0.7 s; the way through webhook, worker and sender is well under 1 s
UI_TIMEOUT_MS = 5_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatStack]:
    folder = tmp_path_factory.mktemp("browser-chat")
    database_url = f"sqlite:///{folder / 'henkham.db'}"
    upgrade(database_url)
    db = Database(database_url)
    with ExitStack() as cleanup:
        cleanup.callback(db.dispose)
        build_world(db, start=today_local(), days=1)
        bot = ScriptedBot()
        # Zalo's three hosts are the simulator, whose port is chosen first: the settings are complete before
        # the web app starts, and the simulator, started next, posts to the app's webhook.
        simulator_port = free_port()
        simulator_base = f"http://127.0.0.1:{simulator_port}"
        settings = zalo_settings(
            database_url, zalo_api_base=simulator_base, zalo_zns_base=simulator_base, zalo_oauth_base=simulator_base
        )
        app_url = cleanup.enter_context(serving_app(create_app(settings, database=db)))
        simulator_url = cleanup.enter_context(
            simulator_process(
                f"{app_url}/zalo/webhook",
                [OTHER_OA, SIMULATED_OA],  # the other first: the page opens on it and the test picks ours
                folder / "simulator.log",
                port=simulator_port,
                webhook_timeout=5,
                start_timeout=15,
            )
        )
        channel = synced_channel(db, settings, bot)
        cleanup.enter_context(running_workers(channel))
        yield ChatStack(db=db, channel=channel, bot=bot, app_url=app_url, simulator_url=simulator_url)


@pytest.fixture
def page(browser: Browser, stack: ChatStack) -> Iterator[Page]:
    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    try:
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        yield page
    finally:
        context.close()


@contextmanager
def explained(stack: ChatStack) -> Iterator[None]:
    """A failed expectation also shows where the message stopped: inbox, outbox, simulator."""
    try:
        yield
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- channel state ---\n{stack.diagnosis()}") from error


def conversation_of(oa_id: str | None = None) -> Callable[[Response], bool]:
    """The page's load of a conversation (of one OA), which ends its switching to a user."""

    def matches(response: Response) -> bool:
        return "/_sim/conversation?" in response.url and (oa_id is None or f"oa_id={oa_id}" in response.url)

    return matches


def open_chat_as_new_user(page: Page, simulator_url: str) -> str:
    """Open the chat page, pick henkham's OA and become a new user; returns the user id."""
    with page.expect_response(conversation_of()):  # the page opens on the first OA's first (or a new) user
        page.goto(simulator_url)
    expect(page.locator("#oa")).to_have_value(OTHER_OA.oa_id)
    with page.expect_response(conversation_of(OA_ID)):
        page.select_option("#oa", OA_ID)
    expect(page.locator("#oa-name")).to_have_text(SIMULATED_OA.name)
    users = page.locator("#user option")
    before = users.count()
    with page.expect_response(conversation_of(OA_ID)):
        page.click("#new-user")
    expect(users).to_have_count(before + 1)
    user_id = page.input_value("#user")
    assert user_id.isdigit(), user_id
    expect(page.locator("#log .bubble")).to_have_count(0)
    return user_id


def send(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.click("#send")


def test_a_patient_says_xin_chao_in_the_chat_page_and_sees_the_reply(page: Page, stack: ChatStack) -> None:
    user_id = open_chat_as_new_user(page, stack.simulator_url)

    with explained(stack):
        send(page, "xin chào")
        expect(page.locator(".bubble.user .text")).to_have_text(["xin chào"])
        expect(page.locator(".bubble.oa .text")).to_have_text(["Dạ, em đã nhận: xin chào"], timeout=REPLY_TIMEOUT_MS)

    assert (f"{OA_ID}:{user_id}", "xin chào") in stack.bot.calls
    expect(page.locator(".bubble.failed, .note")).to_have_count(0)  # delivered to the webhook, no error notes
    expect(page.locator("#text")).to_have_value("")


def test_html_typed_by_a_patient_is_shown_as_text_not_rendered(page: Page, stack: ChatStack) -> None:
    open_chat_as_new_user(page, stack.simulator_url)
    text = '<b>đậm</b> <img src="x" onerror="window.injected = true">'

    with explained(stack):
        send(page, text)
        expect(page.locator(".bubble.user .text")).to_have_text([text])
        expect(page.locator(".bubble.oa .text")).to_have_text([f"Dạ, em đã nhận: {text}"], timeout=REPLY_TIMEOUT_MS)

    expect(page.locator("#log b, #log img")).to_have_count(0)
    assert page.evaluate("window.injected === undefined")
