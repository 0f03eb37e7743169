"""Campaigns delivered for real: the scheduler step queues, the real sender delivers to the Zalo simulator.

Acceptance 3 of issue 5: a campaign to a topic with 1,000 subscribers, 50 of whom unsubscribed → 950 sent (as
the simulator records them), 50 skipped with the reason. And the follower-tag mirror of subscriptions.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine
from sqlalchemy import insert, select

from bot.zalo_webhook import workers
from bot.zalo_webhook.broadcasts import run_campaigns
from bot.zalo_webhook.campaign_channel import ZaloCampaignChannel
from bot.zalo_webhook.follower_tags import mirror_tags, tag_name
from bot.zalo_webhook.models import Conversation, NewsTagMirror, OutboundMessage
from core.booking.models import Account, Hospital
from core.news import campaigns
from core.news import subscriptions as news
from core.news.campaigns import CampaignTarget, NewCampaign
from core.news.models import NEWS_SUBSCRIPTIONS
from core.timeutil import utcnow
from core.uow import Database
from tests.factories import build_world, today_local
from tests.zalo_helpers import OA_ID, synced_channel
from tests.zalo_sim import running_simulator, sim_settings

CHANNEL = ZaloCampaignChannel()

DAYTIME = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)  # 10:00 in Vietnam: outside the night ban


@pytest.fixture(scope="module")
def sim():
    with running_simulator() as simulator:
        yield simulator


@pytest.fixture
def channel(db, database_url, sim):
    sim.reset()
    build_world(db, start=today_local(), days=1)
    settings = sim_settings(
        database_url, sim, zalo_http_timeout_seconds=2.0, zalo_rate_limit_per_minute=600_000, news_tag_sync_minutes=0
    )
    return synced_channel(db, settings, backoff_base=0.01)


def subscribers(db: Database, count: int, topic: str = "tieu_duong") -> list[int]:
    """``count`` Zalo users of the test OA who talked to it an hour ago, subscribed to ``topic``."""
    now = utcnow()
    with db.uow() as uow:
        hospital_id = uow.session.scalar(select(Hospital.id).where(Hospital.slug == "test"))
        uow.session.execute(
            insert(Conversation),
            [
                {
                    "oa_id": OA_ID,
                    "user_id": f"sub{i:04d}",
                    "follower": True,
                    "last_interaction_at": now - dt.timedelta(hours=1),
                    "mode": "bot",
                    "mode_reason": "",
                    "needs_staff": False,
                    "staff_reason": "",
                    "display_name": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(count)
            ],
        )
        uow.session.execute(
            insert(Account), [{"provider": "zalo", "external_id": f"{OA_ID}:sub{i:04d}"} for i in range(count)]
        )
        ids = list(uow.session.scalars(select(Account.id).where(Account.provider == "zalo").order_by(Account.id)))
        uow.session.execute(
            insert(NEWS_SUBSCRIPTIONS),
            [{"account_id": a, "hospital_id": hospital_id, "topic": topic, "created_at": now} for a in ids],
        )
        uow.commit()
    return ids


def topic_campaign(db: Database, title: str, text: str, **options: str) -> campaigns.CampaignView:
    """A campaign of hospital "test" to the subscribers of the "tieu_duong" topic, created now."""
    spec = NewCampaign(
        hospital="test", title=title, text=text, target=CampaignTarget(kind="topic", topic="tieu_duong"), **options
    )
    with db.uow() as uow:
        return campaigns.create(uow, spec, created_by="test", channel=CHANNEL)


def drain(db: Database, channel, settings) -> None:
    """Alternate scheduler steps and the real sender (four threads, as a sender process runs) until the
    campaign is done and the outbox empty."""
    pool = ThreadPoolExecutor(4)
    try:
        for _ in range(2000):
            moved = run_campaigns(db, settings, batch=200)
            moved += sum(pool.map(lambda _: workers.sender_step(db, channel.sender, batch=10), range(4)))
            if moved == 0:
                with db.reader() as uow:
                    open_row = uow.session.scalar(
                        select(OutboundMessage.id).where(OutboundMessage.status.in_(("pending", "processing"))).limit(1)
                    )
                if open_row is None:
                    return
    finally:
        pool.shutdown()
    raise AssertionError("the campaign did not drain")


def test_a_topic_campaign_to_1000_subscribers_50_unsubscribed(db, channel, sim):
    settings = channel.settings
    with time_machine.travel(DAYTIME, tick=True):
        accounts = subscribers(db, 1000)
        for account_id in accounts[::20]:  # 50 of them wrote "hủy nhận tin"
            with db.uow() as uow:
                assert news.unsubscribe(uow, account_id, "test", None) == ["tieu_duong"]
        view = topic_campaign(
            db,
            "Sống khỏe với bệnh tiểu đường",
            "Dạ, bệnh viện gửi anh/chị 5 lời khuyên về ăn uống và vận động cho người tiểu đường ạ.",
            link_url="https://benhvien.example/tieu-duong",
        )
        drain(db, channel, settings)
        with db.uow() as uow:
            final = campaigns.status(uow, view.id, channel=CHANNEL)
    delivered = sim.messages(kind="cs")
    assert len(delivered) == 950
    assert len({m["user_id"] for m in delivered}) == 950, "each subscriber once"
    unsubscribed = {f"sub{i:04d}" for i in range(0, 1000, 20)}
    assert not unsubscribed & {m["user_id"] for m in delivered}
    assert all("Sống khỏe với bệnh tiểu đường" in m["message"]["text"] for m in delivered)
    assert final.status == "completed"
    assert final.counts.model_dump() == {
        "recipients": 1000,
        "waiting": 0,
        "sending": 0,
        "sent": 950,
        "failed": 0,
        "skipped": 50,
    }
    assert final.skipped_reasons == {"unsubscribed": 50}
    # Steps after the end send nothing more (a restart or a second scheduler would find nothing to do).
    assert run_campaigns(db, settings, now=DAYTIME + dt.timedelta(minutes=5)) == 0
    assert len(sim.messages(kind="cs")) == 950


def test_failures_reported_by_zalo_show_in_the_status_with_the_reason(db, channel, sim):
    settings = channel.settings
    with time_machine.travel(DAYTIME, tick=True):
        subscribers(db, 3)
        sim.fault("zalo_-227", count=1)  # the first send: user banned or inactive
        view = topic_campaign(db, "Tiêm phòng cúm", "Dạ, mùa cúm đã đến ạ.")
        drain(db, channel, settings)
        with db.uow() as uow:
            final = campaigns.status(uow, view.id, channel=CHANNEL)
    assert (final.counts.sent, final.counts.failed) == (2, 1)
    [(reason, count)] = final.failed_reasons.items()
    assert "-227" in reason and count == 1


def test_a_broadcast_still_unsent_at_22_00_is_dropped_not_sent_at_night(db, channel, sim):
    settings = channel.settings
    evening = dt.datetime(2026, 12, 7, 14, 54, tzinfo=dt.UTC)  # 21:54 in Vietnam
    with time_machine.travel(evening, tick=False):
        subscribers(db, 2)
        view = topic_campaign(db, "Tin buổi tối", "Dạ, tin này phải đi trước 22:00 ạ.")
        assert run_campaigns(db, settings) > 0  # queued at 21:54, the sender is late
    with time_machine.travel(evening + dt.timedelta(minutes=6, seconds=1), tick=True):  # 22:00:01
        drain(db, channel, settings)
        with db.uow() as uow:
            final = campaigns.status(uow, view.id, channel=CHANNEL)
    assert sim.messages(kind="cs") == []
    assert final.counts.failed == 2 and final.counts.sent == 0
    [reason] = final.failed_reasons
    assert reason.startswith("dropped")


def sim_users(sim) -> dict[str, list[str]]:
    users = sim.http.get(f"{sim.base}/_sim/users", params={"oa_id": OA_ID}).json()["users"]
    return {u["user_id"]: u["tags"] for u in users}


def register(sim, user_id: str) -> None:
    response = sim.http.post(f"{sim.base}/_sim/users", json={"oa_id": OA_ID, "user_id": user_id})
    assert response.status_code == 200, response.text


def test_subscriptions_are_mirrored_to_follower_tags_once(db, channel, sim):
    settings = channel.settings
    for user in ("sub0000", "sub0001"):
        register(sim, user)
    accounts = subscribers(db, 3)  # sub0002 is unknown to Zalo: tagging it is refused
    assert mirror_tags(db, settings) == 3
    assert sim_users(sim) == {"sub0000": ["tin_tieu_duong"], "sub0001": ["tin_tieu_duong"]}
    assert mirror_tags(db, settings) == 0, "nothing changed, nothing sent (the refused one waits a day)"
    with db.uow() as uow:
        news.unsubscribe(uow, accounts[1], "test", "tiểu đường")
    with db.uow() as uow:
        news.subscribe(uow, accounts[0], "test", "tim mạch")
    assert mirror_tags(db, settings) == 2
    assert sim_users(sim) == {"sub0000": ["tin_tieu_duong", "tin_tim_mach"], "sub0001": []}
    assert mirror_tags(db, settings) == 0
    with db.reader() as uow:
        refused = uow.session.scalars(select(NewsTagMirror).where(NewsTagMirror.user_id == "sub0002")).one()
    assert not refused.tagged and refused.attempts == 1 and refused.last_error
    assert mirror_tags(db, settings, now=utcnow() + dt.timedelta(days=1, minutes=1)) == 1, "tried again a day later"
    assert tag_name("nhi", "bvdk") == "tin_bvdk_nhi"
