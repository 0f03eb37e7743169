"""Health-news subscriptions: topics in the patient's words, opt in and out, who receives a broadcast."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import func, select

from core.booking import patients
from core.errors import InvalidInput, NotFound
from core.news import subscriptions as news
from core.news.models import NewsSubscription
from tests.factories import add_hospital
from tests.harness import run_together

pytestmark = pytest.mark.world(days=1)


def other_account(db, external_id: str = "account-2") -> int:
    with db.uow() as uow:
        return patients.get_or_create_account(uow, "test", external_id)


def rows(db) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(func.count()).select_from(NewsSubscription))


@pytest.mark.parametrize(
    ("said", "topic"),
    [
        ("tiểu đường", "tieu_duong"),
        ("tieu duong", "tieu_duong"),
        ("bệnh TIỂU ĐƯỜNG", "tieu_duong"),
        ("đái tháo đường", "tieu_duong"),
        ("dai thao duong", "tieu_duong"),
        ("bầu bí", "thai_san"),
        ("bau bi", "thai_san"),
        ("mang thai", "thai_san"),
        ("suc khoe me va be", "thai_san"),
        ("nuôi con bằng sữa mẹ", "thai_san"),
        ("trẻ em", "nhi"),
        ("tre em", "nhi"),
        ("vaccine", "tiem_chung"),
        ("vắc-xin", "tiem_chung"),
        ("lịch tiêm cho bé", "tiem_chung"),
        ("huyet ap cao", "huyet_ap"),
        ("bệnh tim", "tim_mach"),
        ("đột quỵ", "tim_mach"),
        ("dinh dưỡng cho trẻ", "dinh_duong"),
        ("giảm cân", "dinh_duong"),
        ("phòng chống ung thư", "ung_thu"),
        ("sức khỏe tâm thần", "suc_khoe_tam_than"),
        ("trầm cảm", "suc_khoe_tam_than"),
        ("covid", "benh_truyen_nhiem"),
        ("cúm mùa", "benh_truyen_nhiem"),
        ("sốt xuất huyết", "benh_truyen_nhiem"),
        ("chăm sóc người cao tuổi", "nguoi_cao_tuoi"),
        (None, "chung"),
        ("", "chung"),
        ("   ", "chung"),
        ("giá vàng hôm nay", "chung"),  # unknown: general news
        ("gửi tin để em đọc", "chung"),  # "để" is not "đẻ"
    ],
)
def test_topic_in_the_patients_words(said, topic):
    assert news.normalise_topic(said) == topic


def test_decomposed_unicode_is_the_same_topic():
    assert news.normalise_topic(unicodedata.normalize("NFD", "Đái tháo đường")) == "tieu_duong"


def test_every_topic_has_a_vietnamese_name_that_maps_back_to_it():
    assert next(iter(news.TOPICS)) == "chung"
    assert news.topic_name("chung") == "Tin sức khỏe chung"
    for slug, name in news.TOPICS.items():
        assert news.topic_name(slug) == name
        assert news.normalise_topic(slug) == slug
        assert news.normalise_topic(name) == slug
    with pytest.raises(InvalidInput):
        news.topic_name("xo_so")


def test_subscribe_twice_is_one_subscription(db, world):
    with db.uow() as uow:
        first = news.subscribe(uow, world.account_id, "test", "tiểu đường")
    with db.uow() as uow:
        again = news.subscribe(uow, world.account_id, "test", "tieu duong")
    assert (first.topic, first.topic_name, first.hospital_name) == (
        "tieu_duong",
        "Tiểu đường (đái tháo đường)",
        "Bệnh viện Thử nghiệm",
    )
    assert not first.already_active and again.already_active
    assert rows(db) == 1
    with db.reader() as uow:
        assert news.active_topics(uow, world.account_id, "test") == ["tieu_duong"]


def test_subscribing_without_a_topic_is_general_news(db, world):
    with db.uow() as uow:
        view = news.subscribe(uow, world.account_id, "test", None)
    assert (view.topic, view.topic_name) == ("chung", "Tin sức khỏe chung")


def test_unsubscribe_all_then_subscribe_again_reactivates(db, world):
    for said in ("tiểu đường", "mang thai", None):
        with db.uow() as uow:
            news.subscribe(uow, world.account_id, "test", said)
    with db.uow() as uow:
        cancelled = news.unsubscribe(uow, world.account_id, "test", None)
    assert cancelled == ["chung", "tieu_duong", "thai_san"]  # display order
    with db.reader() as uow:
        assert news.active_topics(uow, world.account_id, "test") == []
        assert news.subscribers(uow, "test", "tieu_duong") == []
    with db.uow() as uow:
        assert news.unsubscribe(uow, world.account_id, "test", None) == []  # nothing left to cancel

    with db.uow() as uow:
        back = news.subscribe(uow, world.account_id, "test", "đái tháo đường")
    assert not back.already_active
    assert rows(db) == 3  # the cancelled row came back, no new one
    with db.reader() as uow:
        assert news.active_topics(uow, world.account_id, "test") == ["tieu_duong"]


def test_unsubscribe_one_topic_in_the_patients_words(db, world):
    for said in ("tiểu đường", "bầu bí"):
        with db.uow() as uow:
            news.subscribe(uow, world.account_id, "test", said)
    with db.uow() as uow:
        assert news.unsubscribe(uow, world.account_id, "test", "tieu duong") == ["tieu_duong"]
    with db.uow() as uow:
        assert news.unsubscribe(uow, world.account_id, "test", "vaccine") == []  # was not subscribed
    with db.reader() as uow:
        assert news.active_topics(uow, world.account_id, "test") == ["thai_san"]


def test_subscribers_are_exactly_the_topics_and_the_hospitals(db, world):
    second = other_account(db)
    third = other_account(db, "account-3")
    add_hospital(db, "other")
    for account, hospital, said in (
        (world.account_id, "test", "chung"),
        (second, "test", "tiểu đường"),
        (third, "test", "tiểu đường"),
        (third, "other", "chung"),
    ):
        with db.uow() as uow:
            news.subscribe(uow, account, hospital, said)
    with db.uow() as uow:
        news.unsubscribe(uow, third, "test", "tiểu đường")

    with db.reader() as uow:
        assert news.subscribers(uow, "test", "chung") == [world.account_id]  # general news: general subscribers
        assert news.subscribers(uow, "test", "tieu_duong") == [second]
        assert news.subscribers(uow, "other", "chung") == [third]
        assert news.subscribers(uow, "other", "tieu_duong") == []
        with pytest.raises(InvalidInput):
            news.subscribers(uow, "test", "tiểu đường")  # a slug, not free text


def test_unknown_hospital_and_account(db, world):
    with db.uow() as uow, pytest.raises(NotFound):
        news.subscribe(uow, world.account_id, "khong-co", "tiểu đường")
    with db.uow() as uow, pytest.raises(NotFound):
        news.unsubscribe(uow, world.account_id, "khong-co", None)
    with db.reader() as uow, pytest.raises(NotFound):
        news.active_topics(uow, world.account_id, "khong-co")
    with db.reader() as uow, pytest.raises(NotFound):
        news.subscribers(uow, "khong-co", "chung")
    with db.uow() as uow, pytest.raises(NotFound) as unknown_account:
        news.subscribe(uow, world.account_id + 1000, "test", "tiểu đường")
    assert unknown_account.value.message_vi.startswith("Dạ,")
    assert rows(db) == 0


def test_concurrent_subscribes_leave_one_row(db, world):
    def subscribe() -> None:
        with db.uow() as uow:
            news.subscribe(uow, world.account_id, "test", "huyết áp")

    run_together(subscribe, 6)  # none of them fails
    assert rows(db) == 1
