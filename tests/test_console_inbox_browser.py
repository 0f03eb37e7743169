"""The hand-off inbox in a real browser (Debian's Chromium under Playwright), the whole channel running: the
Zalo simulator posts a user's messages to the webhook, workers hand them to a scripted bot, a sender delivers
what staff answer to the simulator.

- A user asks for a person: the conversation appears in the open inbox without a reload; the receptionist
  takes it, replies (the simulator records the message), hands it back (Rasa's resume is called), and the
  user's next message gets the assistant's answer again.
- Acceptance 3: a patient's ``<script>``, ``<img onerror>`` and ``href="javascript:…"`` are shown as text in
  the list and the transcript: no element made of them, no dialog. An emergency raises the alert (banner,
  title, one beep) once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Dialog, Page, expect

from bot.zalo_webhook import conversations
from bot.zalo_webhook.messages import OutgoingMessage
from core.timeutil import utcnow
from tests.console_support import ConsoleStack, browser, console_page, console_stack, login, make_staff  # noqa: F401
from tests.test_handoff import RASA_TOKEN, fake_rasa
from tests.zalo_helpers import OA_ID
from tests.zalo_sim import Simulator

LIVE_MS = 10_000  # the list polls every 3 s; webhook, worker and sender take well under a second
HOSTILE = '<script>alert(1)</script> <img src=x onerror=alert(1)> <a href="javascript:alert(1)">x</a>'
HANDOFF_TEXT = "Dạ, em đã chuyển cuộc trò chuyện tới nhân viên bệnh viện ạ."
_users = itertools.count(7000000000000000001)


def scripted_handoffs(stack: ConsoleStack) -> None:
    """The scripted bot hands off as the real actions do (bot/actions/support.py): "gặp nhân viên" puts the
    conversation in human mode and flags it; a message starting "cấp cứu" is flagged as an emergency."""
    plain = stack.bot.reply

    def reply(sender_id: str, text: str, metadata: dict[str, Any]) -> list[OutgoingMessage]:
        oa_id, _, user_id = sender_id.partition(":")
        if text == "gặp nhân viên" or text.startswith("cấp cứu"):
            with stack.db.uow() as uow:
                conversation = conversations.get_or_create(uow, oa_id, user_id)
                if text == "gặp nhân viên":
                    conversations.to_human(conversation, "the user asked for staff", utcnow())
                    conversations.flag_for_staff(conversation, "the user asked for staff")
                else:
                    conversations.flag_for_staff(conversation, "emergency: " + text)
                uow.commit()
            return [OutgoingMessage(HANDOFF_TEXT if text == "gặp nhân viên" else "Dạ, anh/chị GỌI NGAY 115 ạ.")]
        return plain(sender_id, text, metadata)

    stack.bot.reply = reply  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def rasa() -> Iterator[tuple[str, list]]:
    with fake_rasa() as running:
        yield running


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, rasa) -> Iterator[ConsoleStack]:
    url, _ = rasa
    with console_stack(tmp_path_factory.mktemp("console-inbox"), rasa_url=url, rasa_token=RASA_TOKEN) as running:
        scripted_handoffs(running)
        yield running


@pytest.fixture
def inbox(browser, stack: ConsoleStack) -> Iterator[tuple[Page, list[Dialog]]]:  # noqa: F811
    """A receptionist's browser on the inbox page; the dialogs it met (confirmations are accepted)."""
    with console_page(browser) as page:
        dialogs: list[Dialog] = []

        def seen(dialog: Dialog) -> None:
            dialogs.append(dialog)
            dialog.accept()

        page.on("dialog", seen)
        username, _ = make_staff(stack.db, "receptionist")
        login(page, stack, username)
        page.goto(f"{stack.console_url}/inbox")
        expect(page.locator("h1")).to_have_text("Hộp thư")
        yield page, dialogs


def user_says(stack: ConsoleStack, user_id: str, text: str) -> None:
    response = requests.post(
        f"{stack.simulator_url}/_sim/chat/send", json={"oa_id": OA_ID, "user_id": user_id, "text": text}, timeout=10
    )
    assert response.status_code == 200, response.text


def texts_sent(stack: ConsoleStack, user_id: str, *, wait_for: str) -> list[str]:
    """What the OA sent the user (the simulator's record), once ``wait_for`` is among it (up to 10 s)."""
    sim = Simulator(stack.simulator_url)
    for _ in range(10):
        found = [m["message"].get("text", "") for m in sim.messages(oa_id=OA_ID, user_id=user_id, kind="cs")]
        if any(wait_for in text for text in found):
            return found
        sim.messages(oa_id=OA_ID, user_id=user_id, kind="cs", after=str(len(found)), wait="1")
    raise AssertionError(f"{wait_for!r} never reached the user: {stack.diagnosis()}")


def test_a_hand_off_appears_live_is_taken_answered_and_handed_back(inbox, stack: ConsoleStack, rasa) -> None:
    page, _ = inbox
    user = str(next(_users))
    page.evaluate("window.sameDocument = true")  # gone if the page reloaded
    user_says(stack, user, "gặp nhân viên")
    item = page.locator(".waiting-item", has_text="Yêu cầu gặp nhân viên")
    expect(item).to_have_count(1, timeout=LIVE_MS)
    expect(item).to_contain_text("gặp nhân viên")
    expect(item).to_contain_text("Chưa có người nhận")
    assert page.evaluate("window.sameDocument === true"), "the list was refreshed by a reload"
    assert HANDOFF_TEXT in texts_sent(stack, user, wait_for=HANDOFF_TEXT)

    item.locator("a").click()
    expect(page.locator("#conversation-title")).to_contain_text(user[-4:])
    expect(page.locator("#window-notice")).to_contain_text("Cửa sổ trò chuyện miễn phí mở đến")
    expect(page.locator("#transcript .msg.patient .text")).to_have_text(["gặp nhân viên"])
    page.click("#take")
    expect(page.locator("#taken-by")).to_contain_text("Bạn đang xử lý")

    reply = "Dạ, em là nhân viên tiếp đón, em hỗ trợ anh/chị ngay ạ."
    page.fill("#reply-text", reply)
    page.click("#send-reply")
    expect(page.locator("#transcript .msg.staff .text")).to_have_text([reply])
    assert reply in texts_sent(stack, user, wait_for=reply)
    expect(page.locator("#transcript .msg.staff .status")).to_have_text(["Đã gửi"], timeout=LIVE_MS)

    page.click("#hand-back")
    expect(page.locator("main")).to_contain_text("Đã trả cuộc trò chuyện cho trợ lý tự động.")
    expect(page.locator(".waiting-item")).to_have_count(0)
    _, received = rasa
    assert any(path == f"/conversations/{OA_ID}:{user}/tracker/events" for path, _ in received)

    user_says(stack, user, "cảm ơn em")
    assert "Dạ, em đã nhận: cảm ơn em" in texts_sent(stack, user, wait_for="Dạ, em đã nhận: cảm ơn em")


def test_patient_markup_is_shown_as_text_and_an_emergency_raises_the_alert_once(inbox, stack: ConsoleStack) -> None:
    page, dialogs = inbox
    user = str(next(_users))
    user_says(stack, user, "gặp nhân viên")
    user_says(stack, user, HOSTILE)  # in human mode: kept for staff, the assistant is silent
    item = page.locator(".waiting-item:has(.last-text)", has_text="Yêu cầu gặp nhân viên").filter(has_text=user[-4:])
    expect(item.locator(".last-text")).to_have_text(HOSTILE, timeout=LIVE_MS)
    item.locator("a").click()
    expect(page.locator("#transcript .msg.patient .text")).to_have_text(["gặp nhân viên", HOSTILE])
    for area in ("#inbox-list", "#transcript"):
        expect(page.locator(f"{area} script, {area} img, {area} a[href^='javascript']")).to_have_count(0)
    assert page.evaluate("document.querySelectorAll('img, [onerror]').length") == 0
    expect(page.locator("#emergency-alert")).to_have_count(0)
    assert page.get_attribute("body", "data-alerts") is None

    other = str(next(_users))
    user_says(stack, other, "cấp cứu: mẹ em khó thở")
    alert = page.locator("#emergency-alert")
    expect(alert).to_have_text("Có 1 ca cấp cứu đang chờ nhân viên!", timeout=LIVE_MS)
    expect(page.locator(".waiting-item").first).to_contain_text("Cấp cứu")
    expect(page.locator(".waiting-item").first).to_contain_text("cấp cứu: mẹ em khó thở")
    expect(page).to_have_title("(1) CẤP CỨU · Hộp thư · henkham")
    expect(page.locator("body")).to_have_attribute("data-alerts", "1")
    for _ in range(2):  # two more polls: the same emergency does not sound again
        with page.expect_response(lambda r: "/staff/inbox/list" in r.url, timeout=LIVE_MS):
            pass
    expect(page.locator("body")).to_have_attribute("data-alerts", "1")
    assert [d.type for d in dialogs] == [], "a dialog fired"
