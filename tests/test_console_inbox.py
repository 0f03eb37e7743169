"""The console's hand-off inbox through Flask's test client: what a receptionist sees, scoping to the hospital in
force, the polling answer (204 while nothing changed), CSRF, an idle session that ends although the page polls,
take / reply / hand back with their audit rows. The same paths in a real browser: test_console_inbox_browser.py.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from sqlalchemy import select

from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import Conversation, OutboundMessage
from bot.zalo_webhook.rasa_bridge import RasaBot
from core.audit import AccessAudit
from core.staff.models import StaffAction
from core.timeutil import utcnow
from tests.console_support import make_staff
from tests.test_console_access import csrf_of, log_in, make_app
from tests.test_handoff import RASA_TOKEN, fake_rasa
from tests.test_staff_inbox import OTHER_OA, flagged, hospitals, said  # noqa: F401

POLL = {"X-Henkham-Poll": "1", "HX-Request": "true"}
HOSTILE = '<script>alert(1)</script> <img src=x onerror=alert(1)> <a href="javascript:alert(1)">x</a>'
LIST_FP = re.compile(r'/staff/inbox/list\?[^"]*fp=([0-9a-f]{20})')


def inbox_actions(db) -> list[tuple[str, str]]:
    with db.reader() as uow:
        rows = uow.session.scalars(select(StaffAction).where(StaffAction.action.startswith("inbox_")))
        return [(a.action, a.target_id) for a in rows]


@pytest.fixture
def receptionist(db, hospitals):  # noqa: F811
    app = make_app(db, staff_idle_minutes=30)
    client = app.test_client()
    username, _ = make_staff(db, "receptionist")
    log_in(client, username)
    return app, client


def test_the_inbox_lists_the_waiting_conversations_with_reason_waiting_time_and_patient_text_as_text(db, receptionist):
    _, client = receptionist
    now = utcnow()
    flagged(db, "u-asked", "the user asked for staff", at=now - dt.timedelta(minutes=12))
    said(db, "u-asked", HOSTILE, at=now - dt.timedelta(minutes=12))
    flagged(db, "u-emergency", "emergency: khó thở", at=now, human=False)
    flagged(db, "u-theirs", "emergency: đau ngực", at=now, oa=OTHER_OA, human=False)
    page = client.get("/staff/inbox")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Hộp thư" in html and "Có 1 ca cấp cứu đang chờ nhân viên!" in html
    assert html.index("Cấp cứu") < html.index("Yêu cầu gặp nhân viên")  # emergencies first
    assert "12 phút" in html and "Chưa có người nhận" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html and 'href="javascript:' not in html
    assert html.count('class="waiting-item') == 2  # another hospital's conversation is not there
    assert 'hx-headers=\'{"X-Henkham-Poll": "1"}\'' in html and 'hx-trigger="every 3s"' in html


def test_the_open_conversation_shows_the_transcript_and_the_window_notice_and_is_audited(db, receptionist):
    _, client = receptionist
    conversation_id = flagged(db, "u1", "the user asked for staff", at=utcnow())
    said(db, "u1", HOSTILE, at=utcnow())
    html = client.get(f"/staff/inbox/{conversation_id}").get_data(as_text=True)
    assert "Cửa sổ trò chuyện miễn phí mở đến" in html and "không gửi được" in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2  # in the list and in the transcript
    assert "Nhận xử lý" in html and "Gửi trả lời" in html
    assert inbox_actions(db) == [("inbox_read", str(conversation_id))]


def test_another_hospitals_conversation_is_not_found_for_every_page_and_action(db, receptionist):
    _, client = receptionist
    theirs = flagged(db, "u-theirs", "the user asked for staff", at=utcnow(), oa=OTHER_OA)
    token = csrf_of(client.get("/staff/inbox").get_data(as_text=True))
    assert client.get(f"/staff/inbox/{theirs}").status_code == 404
    assert client.get(f"/staff/inbox/{theirs}/transcript").status_code == 404
    for action, form in (("take", {}), ("take", {"take_over": "1"}), ("reply", {"text": "Dạ", "key": "k" * 16})):
        response = client.post(f"/staff/inbox/{theirs}/{action}", data={"csrf_token": token, **form})
        assert response.status_code == 404, action
    assert client.post(f"/staff/inbox/{theirs}/hand-back", data={"csrf_token": token}).status_code == 404
    with db.reader() as uow:
        assert uow.session.get(Conversation, theirs).taken_by_staff_id is None
        assert uow.session.scalar(select(OutboundMessage.id)) is None


@pytest.mark.parametrize("role", ["records", "communications", "hospital_admin"])
def test_roles_without_the_inbox_get_403(db, hospitals, role):  # noqa: F811
    client = make_app(db).test_client()
    username, _ = make_staff(db, role)
    log_in(client, username)
    assert client.get("/staff/inbox").status_code == 403
    assert client.get("/staff/inbox/list", headers=POLL).status_code == 403


def test_polling_answers_204_while_the_list_is_unchanged_and_the_new_list_when_it_changes(db, receptionist):
    _, client = receptionist
    first = LIST_FP.search(client.get("/staff/inbox").get_data(as_text=True)).group(1)
    assert client.get(f"/staff/inbox/list?fp={first}", headers=POLL).status_code == 204
    flagged(db, "u-new", "the user asked for staff", at=utcnow())
    changed = client.get(f"/staff/inbox/list?fp={first}", headers=POLL)
    assert changed.status_code == 200
    body = changed.get_data(as_text=True)
    assert "Yêu cầu gặp nhân viên" in body and "<html" not in body  # the list alone, for htmx to swap
    second = LIST_FP.search(body).group(1)
    assert second != first
    assert client.get(f"/staff/inbox/list?fp={second}", headers=POLL).status_code == 204


def test_the_transcript_is_polled_the_same_way(db, receptionist):
    _, client = receptionist
    conversation_id = flagged(db, "u1", "the user asked for staff", at=utcnow())
    html = client.get(f"/staff/inbox/{conversation_id}/transcript", headers=POLL).get_data(as_text=True)
    fp = re.search(r"transcript\?fp=([0-9a-f]{20})", html).group(1)
    url = f"/staff/inbox/{conversation_id}/transcript?fp={fp}"
    assert client.get(url, headers=POLL).status_code == 204
    said(db, "u1", "alo", at=utcnow())
    again = client.get(url, headers=POLL)
    assert again.status_code == 200 and "alo" in again.get_data(as_text=True)
    # a chat is patient data: each transcript shown is an audited read; a poll answered "unchanged" is not
    with db.reader() as uow:
        reads = uow.session.scalars(
            select(AccessAudit.record_id).where(AccessAudit.record_kind == "zalo_conversation")
        ).all()
    assert reads == [str(conversation_id)] * 2


def test_an_idle_session_ends_although_the_page_keeps_polling(db, receptionist, time_machine):
    _, client = receptionist
    assert client.get("/staff/inbox").status_code == 200
    for minutes in (10, 10, 9):  # 29 minutes of polling only, nobody at the desk
        time_machine.move_to(time.time() + minutes * 60)
        assert client.get("/staff/inbox/list", headers=POLL).status_code in (200, 204)
    time_machine.move_to(time.time() + 2 * 60)  # 31 minutes since the receptionist last did anything
    ended = client.get("/staff/inbox/list", headers=POLL)
    assert ended.status_code == 401 and ended.headers["HX-Redirect"].startswith("/staff/login")
    assert client.get("/staff/inbox").status_code == 302


def test_activity_still_keeps_the_session_alive(db, receptionist, time_machine):
    _, client = receptionist
    for _ in range(3):
        time_machine.move_to(time.time() + 11 * 60)
        assert client.get("/staff/inbox").status_code == 200  # a page the receptionist opened


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(db, receptionist):
    _, client = receptionist
    conversation_id = flagged(db, "u1", "the user asked for staff", at=utcnow())
    for action, form in (("take", {}), ("reply", {"text": "Dạ", "key": "k" * 16}), ("hand-back", {})):
        assert client.post(f"/staff/inbox/{conversation_id}/{action}", data=form).status_code == 400
        headers = {"X-CSRFToken": "forged"}
        assert client.post(f"/staff/inbox/{conversation_id}/{action}", data=form, headers=headers).status_code == 400
    with db.reader() as uow:
        row = uow.session.get(Conversation, conversation_id)
        assert row.taken_by_staff_id is None and row.needs_staff
        assert uow.session.scalar(select(OutboundMessage.id)) is None
    assert inbox_actions(db) == []


def test_take_reply_and_hand_back_from_the_console(db, receptionist):
    app, client = receptionist
    conversation_id = flagged(db, "u1", "the user asked for staff", at=utcnow())
    page = client.get(f"/staff/inbox/{conversation_id}").get_data(as_text=True)
    token = csrf_of(page)
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    taken = client.post(f"/staff/inbox/{conversation_id}/take", data={"csrf_token": token})
    assert taken.status_code == 302
    html = client.get(f"/staff/inbox/{conversation_id}").get_data(as_text=True)
    assert "Bạn đang xử lý cuộc trò chuyện này" in html
    empty = client.post(f"/staff/inbox/{conversation_id}/reply", data={"csrf_token": token, "text": " ", "key": key})
    assert empty.status_code == 422 and "Hãy nhập nội dung trả lời." in empty.get_data(as_text=True)
    form = {"csrf_token": token, "text": "Dạ, em là nhân viên tiếp đón ạ.", "key": key}
    assert client.post(f"/staff/inbox/{conversation_id}/reply", data=form).status_code == 302
    assert client.post(f"/staff/inbox/{conversation_id}/reply", data=form).status_code == 302  # sent twice: once
    with db.reader() as uow:
        rows = uow.session.scalars(select(OutboundMessage)).all()
        assert [(r.purpose, OutgoingMessage.from_json(r.body).text) for r in rows] == [
            ("staff_reply", "Dạ, em là nhân viên tiếp đón ạ.")
        ]
    shown = client.get(f"/staff/inbox/{conversation_id}").get_data(as_text=True)
    assert "Dạ, em là nhân viên tiếp đón ạ." in shown and "Nhân viên Nhân viên receptionist" in shown
    app.extensions["henkham.rasa"] = RasaBot("http://127.0.0.1:9", 1, token=RASA_TOKEN)  # down
    down = client.post(f"/staff/inbox/{conversation_id}/hand-back", data={"csrf_token": token})
    assert down.status_code == 409 and "vẫn do nhân viên phụ trách" in down.get_data(as_text=True)
    with fake_rasa() as (url, received):
        app.extensions["henkham.rasa"] = RasaBot(url, 2, token=RASA_TOKEN)
        back = client.post(f"/staff/inbox/{conversation_id}/hand-back", data={"csrf_token": token})
    assert back.status_code == 302 and received
    after = client.get(back.headers["Location"]).get_data(as_text=True)
    assert "Đã trả cuộc trò chuyện cho trợ lý tự động." in after and "Không có cuộc trò chuyện nào đang chờ." in after
    assert [a for a, _ in inbox_actions(db)] == [
        "inbox_read",
        "inbox_take",
        "inbox_read",
        "inbox_reply",
        "inbox_reply",
        "inbox_read",
        "inbox_hand_back",
    ]


def test_a_conversation_taken_by_someone_else_needs_take_over(db, receptionist):
    _, client = receptionist
    conversation_id = flagged(db, "u1", "emergency: co giật", at=utcnow(), human=False)
    other = make_app(db).test_client()
    colleague, _ = make_staff(db, "receptionist")
    log_in(other, colleague)
    token = csrf_of(other.get("/staff/inbox").get_data(as_text=True))
    assert other.post(f"/staff/inbox/{conversation_id}/take", data={"csrf_token": token}).status_code == 302
    page = client.get(f"/staff/inbox/{conversation_id}").get_data(as_text=True)
    assert "Đang do Nhân viên receptionist xử lý" in page and "Nhận thay" in page and "Gửi trả lời" not in page
    mine = csrf_of(page)
    refused = client.post(f"/staff/inbox/{conversation_id}/take", data={"csrf_token": mine})
    assert refused.status_code == 409 and "Nhận thay" in refused.get_data(as_text=True)
    over = client.post(f"/staff/inbox/{conversation_id}/take", data={"csrf_token": mine, "take_over": "1"})
    assert over.status_code == 302
    assert "Bạn đang xử lý" in client.get(f"/staff/inbox/{conversation_id}").get_data(as_text=True)


def test_a_province_admin_sees_the_inbox_of_the_hospital_in_force_only(db, hospitals):  # noqa: F811
    client = make_app(db).test_client()
    admin, _ = make_staff(db, "province_admin")
    log_in(client, admin)
    with client.session_transaction("/staff/") as session:  # a hospital chosen (the default one is looked up otherwise)
        session["hospital_id"] = hospitals["test"]
    mine = flagged(db, "u-test", "the user asked for staff", at=utcnow())
    theirs = flagged(db, "u-other", "emergency: sốt cao", at=utcnow(), oa=OTHER_OA, human=False)
    token = csrf_of(client.get("/staff/inbox").get_data(as_text=True))
    for hospital, shown, hidden in (("test", mine, theirs), ("other", theirs, mine)):
        chosen = client.post(
            "/staff/hospital", data={"csrf_token": token, "hospital_id": hospitals[hospital], "next": "/staff/inbox"}
        )
        assert chosen.status_code == 302
        html = client.get("/staff/inbox").get_data(as_text=True)
        assert f'data-conversation="{shown}"' in html and f'data-conversation="{hidden}"' not in html
        assert client.get(f"/staff/inbox/{shown}").status_code == 200
        assert client.get(f"/staff/inbox/{hidden}").status_code == 404
