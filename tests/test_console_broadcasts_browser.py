"""Acceptance 1 of issue 15, "a broadcast from creation to status", in a real browser (Playwright, Debian's
Chromium) on the whole stack: communications staff create a broadcast to a topic's subscribers, watch the live
preview follow their typing, send it; the scheduler's step (driven here, as ``henkham scheduler`` runs it)
queues it, the running sender delivers it to the Zalo simulator, and the status page, refreshing itself,
ends on "sent" with the counts and the skipped subscriber's reason.

The clock is moved to 10:00 Vietnamese time (broadcasts never go out from 22:00 to 06:00) for the whole stack.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

import pytest
import requests
import time_machine
from playwright.sync_api import Browser, expect

from bot.zalo_webhook.broadcasts import run_campaigns
from bot.zalo_webhook.models import Conversation
from core.booking import patients
from core.news import campaigns
from core.news import subscriptions as news
from core.timeutil import local_to_utc, local_today
from tests.console_support import ConsoleStack, browser, console_page, console_stack, login, make_staff  # noqa: F401
from tests.zalo_helpers import OA_ID

DELIVERY_TIMEOUT_MS = 20_000  # scheduler step + sender + the page's 3 s refresh
TITLE = "Sống khỏe với bệnh tiểu đường"
TEXT = "Dạ, bệnh viện gửi anh/chị 5 lời khuyên về ăn uống <b>và</b> vận động ạ."
LINK = "https://benhvien.example/tieu-duong"


@pytest.fixture
def stack(tmp_path) -> Iterator[ConsoleStack]:
    morning = local_to_utc(local_today() + dt.timedelta(days=1), dt.time(10, 0))
    with time_machine.travel(morning, tick=True), console_stack(tmp_path, news_tag_sync_minutes=0) as running:
        yield running


def subscriber(stack: ConsoleStack, user_id: str, *, unsubscribed: bool = False) -> None:
    """A Zalo user of the test OA who wrote an hour ago and subscribed to the diabetes topic."""
    now = dt.datetime.now(dt.UTC)
    with stack.db.uow() as uow:
        uow.session.add(
            Conversation(oa_id=OA_ID, user_id=user_id, follower=True, last_interaction_at=now - dt.timedelta(hours=1))
        )
        uow.commit()
    with stack.db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "zalo", f"{OA_ID}:{user_id}")
    with stack.db.uow() as uow:
        news.subscribe(uow, account_id, "test", "tieu_duong")
    if unsubscribed:
        with stack.db.uow() as uow:
            news.unsubscribe(uow, account_id, "test", None)


def delivered(stack: ConsoleStack) -> list[dict]:
    response = requests.get(f"{stack.simulator_url}/_sim/messages", params={"kind": "cs"}, timeout=5)
    return [m for m in response.json()["messages"] if TITLE in m["message"]["text"]]


def drive_scheduler(stack: ConsoleStack, until_delivered: int, timeout: float = 15.0) -> None:
    """Run the campaigns' scheduler step until the simulator has the messages (the stack's sender sends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_campaigns(stack.db, stack.settings)
        if len(delivered(stack)) >= until_delivered:
            return
        time.sleep(0.2)
    raise AssertionError(f"not delivered: {stack.diagnosis()}")


def test_a_broadcast_from_creation_to_status(browser: Browser, stack: ConsoleStack):  # noqa: F811
    subscriber(stack, "7770001111")
    subscriber(stack, "7770002222")
    subscriber(stack, "7770003333", unsubscribed=True)
    username, _ = make_staff(stack.db, "communications")
    with console_page(browser) as page:
        login(page, stack, username)
        page.get_by_role("link", name="Truyền thông").first.click()
        expect(page.get_by_role("heading", name="Tin truyền thông")).to_be_visible()
        page.get_by_role("link", name="Tạo tin mới").click()

        preview = page.locator("#preview-text")
        page.get_by_label("Tiêu đề").press_sequentially(TITLE, delay=5)
        expect(preview).to_contain_text(TITLE)  # htmx re-renders the preview as staff type
        page.get_by_label("Nội dung").fill(TEXT)
        page.get_by_label("Địa chỉ liên kết").fill("http://benhvien.example")
        expect(page.locator("#preview-errors")).to_contain_text("phải bắt đầu bằng https://")
        page.get_by_label("Địa chỉ liên kết").fill(LINK)
        expected = campaigns.compose(TITLE, TEXT, None, LINK)
        expect(preview).to_have_text(expected)  # exactly what the sender will send, markup shown as text
        expect(page.locator("#preview-errors")).to_have_count(0)
        expect(preview.locator("b")).to_have_count(0)
        page.get_by_label("Người nhận").select_option("topic:tieu_duong")
        expect(page.locator("#audience-size")).to_contain_text("khoảng 2 người nhận")  # the unsubscribed aside
        expect(page.get_by_label("Gửi ngay")).to_be_checked()
        expect(page.get_by_label("Ngày giờ gửi (giờ Việt Nam)")).to_be_hidden()
        page.get_by_role("button", name="Tạo tin").click()

        expect(page.locator("#broadcast-status")).to_have_text(re.compile("Đã lên lịch|Đang gửi"))
        expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
        expect(page.get_by_role("button", name="Tạm dừng")).to_be_visible()
        expect(page.get_by_role("button", name="Tiếp tục gửi")).to_have_count(0)

        drive_scheduler(stack, until_delivered=2)

        # the page refreshes itself (no reload) until every message is decided
        expect(page.locator("#broadcast-status")).to_have_text("Đã gửi xong", timeout=DELIVERY_TIMEOUT_MS)
        expect(page.locator('[data-count="sent"]')).to_have_text("2", timeout=DELIVERY_TIMEOUT_MS)
        expect(page.locator('[data-count="skipped"]')).to_have_text("1")
        expect(page.locator('[data-count="failed"]')).to_have_text("0")
        expect(page.locator('[data-count="sending"]')).to_have_text("0")
        problems = page.locator("#broadcast-problems")
        expect(problems).to_contain_text("•••3333")
        expect(problems).to_contain_text("Đã hủy đăng ký chủ đề này")
        expect(problems).not_to_contain_text("7770003333")
        expect(page.get_by_role("button", name="Tạm dừng")).to_have_count(0)
        expect(page.get_by_role("button", name="Hủy tin")).to_have_count(0)

        page.get_by_role("link", name="← Danh sách tin").click()
        row = page.locator("#broadcast-list tbody tr", has_text=TITLE)
        expect(row).to_contain_text("Đã gửi xong")
        expect(row.locator("td.num").first).to_have_text("2")

    sent = delivered(stack)
    assert sorted(m["user_id"] for m in sent) == ["7770001111", "7770002222"], "each subscriber once"
    assert all(m["message"]["text"] == expected for m in sent)


def test_cancel_asks_first_and_stops_a_scheduled_broadcast(browser: Browser, stack: ConsoleStack):  # noqa: F811
    username, _ = make_staff(stack.db, "communications")
    with console_page(browser) as page:
        login(page, stack, username)
        page.goto(f"{stack.console_url}/broadcasts/new")
        page.get_by_label("Tiêu đề").fill("Tin hẹn giờ")
        page.get_by_label("Nội dung").fill("Nội dung hẹn giờ")
        page.get_by_label("Hẹn giờ").check()
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
        page.get_by_label("Ngày giờ gửi (giờ Việt Nam)").fill(
            (later + dt.timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M")
        )
        page.get_by_role("button", name="Tạo tin").click()
        expect(page.locator("#broadcast-status")).to_have_text("Đã lên lịch")

        page.once("dialog", lambda dialog: dialog.dismiss())
        page.get_by_role("button", name="Hủy tin").click()
        expect(page.locator("#broadcast-status")).to_have_text("Đã lên lịch")  # dismissed: nothing changes

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Hủy tin").click()
        expect(page.locator("#broadcast-status")).to_have_text("Đã hủy")
        expect(page.get_by_role("button", name="Hủy tin")).to_have_count(0)
