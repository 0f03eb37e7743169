"""core.news.campaign_drafts (the console's form read into a campaign, the preview) and the console's core
services of core.news.campaigns: ``list_campaigns`` (one hospital, newest first, with counts) and
``problem_recipients`` (who was not reached and why, masked)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.zalo_webhook.broadcasts import run_campaigns
from bot.zalo_webhook.campaign_channel import ZaloCampaignChannel
from bot.zalo_webhook.models import Conversation, OutboundMessage
from core.audit import Actor
from core.booking import patients
from core.booking.models import Hospital
from core.news import campaign_drafts as drafts
from core.news import campaigns
from core.news import subscriptions as news
from core.news.campaigns import CampaignTarget, NewCampaign
from core.news.delivery import SenderAccount
from core.tenancy import OtherHospital
from tests.conftest import NOW
from tests.factories import add_hospital
from tests.zalo_helpers import OA_ID, zalo_settings

CHANNEL = ZaloCampaignChannel()
CHOICES = drafts.audiences([SenderAccount(OA_ID, None)])
FORM = {
    "title": "Phòng bệnh tiểu đường",
    "text": "Dạ, bệnh viện gửi anh/chị lời khuyên.\r\nĂn ít đường.",
    "link_url": "https://benhvien.example/tieu-duong",
    "audience": "topic:tieu_duong",
    "when": "now",
}

pytestmark = pytest.mark.world(days=1)


# --- the form and the preview (pure) ----------------------------------------------------------------------------
def test_a_form_becomes_the_campaign_it_describes():
    spec = drafts.read_draft(FORM, "test", CHOICES, NOW)
    assert spec == NewCampaign(
        hospital="test",
        title="Phòng bệnh tiểu đường",
        text="Dạ, bệnh viện gửi anh/chị lời khuyên.\nĂn ít đường.",
        link_url="https://benhvien.example/tieu-duong",
        target=CampaignTarget(kind="topic", topic="tieu_duong"),
    )
    later = drafts.read_draft({**FORM, "when": "later", "send_at": "2026-12-07T14:30"}, "test", CHOICES, NOW)
    assert later.send_at == dt.datetime(2026, 12, 7, 7, 30, tzinfo=dt.UTC), "Vietnamese local time, stored UTC"
    followers = drafts.read_draft({**FORM, "audience": f"followers:{OA_ID}"}, "test", CHOICES, NOW)
    assert followers.target == CampaignTarget(kind="followers", oa_id=OA_ID)
    assert drafts.read_draft({**FORM, "audience": "patients"}, "test", CHOICES, NOW).target.kind == "patients"


def test_every_problem_of_the_form_is_named_at_once():
    with pytest.raises(drafts.DraftInvalid) as raised:
        drafts.read_draft(
            {"title": "", "text": "", "image_url": "http://x.example/a.png", "link_url": "ftp://x", "audience": "x"},
            "test",
            CHOICES,
            NOW,
        )
    assert set(raised.value.errors) == {"title", "text", "image_url", "link_url", "audience"}
    assert raised.value.errors["image_url"] == "Địa chỉ hình ảnh phải bắt đầu bằng https://."


@pytest.mark.parametrize(
    "address",
    [
        "http://benhvien.example",
        "javascript:alert(1)",
        "https://",
        "https://localhost/x",
        "https://u:p@a.example/",
        "https://a.example/\x00",
        "data:text/html,x",
        "HTTPS://a.example",
    ],
)
def test_only_https_addresses_with_a_domain_are_accepted(address):
    with pytest.raises(drafts.DraftInvalid) as raised:
        drafts.read_draft({**FORM, "link_url": address}, "test", CHOICES, NOW)
    assert "link_url" in raised.value.errors


def test_the_preview_is_what_the_sender_composes_with_the_problems_so_far():
    shown = drafts.preview({**FORM, "image_url": "https://benhvien.example/a.png"}, NOW)
    assert shown.text == campaigns.compose(
        FORM["title"],
        "Dạ, bệnh viện gửi anh/chị lời khuyên.\nĂn ít đường.",
        "https://benhvien.example/a.png",
        FORM["link_url"],
    )
    assert shown.length == len(shown.text) and not shown.errors and not shown.note
    empty = drafts.preview({}, NOW)
    assert empty.text.endswith(campaigns.UNSUBSCRIBE_HINT)
    assert set(empty.errors) == {"title", "text"}
    night = drafts.preview({**FORM, "when": "later", "send_at": "2026-12-07T22:30"}, NOW)
    assert "22:00 đến 06:00" in night.note
    long = drafts.preview({**FORM, "text": "x" * 1995}, NOW)
    assert long.too_long and "tối đa 2000 ký tự" in long.errors["text"]


def test_reasons_and_statuses_read_in_vietnamese():
    assert drafts.reason_vi(campaigns.SKIP_UNSUBSCRIBED) == "Đã hủy đăng ký chủ đề này"
    assert drafts.reason_vi("frequency cap: 4 broadcasts in 30 days") == (
        "Đã nhận đủ 4 tin trong 30 ngày (giới hạn tần suất)"
    )
    assert drafts.reason_vi("zalo -213: user blocked") == "zalo -213: user blocked"
    assert drafts.STATUS_VI["completed"] == "Đã gửi xong"
    assert [a.value for a in CHOICES][-2:] == ["patients", f"followers:{OA_ID}"]


# --- list_campaigns and problem_recipients ----------------------------------------------------------------------
def subscriber(db, user_id: str) -> int:
    with db.uow() as uow:
        uow.session.add(Conversation(oa_id=OA_ID, user_id=user_id, follower=True, last_interaction_at=NOW))
        uow.commit()
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "zalo", f"{OA_ID}:{user_id}")
    with db.uow() as uow:
        news.subscribe(uow, account_id, "test", "tieu_duong")
    return account_id


def new(db, hospital: str = "test", title: str = "Tin", now: dt.datetime = NOW) -> campaigns.CampaignView:
    spec = NewCampaign(
        hospital=hospital, title=title, text="Nội dung", target=CampaignTarget(kind="topic", topic="tieu_duong")
    )
    with db.uow() as uow:
        return campaigns.create(uow, spec, channel=CHANNEL, now=now)


def hospital_id(db, slug: str) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(Hospital.id).where(Hospital.slug == slug))


def test_list_campaigns_is_one_hospitals_newest_first_with_counts(db, oa_world, database_url):
    add_hospital(db, "other")
    subscriber(db, "u1")
    first = new(db, title="Thứ nhất")
    new(db, hospital="other", title="Của bệnh viện khác")
    second = new(db, title="Thứ hai", now=NOW + dt.timedelta(minutes=1))
    run_campaigns(db, zalo_settings(database_url, news_tag_sync_minutes=0), now=NOW + dt.timedelta(minutes=2))
    test_id = hospital_id(db, "test")
    with db.reader() as uow:
        found = campaigns.list_campaigns(uow, test_id, channel=CHANNEL)
        only_completed = campaigns.list_campaigns(uow, test_id, channel=CHANNEL, statuses=("completed",))
    assert [c.id for c in found] == [second.id, first.id]
    assert [c.counts.recipients for c in found] == [1, 1]
    assert found[0].counts.sending + found[0].counts.skipped == 1
    assert {c.status for c in only_completed} <= {"completed"}
    with db.reader() as uow:
        uow.actor = Actor(kind="staff", client_id=1, client_name="x", hospital_id=hospital_id(db, "other"))
        with pytest.raises(OtherHospital):
            campaigns.list_campaigns(uow, test_id, channel=CHANNEL)


def test_problem_recipients_name_the_reason_and_mask_the_user(db, oa_world, database_url):
    subscriber(db, "5550001111")
    subscriber(db, "5550002222")
    gone = subscriber(db, "5550003333")
    with db.uow() as uow:
        news.unsubscribe(uow, gone, "test", None)
    view = new(db)
    run_campaigns(db, zalo_settings(database_url, news_tag_sync_minutes=0), now=NOW)
    with db.uow() as uow:
        uow.session.execute(
            update(OutboundMessage).where(OutboundMessage.user_id == "5550001111").values(status="done")
        )
        uow.session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.user_id == "5550002222")
            .values(status="undeliverable", last_error="no chat window and no ZNS template")
        )
        uow.commit()
    with db.reader() as uow:
        problems = campaigns.problem_recipients(uow, view.id, channel=CHANNEL)
    assert [(p.user, p.outcome, p.reason) for p in problems] == [
        ("•••2222", "failed", "no chat window and no ZNS template"),
        ("•••3333", "skipped", campaigns.SKIP_UNSUBSCRIBED),
    ]
    add_hospital(db, "other")
    with db.reader() as uow:
        uow.actor = Actor(kind="staff", client_id=1, client_name="x", hospital_id=hospital_id(db, "other"))
        with pytest.raises(OtherHospital):
            campaigns.problem_recipients(uow, view.id, channel=CHANNEL)
    assert campaigns.mask_user("123") == "•••"


def test_audience_size_counts_who_a_target_names_today(db, oa_world):
    from core.news.sending import audience_size

    subscriber(db, "u1")
    subscriber(db, "u2")
    gone = subscriber(db, "u3")
    with db.uow() as uow:
        news.unsubscribe(uow, gone, "test", None)
    test_id = hospital_id(db, "test")
    with db.reader() as uow:
        assert audience_size(uow, CHANNEL, test_id, "topic", "tieu_duong") == 2
        assert audience_size(uow, CHANNEL, test_id, "topic", "huyet_ap") == 0
        assert audience_size(uow, CHANNEL, test_id, "followers", OA_ID) == 3
        assert audience_size(uow, CHANNEL, test_id, "patients", None) == 0  # none of them has booked
    add_hospital(db, "other")
    with db.reader() as uow:
        uow.actor = Actor(kind="staff", client_id=1, client_name="x", hospital_id=hospital_id(db, "other"))
        with pytest.raises(OtherHospital):
            audience_size(uow, CHANNEL, test_id, "topic", "tieu_duong")
