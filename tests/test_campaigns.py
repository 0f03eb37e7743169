"""Health-education campaigns: targets, send time, night ban, frequency cap, unsubscribes, pause/resume/cancel,
exactly once. Time travels by passing ``now`` (and with time-machine where the code reads the clock)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import func, select, update

from bot.zalo_webhook.broadcasts import run_campaigns
from bot.zalo_webhook.campaign_channel import ZaloCampaignChannel
from bot.zalo_webhook.models import Conversation, OutboundMessage
from core.booking import patients
from core.errors import Conflict, InvalidInput, NotFound
from core.news import campaigns
from core.news import subscriptions as news
from core.news.campaigns import CampaignTarget, NewCampaign
from core.news.models import Campaign, CampaignRecipient
from core.news.sending import message_key, sending_allowed
from core.timeutil import local_to_utc
from core.uow import Database
from tests import factories
from tests.conftest import NOW, opened
from tests.factories import today_local
from tests.harness import run_together
from tests.zalo_helpers import OA_ID, zalo_settings

CHANNEL = ZaloCampaignChannel()

DAY = dt.date(2026, 12, 7)  # NOW is Monday 2026-12-07 08:00 local


def at(hhmm: str, day: dt.date = DAY) -> dt.datetime:
    """A local time of ``day`` as the UTC moment the code takes."""
    return local_to_utc(day, dt.time.fromisoformat(hhmm))


pytestmark = pytest.mark.world(days=1)


@pytest.fixture
def settings(database_url):
    return zalo_settings(database_url, news_tag_sync_minutes=0)


def zalo_user(db: Database, user_id: str, *, follower: bool = True, topics: tuple[str, ...] = ()) -> int:
    """A Zalo user of the test OA (conversation and account), subscribed to ``topics``; returns the account."""
    with db.uow() as uow:
        uow.session.add(Conversation(oa_id=OA_ID, user_id=user_id, follower=follower, last_interaction_at=NOW))
        uow.commit()
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "zalo", f"{OA_ID}:{user_id}")
    for topic in topics:
        with db.uow() as uow:
            news.subscribe(uow, account_id, "test", topic)
    return account_id


def new_campaign(db: Database, *, target: dict, send_at: dt.datetime | None = None, now: dt.datetime = NOW, **kw):
    spec = NewCampaign(
        hospital=kw.pop("hospital", "test"),
        title=kw.pop("title", "Phòng bệnh tiểu đường"),
        text=kw.pop("text", "Dạ, bệnh viện xin gửi anh/chị vài lời khuyên về chế độ ăn cho người tiểu đường ạ."),
        target=CampaignTarget(**target),
        send_at=send_at,
        **kw,
    )
    with db.uow() as uow:
        return campaigns.create(uow, spec, created_by="test", now=now, channel=CHANNEL)


def status(db: Database, campaign_id: int) -> campaigns.CampaignView:
    with db.uow() as uow:
        return campaigns.status(uow, campaign_id, channel=CHANNEL)


def news_outbox(db: Database) -> list[OutboundMessage]:
    with db.reader() as uow:
        rows = list(
            uow.session.scalars(
                select(OutboundMessage).where(OutboundMessage.purpose == "news").order_by(OutboundMessage.id)
            )
        )
        uow.session.expunge_all()
        return rows


def deliver_all(db: Database, at_: dt.datetime = NOW) -> int:
    """Stand in for the sender (these tests are about what is queued): every open message counts as sent."""
    with db.uow() as uow:
        n = uow.session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.status.in_(("pending", "processing")))
            .values(status="done", channel="cs", sent_at=at_)
        ).rowcount
        uow.commit()
    return n


def recipients_of(db: Database, campaign_id: int) -> dict[str, tuple[str, str]]:
    with db.reader() as uow:
        return {
            r.user_id: (r.status, r.reason)
            for r in uow.session.scalars(select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id))
        }


TOPIC = {"kind": "topic", "topic": "tieu_duong"}
FOLLOWERS = {"kind": "followers", "oa_id": OA_ID}


# --- send time and night ban ------------------------------------------------------------------------------------
def test_a_send_time_in_the_future_waits_for_it(oa_world, db, settings):
    for i in range(3):
        zalo_user(db, f"u{i}", topics=("tiểu đường",))
    view = new_campaign(db, target=TOPIC, send_at=at("10:00"))
    assert view.status == "scheduled" and view.send_at_local == "2026-12-07 10:00"
    assert run_campaigns(db, settings, now=at("08:00")) == 0
    assert run_campaigns(db, settings, now=at("09:59")) == 0
    assert news_outbox(db) == [] and status(db, view.id).counts.recipients == 0
    assert run_campaigns(db, settings, now=at("10:00")) > 0
    after = status(db, view.id)
    assert after.status == "completed" and after.counts.recipients == 3 and after.counts.sending == 3
    assert {m.idempotency_key for m in news_outbox(db)} == {message_key(view.id, OA_ID, f"u{i}") for i in range(3)}
    assert run_campaigns(db, settings, now=at("10:05")) == 0, "idle afterwards"


def test_the_clock_decides_when_no_time_is_passed(oa_world, db, settings):
    zalo_user(db, "u1", topics=("tiểu đường",))
    with time_machine.travel(at("08:00"), tick=False):
        view = new_campaign(db, target=TOPIC, send_at=at("09:00"), now=at("08:00"))
        assert run_campaigns(db, settings) == 0
    with time_machine.travel(at("09:00"), tick=False):
        assert run_campaigns(db, settings) > 0
    [message] = news_outbox(db)
    assert message.created_at == at("09:00")
    assert status(db, view.id).counts.sending == 1


@pytest.mark.parametrize("night", ["22:00", "23:30", "02:00", "05:59"])
def test_nothing_is_queued_at_night(night):
    day = DAY if night >= "22:00" else DAY + dt.timedelta(days=1)
    assert not sending_allowed(at(night, day))
    assert sending_allowed(at("06:00")) and sending_allowed(at("21:59"))
    assert not sending_allowed(at("21:56"), margin_minutes=5), "the margin keeps a backlog out of the night"


def test_the_night_ban_holds_a_campaign_until_six(oa_world, db, settings):
    for i in range(2):
        zalo_user(db, f"u{i}", topics=("tiểu đường",))
    view = new_campaign(db, target=TOPIC, send_at=at("22:30"))
    run_campaigns(db, settings, now=at("22:30"))
    held = status(db, view.id)
    assert held.status == "running" and held.counts.waiting == 2 and news_outbox(db) == []
    tomorrow = DAY + dt.timedelta(days=1)
    for moment in ("00:00", "03:00", "05:59"):
        assert run_campaigns(db, settings, now=at(moment, tomorrow)) == 0
    assert news_outbox(db) == []
    assert run_campaigns(db, settings, now=at("06:00", tomorrow)) == 2 + 1  # two recipients, one campaign completed
    assert [m.created_at for m in news_outbox(db)] == [at("06:00", tomorrow)] * 2
    assert [m.useful_until for m in news_outbox(db)] == [at("22:00", tomorrow)] * 2, "never sent into the next night"
    assert status(db, view.id).status == "completed"


def test_a_campaign_is_not_started_in_the_last_minutes_before_the_ban(oa_world, db, settings):
    zalo_user(db, "u1", topics=("tiểu đường",))
    new_campaign(db, target=TOPIC, send_at=at("21:57"))
    run_campaigns(db, settings, now=at("21:57"))
    assert news_outbox(db) == []
    run_campaigns(db, settings, now=at("06:00", DAY + dt.timedelta(days=1)))
    assert len(news_outbox(db)) == 1


# --- frequency cap ----------------------------------------------------------------------------------------------
def test_the_frequency_cap_skips_with_the_reason_and_frees_up_after_the_window(oa_world, db, settings):
    zalo_user(db, "busy", topics=("tiểu đường",))
    for n in range(4):  # four broadcasts in December to "busy"
        day = DAY + dt.timedelta(days=n)
        new_campaign(db, target=TOPIC, send_at=at("09:00", day), now=at("08:00", day))
        run_campaigns(db, settings, now=at("09:00", day))
        deliver_all(db)
    zalo_user(db, "fresh", topics=("tiểu đường",))
    fifth_day = DAY + dt.timedelta(days=10)
    fifth = new_campaign(db, target=TOPIC, send_at=at("09:00", fifth_day), now=at("08:00", fifth_day))
    run_campaigns(db, settings, now=at("09:00", fifth_day))
    assert recipients_of(db, fifth.id) == {
        "busy": ("skipped", "frequency cap: 4 broadcasts in 30 days"),
        "fresh": ("queued", ""),
    }
    view = status(db, fifth.id)
    assert view.counts.skipped == 1 and view.skipped_reasons == {"frequency cap: 4 broadcasts in 30 days": 1}
    # 30 days after the first one, the first has left the window: one more fits.
    later_day = DAY + dt.timedelta(days=30)
    later = new_campaign(db, target=TOPIC, send_at=at("09:00", later_day), now=at("08:00", later_day))
    run_campaigns(db, settings, now=at("09:00", later_day))
    assert recipients_of(db, later.id)["busy"] == ("queued", "")


def test_the_cap_is_a_setting(oa_world, db, database_url):
    settings = zalo_settings(database_url, news_tag_sync_minutes=0, news_monthly_cap=1, news_cap_window_days=7)
    zalo_user(db, "u1", topics=("tiểu đường",))
    first = new_campaign(db, target=TOPIC)
    second = new_campaign(db, target=TOPIC)
    run_campaigns(db, settings, now=NOW)
    assert recipients_of(db, first.id)["u1"] == ("queued", "")
    assert recipients_of(db, second.id)["u1"] == ("skipped", "frequency cap: 1 broadcasts in 7 days")


def test_a_broadcast_that_did_not_reach_the_user_does_not_count_against_the_cap(oa_world, db, database_url):
    settings = zalo_settings(database_url, news_tag_sync_minutes=0, news_monthly_cap=1)
    zalo_user(db, "u1", topics=("tiểu đường",))
    new_campaign(db, target=TOPIC)
    run_campaigns(db, settings, now=NOW)
    with db.uow() as uow:
        uow.session.execute(
            update(OutboundMessage).values(status="undeliverable", last_error="chat window closed (over 7 days)")
        )
        uow.commit()
    second = new_campaign(db, target=TOPIC)
    run_campaigns(db, settings, now=NOW)
    assert recipients_of(db, second.id)["u1"] == ("queued", "")
    deliver_all(db)
    third = new_campaign(db, target=TOPIC)
    run_campaigns(db, settings, now=NOW)
    assert recipients_of(db, third.id)["u1"] == ("skipped", "frequency cap: 1 broadcasts in 30 days")


# --- unsubscribes -----------------------------------------------------------------------------------------------
def test_a_topic_campaign_skips_who_unsubscribed_before_or_after_it_started(oa_world, db, settings):
    zalo_user(db, "stays", topics=("tiểu đường", "tim mạch"))
    left_topic = zalo_user(db, "left-topic", topics=("tiểu đường", "tim mạch"))
    late = zalo_user(db, "late", topics=("tiểu đường",))
    zalo_user(db, "other-topic", topics=("tim mạch",))
    with db.uow() as uow:
        assert news.unsubscribe(uow, left_topic, "test", "tiểu đường") == ["tieu_duong"]
    view = new_campaign(db, target=TOPIC, send_at=at("05:00"), now=at("04:00"))
    run_campaigns(db, settings, now=at("05:00"))  # expanded, held by the night ban
    with db.uow() as uow:
        assert news.unsubscribe(uow, late, "test", None) == ["tieu_duong"]  # "hủy nhận tin" while it waits
    run_campaigns(db, settings, now=NOW)
    assert recipients_of(db, view.id) == {
        "stays": ("queued", ""),
        "left-topic": ("skipped", "unsubscribed"),
        "late": ("skipped", "unsubscribed"),
    }
    assert status(db, view.id).skipped_reasons == {"unsubscribed": 2}


def test_followers_campaigns_respect_hủy_nhận_tin_and_unfollows(oa_world, db, settings):
    zalo_user(db, "never-subscribed")
    zalo_user(db, "subscribed", topics=("tim mạch",))
    opted_out = zalo_user(db, "opted-out", topics=("tim mạch", "nhi"))
    kept_one = zalo_user(db, "kept-one", topics=("tim mạch", "nhi"))
    zalo_user(db, "not-following", follower=False)
    zalo_user(db, "unfollows-later")
    with db.uow() as uow:
        news.unsubscribe(uow, opted_out, "test", None)
    with db.uow() as uow:
        news.unsubscribe(uow, kept_one, "test", "nhi")
    view = new_campaign(db, target=FOLLOWERS, send_at=at("05:00"), now=at("04:00"))
    run_campaigns(db, settings, now=at("05:00"))  # expanded, held by the night ban
    assert status(db, view.id).counts.waiting == 5
    with db.uow() as uow:
        uow.session.execute(
            update(Conversation).where(Conversation.user_id == "unfollows-later").values(follower=False)
        )
        uow.commit()
    run_campaigns(db, settings, now=NOW)
    assert recipients_of(db, view.id) == {
        "never-subscribed": ("queued", ""),
        "subscribed": ("queued", ""),
        "opted-out": ("skipped", "unsubscribed from the hospital's news"),
        "kept-one": ("queued", ""),
        "unfollows-later": ("skipped", "no longer follows the OA"),
    }


def test_a_patients_campaign_reaches_zalo_accounts_with_an_appointment_there(oa_world, db, settings):
    patient_account = zalo_user(db, "patient")
    zalo_user(db, "not-a-patient")
    patient_id = factories.new_patient(db, patient_account)
    day = today_local()
    slot_id = factories.slot_at(db, "nhi", day, "07:00")
    world_of_account = factories.World(hospital="test", departments=["nhi", "mat"], account_id=patient_account)
    factories.book(db, world_of_account, slot_id, patient_id, now=local_to_utc(day, dt.time(0, 0)))
    view = new_campaign(db, target={"kind": "patients"})
    run_campaigns(db, settings, now=NOW)
    assert recipients_of(db, view.id) == {"patient": ("queued", "")}


# --- pause, resume, cancel --------------------------------------------------------------------------------------
def test_pause_resume_and_cancel_a_running_campaign(oa_world, db, settings):
    for i in range(7):
        zalo_user(db, f"u{i}", topics=("tiểu đường",))
    view = new_campaign(db, target=TOPIC)
    assert run_campaigns(db, settings, now=NOW, batch=2) == 7 + 2  # expanded 7, decided 2
    assert run_campaigns(db, settings, now=NOW, batch=2) == 0, "the first batch still waits in the outbox"
    deliver_all(db)
    with db.uow() as uow:
        paused = campaigns.pause(uow, view.id, now=NOW, channel=CHANNEL)
    assert paused.status == "paused" and paused.counts.sent == 2 and paused.counts.waiting == 5
    assert run_campaigns(db, settings, now=NOW + dt.timedelta(minutes=1), batch=2) == 0
    with db.uow() as uow:
        assert campaigns.pause(uow, view.id, channel=CHANNEL).status == "paused", "pausing again changes nothing"
    with db.uow() as uow:
        assert campaigns.resume(uow, view.id, channel=CHANNEL).status == "running"
    run_campaigns(db, settings, now=NOW + dt.timedelta(minutes=2), batch=2)
    assert status(db, view.id).counts.sending == 2
    with db.uow() as uow:
        cancelled = campaigns.cancel(uow, view.id, now=NOW + dt.timedelta(minutes=3), channel=CHANNEL)
    # The two messages still unsent in the outbox are taken back; nothing else goes out.
    assert cancelled.status == "cancelled"
    assert cancelled.counts.model_dump() == {
        "recipients": 7,
        "waiting": 0,
        "sending": 0,
        "sent": 2,
        "failed": 0,
        "skipped": 5,
    }
    assert cancelled.skipped_reasons == {"campaign cancelled": 5}
    assert run_campaigns(db, settings, now=NOW + dt.timedelta(minutes=4), batch=2) == 0
    assert [m.status for m in news_outbox(db)] == ["done", "done", "failed", "failed"]
    with db.uow() as uow:
        assert campaigns.cancel(uow, view.id, channel=CHANNEL).status == "cancelled", "cancelling again changes nothing"
    with db.uow() as uow, pytest.raises(Conflict):
        campaigns.resume(uow, view.id, channel=CHANNEL)


def test_a_scheduled_campaign_can_be_paused_before_its_time_and_cancelled(oa_world, db, settings):
    zalo_user(db, "u1", topics=("tiểu đường",))
    view = new_campaign(db, target=TOPIC, send_at=at("10:00"))
    with db.uow() as uow:
        campaigns.pause(uow, view.id, now=NOW, channel=CHANNEL)
    run_campaigns(db, settings, now=at("10:00"))
    assert status(db, view.id).status == "paused" and status(db, view.id).counts.recipients == 0
    with db.uow() as uow:
        assert campaigns.resume(uow, view.id, channel=CHANNEL).status == "scheduled"
    with db.uow() as uow:
        campaigns.cancel(uow, view.id, now=at("10:30"), channel=CHANNEL)
    assert run_campaigns(db, settings, now=at("11:00")) == 0 and news_outbox(db) == []


def test_a_completed_campaign_cannot_be_paused_or_cancelled(oa_world, db, settings):
    zalo_user(db, "u1", topics=("tiểu đường",))
    view = new_campaign(db, target=TOPIC)
    run_campaigns(db, settings, now=NOW)
    for change in (campaigns.pause, campaigns.cancel):
        with db.uow() as uow, pytest.raises(Conflict):
            change(uow, view.id, channel=CHANNEL)
    with db.uow() as uow, pytest.raises(NotFound):
        campaigns.pause(uow, view.id + 1000, channel=CHANNEL)


# --- the status view --------------------------------------------------------------------------------------------
def test_the_status_view_counts_failures_with_their_reasons(oa_world, db, settings):
    for i in range(4):
        zalo_user(db, f"u{i}", topics=("tiểu đường",))
    view = new_campaign(db, target=TOPIC)
    run_campaigns(db, settings, now=NOW)
    with db.uow() as uow:
        rows = list(uow.session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))
        rows[0].status, rows[0].last_error = "failed", "Zalo error -227: user banned or inactive"
        rows[1].status = "undeliverable"
        rows[1].last_error = "chat window closed (over 7 days) and no phone number for ZNS"
        rows[2].status = "done"
        uow.commit()
    seen = status(db, view.id)
    assert (seen.counts.sent, seen.counts.failed, seen.counts.sending) == (1, 2, 1)
    assert seen.failed_reasons == {
        "Zalo error -227: user banned or inactive": 1,
        "chat window closed (over 7 days) and no phone number for ZNS": 1,
    }


def test_the_message_carries_title_text_image_link_and_how_to_unsubscribe(oa_world, db, settings):
    zalo_user(db, "u1", topics=("tiểu đường",))
    new_campaign(
        db, target=TOPIC, image_url="https://benhvien.example/anh.jpg", link_url="https://benhvien.example/bai-viet"
    )
    run_campaigns(db, settings, now=NOW)
    [message] = news_outbox(db)
    text = message.body
    for part in ("Phòng bệnh tiểu đường", "chế độ ăn", "https://benhvien.example/anh.jpg", "hủy nhận tin"):
        assert part in text
    assert message.user_id == "u1" and message.oa_id == OA_ID


# --- exactly once -----------------------------------------------------------------------------------------------
def test_repeated_and_concurrent_steps_send_each_recipient_once(oa_world, db, settings, database_url):
    users = [f"u{i}" for i in range(60)]
    with db.uow() as uow:
        uow.session.add_all(Conversation(oa_id=OA_ID, user_id=u, follower=True, last_interaction_at=NOW) for u in users)
        uow.commit()
    view = new_campaign(db, target=FOLLOWERS)

    def scheduler() -> None:
        with opened(database_url) as database:  # another process's pool
            for _ in range(200):
                run_campaigns(database, settings, now=NOW, batch=7)
                deliver_all(database)
                with database.reader() as uow:
                    if uow.session.scalar(select(Campaign.status).where(Campaign.id == view.id)) == "completed":
                        return

    run_together(scheduler, 3)
    assert sorted(m.user_id for m in news_outbox(db)) == sorted(users)
    seen = status(db, view.id)
    assert seen.status == "completed" and seen.counts.sent == 60 and seen.counts.recipients == 60


def test_concurrent_schedulers_keep_the_frequency_cap(oa_world, db, database_url):
    settings = zalo_settings(database_url, news_tag_sync_minutes=0, news_monthly_cap=1)
    users = [f"u{i}" for i in range(40)]
    with db.uow() as uow:
        uow.session.add_all(Conversation(oa_id=OA_ID, user_id=u, follower=True, last_interaction_at=NOW) for u in users)
        uow.commit()
    first, second = new_campaign(db, target=FOLLOWERS), new_campaign(db, target=FOLLOWERS)

    def scheduler() -> None:
        with opened(database_url) as database:
            for _ in range(30):
                run_campaigns(database, settings, now=NOW, batch=10)
                deliver_all(database)

    run_together(scheduler, 2)
    assert sorted(m.user_id for m in news_outbox(db)) == sorted(users), "each user exactly one broadcast"
    a, b = status(db, first.id), status(db, second.id)
    assert (a.status, b.status) == ("completed", "completed")
    assert a.counts.sent + b.counts.sent == 40 and a.counts.skipped + b.counts.skipped == 40


def test_idle_steps_are_cheap(oa_world, db, settings):
    statements: list[str] = []

    def count(*args, **kwargs) -> None:
        statements.append(args[2] if len(args) > 2 else "")

    from sqlalchemy import event

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert run_campaigns(db, settings, now=NOW) == 0
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len([s for s in statements if not s.upper().startswith(("BEGIN", "ROLLBACK"))]) <= 1


# --- bad input --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "extra", "error"),
    [
        ({"kind": "topic", "topic": "khong-co"}, {}, "unknown topic"),
        ({"kind": "topic"}, {}, "needs topic"),
        ({"kind": "followers"}, {}, "needs oa_id"),
        ({"kind": "patients", "topic": "nhi"}, {}, "only for a topic target"),
        ({"kind": "everyone"}, {}, "kind"),
        (TOPIC, {"link_url": "ftp://x.example/a"}, "http"),
        (TOPIC, {"title": ""}, "title"),
    ],
)
def test_bad_specifications_are_refused_before_anything_is_stored(target, extra, error):
    with pytest.raises(ValueError, match=error):
        NewCampaign(hospital="test", title=extra.pop("title", "T"), text="Nội dung", target=target, **extra)


def test_bad_campaigns_are_refused_with_the_reason(oa_world, db, settings):
    with pytest.raises(InvalidInput, match="in the past"):
        new_campaign(db, target=TOPIC, send_at=NOW - dt.timedelta(hours=1))
    with pytest.raises(InvalidInput, match="no OA"):
        new_campaign(db, target={"kind": "followers", "oa_id": "999"})
    with pytest.raises(NotFound, match="no hospital"):
        new_campaign(db, target=TOPIC, hospital="khong-co")
    with pytest.raises(InvalidInput, match="one Zalo message holds 2000"):
        new_campaign(db, target=TOPIC, text="Dạ. " * 499)
    with db.reader() as uow:
        assert uow.session.scalar(select(func.count()).select_from(campaigns.Campaign)) == 0


def test_a_send_time_without_a_zone_is_vietnamese_time(oa_world, db):
    view = new_campaign(db, target=TOPIC, send_at=dt.datetime(2026, 12, 8, 9, 0))
    assert view.send_at == at("09:00", dt.date(2026, 12, 8)) and view.send_at_local == "2026-12-08 09:00"
