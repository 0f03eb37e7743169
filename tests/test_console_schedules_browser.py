"""Acceptance: closing a session with bookings, in a real browser (Debian's Chromium under Playwright) over the
whole stack (web app and console, Zalo simulator, workers, sender).

A hospital admin closes a day of the Nhi department that two Zalo patients booked: the confirmation page lists
both bookings (masked); on confirmation each patient's Zalo receives exactly one message, with the offered slots as
buttons; submitting the confirmation again sends nothing more. One patient then taps an offered slot (the button's
payload sent as that user through the simulator): the channel books it at once (a quick action, no bot needed), and
the patient reads the new booking.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests
from playwright.sync_api import expect
from sqlalchemy import select

from bot.zalo_webhook.accounts import account_key
from core.booking import appointments, patients
from core.booking.models import Appointment
from tests.console_support import (
    browser,  # noqa: F401
    console_page,
    console_stack,
    login,
    make_staff,
)
from tests.factories import slot_at, today_local
from tests.zalo_helpers import OA_ID

DAY = today_local() + dt.timedelta(days=2)
USERS = {
    "5000000000000000001": ("Trần Thị Lan", "0987000001", "09:00"),
    "5000000000000000002": ("Lê Văn Minh", "0987000002", "09:30"),
}
WAIT = 10.0


def say(stack, user_id: str, text: str) -> None:
    response = requests.post(
        f"{stack.simulator_url}/_sim/chat/send", json={"oa_id": OA_ID, "user_id": user_id, "text": text}, timeout=10
    )
    assert response.status_code == 200, response.text


def received(stack, user_id: str, *, wait: float = 0.0, after: int = 0) -> list[dict[str, Any]]:
    params = {"oa_id": OA_ID, "user_id": user_id, "kind": "cs", "after": str(after)}
    if wait:
        params["wait"] = str(wait)
    return requests.get(f"{stack.simulator_url}/_sim/messages", params=params, timeout=WAIT + 5).json()["messages"]


def buttons_of(record: dict[str, Any]) -> list[dict[str, str]]:
    attachment = record["message"].get("attachment") or {}
    return list((attachment.get("payload") or {}).get("buttons") or [])


def wait_for(stack, user_id: str, needle: str, after: int = 0) -> dict[str, Any]:
    """The first message to ``user_id`` after ``after`` whose text holds ``needle`` (waiting up to WAIT s)."""
    import time

    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for record in received(stack, user_id, wait=1.0, after=after):
            if needle in (record["message"].get("text") or ""):
                return record
    raise AssertionError(f"{user_id} never received {needle!r}: {stack.diagnosis()}")


def test_closing_a_day_with_two_bookings_tells_each_patient_once_and_a_tapped_slot_books_it(browser, tmp_path):  # noqa: F811
    with console_stack(tmp_path, world_days=6) as stack:
        codes = {}
        for user_id, (name, phone, hhmm) in USERS.items():
            say(stack, user_id, "xin chào")  # the patient writes first: their chat window is open
            wait_for(stack, user_id, "Dạ, em đã nhận")
            with stack.db.uow() as uow:
                account_id = patients.get_or_create_account(uow, "zalo", account_key(OA_ID, user_id))
            with stack.db.uow() as uow:
                patient, _ = patients.register_patient(
                    uow,
                    account_id=account_id,
                    full_name=name,
                    date_of_birth=dt.date(1985, 1, 1),
                    sex="female",
                    phone=phone,
                )
            with stack.db.uow() as uow:
                view, _ = appointments.book(
                    uow,
                    appointments.BookingRequest(
                        slot_id=slot_at(stack.db, "nhi", DAY, hhmm),
                        patient_id=patient.id,
                        channel="zalo",
                        account_id=account_id,
                    ),
                )
            codes[user_id] = view.code
        before = {user_id: received(stack, user_id)[-1]["seq"] for user_id in USERS}
        username, _ = make_staff(stack.db, "hospital_admin")

        with console_page(browser) as page:
            login(page, stack, username)
            page.get_by_role("navigation", name="Chức năng").get_by_role("link", name="Lịch khám").click()
            expect(page.get_by_role("heading", name="Lịch khám hằng tuần")).to_be_visible()
            form = page.locator("#new-closure")
            form.get_by_label("Từ ngày").fill(DAY.isoformat())
            form.get_by_label("Khoa").select_option(label="Nhi")
            form.get_by_label("Lý do").select_option(label="Nghỉ lễ")
            form.get_by_role("button", name="Xem lịch hẹn bị ảnh hưởng").click()

            expect(page.locator("#hit-count")).to_have_text(
                "2 lịch hẹn sẽ bị hủy. Mỗi người bệnh sẽ nhận một tin nhắn xin lỗi kèm các giờ khám còn trống gần nhất."
            )
            rows = page.locator("#hit tbody tr")
            expect(rows).to_have_count(2)
            expect(rows.nth(0)).to_contain_text(codes["5000000000000000001"])
            expect(rows.nth(0)).to_contain_text("T. T. Lan")
            expect(rows.nth(0)).to_contain_text("098****001")
            expect(rows.nth(1)).to_contain_text("L. V. Minh")
            expect(page.locator("#hit")).not_to_contain_text("Trần Thị Lan")
            confirm = page.locator("form").filter(has=page.get_by_role("button", name="Đóng lịch và hủy 2 lịch hẹn"))
            fields = {
                field.get_attribute("name"): field.get_attribute("value")
                for field in confirm.locator("input[type=hidden]").all()
            }
            page.get_by_role("button", name="Đóng lịch và hủy 2 lịch hẹn").click()
            expect(page.locator("#result")).to_contain_text("Đã hủy 2 lịch hẹn, đã gửi tin nhắn cho 2 người bệnh.")

            notices = {}
            for user_id in USERS:
                notice = wait_for(stack, user_id, "xin lỗi anh/chị", after=before[user_id])
                assert codes[user_id] in notice["message"]["text"] and "bệnh viện nghỉ lễ" in notice["message"]["text"]
                offered = [b for b in buttons_of(notice) if b["payload"].startswith("/rebook_closed")]
                assert len(offered) == 3 and all(b["type"] == "oa.query.show" for b in offered)
                notices[user_id] = (notice, offered)

            # The same confirmation posted again (a double click, a retried request): nobody is told twice.
            again = page.request.post(f"{stack.console_url}/schedules/closures", form=fields)
            assert again.ok and "Đã hủy 0 lịch hẹn, đã gửi tin nhắn cho 0 người bệnh." in again.text()

        lan = "5000000000000000001"
        notice, offered = notices[lan]
        say(stack, lan, offered[1]["payload"])  # Lan taps the second offered slot
        reply = wait_for(stack, lan, "Dạ, em đã đặt lại lịch khám Nhi", after=notice["seq"])
        assert "Mã lịch hẹn mới" in reply["message"]["text"]
        for user_id in USERS:  # still exactly one closure message each
            closure_messages = [
                r for r in received(stack, user_id) if "xin lỗi anh/chị" in (r["message"].get("text") or "")
            ]
            assert len(closure_messages) == 1, stack.diagnosis()
        with stack.db.reader() as uow:
            statuses = dict(uow.session.execute(select(Appointment.code, Appointment.status)).all())
            new_code = next(code for code, status in statuses.items() if status == "booked")
        assert statuses[codes[lan]] == "cancelled" and statuses[codes["5000000000000000002"]] == "cancelled"
        assert new_code in reply["message"]["text"] and stack.bot.calls == [
            (account_key(OA_ID, user_id), "xin chào") for user_id in USERS
        ]  # the tap never reached the bot: the channel answered it
