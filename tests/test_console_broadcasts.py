"""The console's broadcasts through Flask's test client: create → list and status page; bad input → the form again
with Vietnamese errors (422); the live preview as the sender composes it, as text; another hospital's campaign
→ 404; pause / resume / cancel only where the state allows (409 otherwise), each audited; who was not reached,
with the reason and a masked id. (The whole path in a real browser: tests/test_console_broadcasts_browser.py.)
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import time_machine
from sqlalchemy import select, update

from bot.zalo_webhook.broadcasts import run_campaigns
from bot.zalo_webhook.campaign_channel import ZaloCampaignChannel
from bot.zalo_webhook.models import Conversation, OutboundMessage
from core.booking import patients
from core.booking.models import Hospital
from core.config import Settings
from core.news import campaigns
from core.news import subscriptions as news
from core.news.campaigns import CampaignTarget, NewCampaign
from core.news.models import Campaign
from core.staff.models import StaffAction
from core.timeutil import to_local
from henkham.web import create_app
from tests.console_support import make_staff
from tests.factories import add_hospital
from tests.identity_helpers import with_fake_graph
from tests.test_console_access import csrf_of, log_in
from tests.zalo_helpers import OA_ID, zalo_settings

DAYTIME = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)  # Monday 10:00 in Vietnam: outside the night ban
CHANNEL = ZaloCampaignChannel()
FORM = {
    "title": "Phòng bệnh tiểu đường",
    "text": "Bệnh viện gửi anh/chị vài lời khuyên về chế độ ăn.",
    "image_url": "",
    "link_url": "https://benhvien.example/tieu-duong",
    "audience": "topic:tieu_duong",
    "when": "now",
    "send_at": "",
}


@pytest.fixture(autouse=True)
def daytime():
    with time_machine.travel(DAYTIME, tick=True):
        yield


@pytest.fixture
def client(db, oa_world):
    add_hospital(db, "other")
    app = with_fake_graph(create_app(Settings(database_url=db.url), database=db))
    test_client = app.test_client()
    assert log_in(test_client, make_staff(db, "communications")[0]).status_code == 302
    return test_client


def token(client) -> str:
    return csrf_of(client.get("/staff/broadcasts/new").get_data(as_text=True))


def create(client, **changes: str):
    return client.post("/staff/broadcasts", data={**FORM, **changes, "csrf_token": token(client)})


def created_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def act(client, campaign_id: int, action: str):
    return client.post(f"/staff/broadcasts/{campaign_id}/{action}", data={"csrf_token": token(client)})


def actions_of(db) -> list[tuple[str, str]]:
    with db.reader() as uow:
        rows = uow.session.scalars(select(StaffAction).where(StaffAction.action.like("broadcast%")))
        return [(a.action, a.target_id) for a in rows]


def subscriber(db, user_id: str, topic: str = "tieu_duong") -> int:
    """A Zalo user of the test OA subscribed to ``topic`` of hospital "test"; returns the account."""
    with db.uow() as uow:
        uow.session.add(Conversation(oa_id=OA_ID, user_id=user_id, follower=True, last_interaction_at=DAYTIME))
        uow.commit()
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "zalo", f"{OA_ID}:{user_id}")
    with db.uow() as uow:
        news.subscribe(uow, account_id, "test", topic)
    return account_id


def text_of(response) -> str:
    return response.get_data(as_text=True)


# --- create, list, status ---------------------------------------------------------------------------------------
def test_a_created_broadcast_shows_on_its_status_page_and_in_the_list(db, client):
    campaign_id = created_id(create(client))
    page = client.get(f"/staff/broadcasts/{campaign_id}")
    html = text_of(page)
    assert page.status_code == 200
    assert "Phòng bệnh tiểu đường" in html and "Đã lên lịch" in html
    assert "Xem thêm: https://benhvien.example/tieu-duong" in html  # the message as composed for the patient
    assert 'id="pause"' in html and 'id="cancel"' in html and 'id="resume"' not in html
    assert "data-confirm=" in html  # cancelling asks first
    assert 'hx-trigger="every 15s"' in html, "refreshes itself (slowly until its send time)"
    listing = text_of(client.get("/staff/broadcasts"))
    assert f"/staff/broadcasts/{campaign_id}" in listing and "Tiểu đường (đái tháo đường)" in listing
    with db.reader() as uow:
        stored = uow.session.get(Campaign, campaign_id)
        assert stored.created_by.startswith("communications-") and stored.target_topic == "tieu_duong"
    assert actions_of(db) == [("broadcast_create", str(campaign_id))]


def test_a_scheduled_time_is_read_as_vietnamese_local_time_and_stored_in_utc(db, client):
    campaign_id = created_id(create(client, when="later", send_at="2026-12-08T09:30"))
    with db.reader() as uow:
        stored = uow.session.get(Campaign, campaign_id).send_at
    assert stored.replace(tzinfo=dt.UTC) == dt.datetime(2026, 12, 8, 2, 30, tzinfo=dt.UTC)
    assert "09:30 08/12/2026" in text_of(client.get(f"/staff/broadcasts/{campaign_id}"))


def test_the_list_is_newest_first_with_the_counts(db, client):
    first = created_id(create(client, title="Tin thứ nhất"))
    second = created_id(create(client, title="Tin thứ hai"))
    html = text_of(client.get("/staff/broadcasts"))
    assert html.index(f"/staff/broadcasts/{second}") < html.index(f"/staff/broadcasts/{first}")
    assert "Đã gửi" in html and "Lỗi" in html and "Bỏ qua" in html and "Đang chờ" in html


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"title": ""}, "Tiêu đề không được để trống."),
        ({"text": "   "}, "Nội dung không được để trống."),
        ({"link_url": "http://benhvien.example/x"}, "Địa chỉ liên kết phải bắt đầu bằng https://."),
        ({"image_url": "javascript:alert(1)"}, "Địa chỉ hình ảnh phải bắt đầu bằng https://."),
        ({"image_url": "https://a b.example/x.png"}, "không được chứa khoảng trắng"),
        ({"audience": "topic:no_such_topic"}, "Chọn người nhận trong danh sách."),
        ({"audience": "followers:999"}, "Chọn người nhận trong danh sách."),
        ({"when": "later", "send_at": "2026-12-07T09:00"}, "Thời điểm gửi đã qua"),
        ({"when": "later", "send_at": "2028-01-01T09:00"}, "Thời điểm gửi quá xa"),
        ({"when": "later", "send_at": "ngày mai"}, "Chọn ngày và giờ gửi"),
        ({"text": "x" * 1990}, "một tin Zalo chứa tối đa 2000 ký tự"),
    ],
)
def test_bad_input_shows_the_form_again_with_a_vietnamese_error(db, client, changes, expected):
    response = create(client, **changes)
    html = text_of(response)
    assert response.status_code == 422
    assert expected in html and "Vui lòng sửa các mục được đánh dấu" in html
    assert 'name="title"' in html, "the form again, with what was typed"
    with db.reader() as uow:
        assert uow.session.scalar(select(Campaign.id)) is None
    assert actions_of(db) == []


def test_the_preview_is_the_message_the_sender_composes_rendered_as_text(client):
    typed = {**FORM, "title": "<script>alert(1)</script> Tin", "text": "Dạ <img src=x onerror=alert(1)> ạ"}
    response = client.post(
        "/staff/broadcasts/preview",
        data=typed,
        headers={"HX-Request": "true", "X-CSRFToken": token(client)},
    )
    html = text_of(response)
    assert response.status_code == 200
    composed = campaigns.compose(typed["title"], typed["text"], None, typed["link_url"])
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Tin" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert campaigns.UNSUBSCRIBE_HINT in html and "Xem thêm: https://benhvien.example/tieu-duong" in html
    assert f"{len(composed)} / 2000 ký tự" in html
    shown = client.post(
        "/staff/broadcasts/preview",
        data={**FORM, "link_url": "http://x.example"},
        headers={"X-CSRFToken": token(client)},
    )
    assert "Địa chỉ liên kết phải bắt đầu bằng https://." in text_of(shown)


def test_the_preview_says_when_the_night_ban_delays_a_scheduled_send(client):
    html = text_of(
        client.post(
            "/staff/broadcasts/preview",
            data={**FORM, "when": "later", "send_at": "2026-12-07T23:00"},
            headers={"X-CSRFToken": token(client)},
        )
    )
    assert "Không gửi tin từ 22:00 đến 06:00" in html


# --- tenancy and roles ------------------------------------------------------------------------------------------
def test_another_hospitals_campaign_is_not_found(db, client):
    with db.uow() as uow:
        other = campaigns.create(
            uow,
            NewCampaign(
                hospital="other",
                title="Tin của bệnh viện khác",
                text="Nội dung riêng",
                target=CampaignTarget(kind="patients"),
            ),
            channel=CHANNEL,
        )
    for path in (f"/staff/broadcasts/{other.id}", f"/staff/broadcasts/{other.id}/panel"):
        response = client.get(path)
        assert response.status_code == 404 and "Tin của bệnh viện khác" not in text_of(response)
    for action in ("pause", "resume", "cancel"):
        assert act(client, other.id, action).status_code == 404
    assert "Tin của bệnh viện khác" not in text_of(client.get("/staff/broadcasts"))
    with db.reader() as uow:
        assert uow.session.get(Campaign, other.id).status == "scheduled"
    assert actions_of(db) == []


def test_only_communications_and_the_province_admin_reach_broadcasts(db, oa_world):
    app = with_fake_graph(create_app(Settings(database_url=db.url), database=db))
    for role, allowed in (("receptionist", False), ("hospital_admin", False), ("province_admin", True)):
        client = app.test_client()
        log_in(client, make_staff(db, role)[0])
        if role == "province_admin":
            with client.session_transaction("/staff/") as session, db.reader() as uow:
                session["hospital_id"] = uow.session.scalar(select(Hospital.id).where(Hospital.slug == "test"))
        assert client.get("/staff/broadcasts").status_code == (200 if allowed else 403), role
        assert ("Truyền thông" in text_of(client.get("/staff/"))) is allowed, role


# --- pause, resume, cancel --------------------------------------------------------------------------------------
def test_pause_resume_and_cancel_follow_the_state_and_are_audited(db, client):
    campaign_id = created_id(create(client, when="later", send_at="2026-12-07T15:00"))
    assert act(client, campaign_id, "resume").status_code == 409  # not paused
    paused = act(client, campaign_id, "pause")
    assert paused.status_code == 302
    html = text_of(client.get(f"/staff/broadcasts/{campaign_id}"))
    assert "Tạm dừng" in html and 'id="resume"' in html and 'id="pause"' not in html
    again = act(client, campaign_id, "pause")
    assert again.status_code == 409 and "Chỉ tạm dừng được" in text_of(again)
    assert act(client, campaign_id, "resume").status_code == 302
    assert "Đã lên lịch" in text_of(client.get(f"/staff/broadcasts/{campaign_id}"))
    assert act(client, campaign_id, "cancel").status_code == 302
    html = text_of(client.get(f"/staff/broadcasts/{campaign_id}"))
    assert "Đã hủy" in html and 'id="cancel"' not in html and 'id="resume"' not in html
    assert "every " not in html, "a finished campaign stops refreshing"
    for action in ("pause", "resume", "cancel"):
        refused = act(client, campaign_id, action)
        assert refused.status_code == 409 and "text/html" in refused.content_type
    assert actions_of(db) == [
        ("broadcast_create", str(campaign_id)),
        ("broadcast_pause", str(campaign_id)),
        ("broadcast_resume", str(campaign_id)),
        ("broadcast_cancel", str(campaign_id)),
    ]


def test_an_action_without_the_csrf_token_is_refused(db, client):
    campaign_id = created_id(create(client))
    assert client.post(f"/staff/broadcasts/{campaign_id}/cancel").status_code == 400
    with db.reader() as uow:
        assert uow.session.get(Campaign, campaign_id).status == "scheduled"


# --- who was not reached ----------------------------------------------------------------------------------------
def test_the_status_page_lists_failed_and_skipped_recipients_with_reasons_and_masked_ids(db, client, database_url):
    subscriber(db, "5550001111")
    subscriber(db, "5550002222")
    gone = subscriber(db, "5550003333")
    with db.uow() as uow:
        news.unsubscribe(uow, gone, "test", None)
    campaign_id = created_id(create(client))
    run_campaigns(db, zalo_settings(database_url, news_tag_sync_minutes=0))
    with db.uow() as uow:  # the sender delivered one; Zalo refused the other
        uow.session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.user_id == "5550001111")
            .values(status="done", channel="cs", sent_at=DAYTIME)
        )
        uow.session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.user_id == "5550002222")
            .values(status="failed", last_error="zalo -213: user has not interacted with the OA")
        )
        uow.commit()
    html = text_of(client.get(f"/staff/broadcasts/{campaign_id}"))
    assert "Đã gửi xong" in html
    assert re.search(r'data-count="sent">1<', html) and re.search(r'data-count="failed">1<', html)
    assert re.search(r'data-count="skipped">1<', html)
    assert "•••2222" in html and "zalo -213: user has not interacted with the OA" in html
    assert "•••3333" in html and "Đã hủy đăng ký chủ đề này" in html
    assert "5550002222" not in html and "5550003333" not in html and "•••1111" not in html
    listing = text_of(client.get("/staff/broadcasts"))
    assert re.search(r'<td class="num">1</td>\s*<td class="num">1</td>\s*<td class="num">1</td>', listing)


def test_the_panel_refreshes_while_sending_and_shows_local_times(db, client, database_url):
    subscriber(db, "5550004444")
    campaign_id = created_id(create(client))
    run_campaigns(db, zalo_settings(database_url, news_tag_sync_minutes=0))
    panel = client.get(f"/staff/broadcasts/{campaign_id}/panel", headers={"HX-Request": "true"})
    html = text_of(panel)
    assert panel.status_code == 200 and "<html" not in html
    assert 'data-count="sending">1<' in html and "every 3s" in html
    assert to_local(DAYTIME).strftime("%d/%m/%Y") in html


def test_live_refresh_stops_half_an_hour_after_the_page_was_opened(db, client, database_url):
    subscriber(db, "5550005555")
    campaign_id = created_id(create(client))
    run_campaigns(db, zalo_settings(database_url, news_tag_sync_minutes=0))
    opened_at = int(time.time())
    fresh = text_of(client.get(f"/staff/broadcasts/{campaign_id}/panel?since={opened_at - 60}"))
    assert f"since={opened_at - 60}" in fresh and "every 3s" in fresh
    stale = text_of(client.get(f"/staff/broadcasts/{campaign_id}/panel?since={opened_at - 31 * 60}"))
    assert "hx-trigger" not in stale and "đã dừng tự cập nhật" in stale


def test_the_form_says_about_how_many_people_the_audience_is(db, client):
    subscriber(db, "5550006666")
    subscriber(db, "5550007777")
    assert 'hx-get="/staff/broadcasts/audience"' in text_of(client.get("/staff/broadcasts/new"))
    size = client.get("/staff/broadcasts/audience?audience=topic:tieu_duong", headers={"HX-Request": "true"})
    assert size.status_code == 200 and "khoảng 2 người nhận" in text_of(size)
    assert "chưa có ai" in text_of(client.get("/staff/broadcasts/audience?audience=topic:huyet_ap"))
    assert text_of(client.get("/staff/broadcasts/audience?audience=followers:someone-elses-oa")).strip() == ""
