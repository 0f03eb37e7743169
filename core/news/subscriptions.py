"""Subscriptions to a hospital's health-education news, by topic.

Topics are a small canonical list (slug → Vietnamese display name). Patients name a topic in their own words,
with or without diacritics; ``normalise_topic`` maps those words to a slug.
"""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update

from core.booking.catalogue import find_hospital
from core.booking.models import Account
from core.db import insert_ignoring_conflicts
from core.errors import InvalidInput, NotFound
from core.timeutil import utcnow
from core.uow import UnitOfWork

from .models import NEWS_SUBSCRIPTIONS as SUBS

GENERAL = "chung"

# slug: (display name, what people call it). Keywords are matched as whole words after folding (lower case, no
# diacritics, punctuation as spaces), so each is written once with its diacritics. Single syllables that fold
# onto common words are left out ("đẻ" and "để", "sởi" and "sỏi", "sản" and "sẵn").
_TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    GENERAL: ("Tin sức khỏe chung", ("chung", "tổng hợp", "tin sức khỏe", "sức khỏe chung", "bản tin bệnh viện")),
    "tieu_duong": (
        "Tiểu đường (đái tháo đường)",
        ("tiểu đường", "đái tháo đường", "đái đường", "đường huyết", "đường máu", "insulin", "diabetes"),
    ),
    "huyet_ap": (
        "Tăng huyết áp",
        ("huyết áp", "cao huyết áp", "tăng huyết áp", "huyết áp cao", "huyết áp thấp", "hạ huyết áp", "tăng HA"),
    ),
    "tim_mach": (
        "Tim mạch và đột quỵ",
        (
            "tim",
            "tim mạch",
            "bệnh tim",
            "đau tim",
            "suy tim",
            "nhồi máu cơ tim",
            "mạch vành",
            "đột quỵ",
            "tai biến",
            "tai biến mạch máu não",
            "mỡ máu",
            "cholesterol",
        ),
    ),
    "thai_san": (
        "Thai sản, mẹ và bé",
        (
            "thai",
            "thai sản",
            "thai kỳ",
            "khám thai",
            "mang thai",
            "có thai",
            "mang bầu",
            "có bầu",
            "bầu",
            "bầu bí",
            "mẹ bầu",
            "bà bầu",
            "sinh con",
            "sinh đẻ",
            "sau sinh",
            "sản khoa",
            "sản phụ",
            "sản phụ khoa",
            "phụ khoa",
            "mẹ và bé",
            "sức khỏe mẹ và bé",
            "sữa mẹ",
            "cho con bú",
            "nuôi con bằng sữa mẹ",
            "tránh thai",
            "kế hoạch hóa gia đình",
        ),
    ),
    "nhi": (
        "Sức khỏe trẻ em",
        (
            "nhi",
            "nhi khoa",
            "trẻ",
            "trẻ em",
            "trẻ nhỏ",
            "trẻ sơ sinh",
            "sơ sinh",
            "bé",
            "em bé",
            "con nhỏ",
            "chăm con",
            "nuôi con",
            "nuôi dạy con",
            "chăm sóc trẻ",
        ),
    ),
    "tiem_chung": (
        "Tiêm chủng",
        (
            "tiêm",
            "tiêm chủng",
            "tiêm ngừa",
            "tiêm phòng",
            "lịch tiêm",
            "mũi tiêm",
            "chích ngừa",
            "vaccine",
            "vaccin",
            "vacxin",
            "vắc xin",
        ),
    ),
    "dinh_duong": (
        "Dinh dưỡng",
        ("dinh dưỡng", "ăn uống", "chế độ ăn", "ăn kiêng", "giảm cân", "béo phì", "thừa cân", "thực phẩm"),
    ),
    "ung_thu": ("Phòng chống ung thư", ("ung thư", "ung bướu", "khối u", "tầm soát ung thư", "cancer")),
    "suc_khoe_tam_than": (
        "Sức khỏe tâm thần",
        ("tâm thần", "tâm lý", "tinh thần", "trầm cảm", "lo âu", "căng thẳng", "stress", "mất ngủ"),
    ),
    "benh_truyen_nhiem": (
        "Cúm, COVID-19 và bệnh truyền nhiễm",
        (
            "truyền nhiễm",
            "bệnh truyền nhiễm",
            "dịch bệnh",
            "covid",
            "covid 19",
            "cúm",
            "cúm mùa",
            "cúm A",
            "sốt xuất huyết",
            "tay chân miệng",
            "bệnh sởi",
            "bệnh lao",
            "viêm gan",
        ),
    ),
    "nguoi_cao_tuoi": (
        "Sức khỏe người cao tuổi",
        ("người cao tuổi", "cao tuổi", "người già", "người lớn tuổi", "lão khoa", "chăm sóc người cao tuổi"),
    ),
}

TOPICS: dict[str, str] = {slug: name for slug, (name, _) in _TOPICS.items()}
"""The canonical topics in display order: slug → Vietnamese display name."""


def _fold(text: str) -> str:
    """Lower case, no diacritics (đ → d), punctuation and underscores as single spaces."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join("".join(c if c.isalnum() else " " for c in bare).split())


# folded keyword → slug; each topic's slug and display name count as keywords too.
_KEYWORDS: dict[str, str] = {}
for _slug, (_name, _words) in _TOPICS.items():
    for _word in (_slug, _name, *_words):
        _KEYWORDS.setdefault(_fold(_word), _slug)


def normalise_topic(free_text: str | None) -> str:
    """The topic slug for what a patient wrote ("tiểu đường", "tieu duong", "đái tháo đường" → "tieu_duong").

    Matching ignores case, diacritics and punctuation; when several topics are named the longest phrase wins
    ("dinh dưỡng cho trẻ" → "dinh_duong"). None, empty or unknown topics fall back to general news ("chung").
    """
    folded = f" {_fold(free_text or '')} "
    best: tuple[int, bool, str] | None = None
    for keyword, slug in _KEYWORDS.items():
        if f" {keyword} " in folded:
            candidate = (len(keyword), slug != GENERAL, slug)  # longest first; a specific topic beats "chung"
            if best is None or candidate[:2] > best[:2]:
                best = candidate
    return best[2] if best else GENERAL


def topic_name(slug: str) -> str:
    """The Vietnamese display name of a topic slug."""
    try:
        return TOPICS[slug]
    except KeyError:
        raise _unknown_topic(slug) from None


class SubscriptionView(BaseModel):
    model_config = ConfigDict(frozen=True)

    account_id: int
    hospital: str  # slug
    hospital_name: str
    topic: str  # slug
    topic_name: str
    already_active: bool  # True when the account was already subscribed before this call


def subscribe(uow: UnitOfWork, account_id: int, hospital_slug: str, topic_text: str | None) -> SubscriptionView:
    """Subscribe the account to the hospital's news on the topic the patient named (see ``normalise_topic``).

    Idempotent: subscribing again changes nothing; after an unsubscribe it reactivates the same row. The unique
    key (account, hospital, topic) decides, so concurrent calls leave one row.
    """
    hospital = find_hospital(uow, hospital_slug)
    if uow.session.scalar(select(Account.id).where(Account.id == account_id)) is None:
        raise NotFound(
            f"no account {account_id}",
            "Dạ, em chưa tìm thấy tài khoản của anh/chị. Anh/chị thử lại sau giúp em ạ.",
            account=account_id,
        )
    topic = normalise_topic(topic_text)
    key = (SUBS.c.account_id == account_id, SUBS.c.hospital_id == hospital.id, SUBS.c.topic == topic)
    dialect = uow.session.get_bind().dialect.name
    created = uow.session.scalar(
        insert_ignoring_conflicts(dialect, SUBS, ["account_id", "hospital_id", "topic"])
        .values(account_id=account_id, hospital_id=hospital.id, topic=topic, created_at=utcnow(), cancelled_at=None)
        .returning(SUBS.c.id)
    )
    reactivated = False
    if created is None:
        reactivated = (
            uow.session.execute(
                update(SUBS).where(*key, SUBS.c.cancelled_at.is_not(None)).values(cancelled_at=None)
            ).rowcount
            == 1
        )
    uow.commit()
    return SubscriptionView(
        account_id=account_id,
        hospital=hospital.slug,
        hospital_name=hospital.name,
        topic=topic,
        topic_name=TOPICS[topic],
        already_active=created is None and not reactivated,
    )


def unsubscribe(uow: UnitOfWork, account_id: int, hospital_slug: str, topic_text: str | None) -> list[str]:
    """Cancel the account's subscription to one topic (``topic_text`` as in ``subscribe``), or to every topic of
    the hospital when ``topic_text`` is None or blank. Returns the slugs that were active and are now cancelled
    (empty when there was nothing to cancel), in display order."""
    hospital = find_hospital(uow, hospital_slug)
    statement = update(SUBS).where(
        SUBS.c.account_id == account_id, SUBS.c.hospital_id == hospital.id, SUBS.c.cancelled_at.is_(None)
    )
    if topic_text is not None and topic_text.strip():
        statement = statement.where(SUBS.c.topic == normalise_topic(topic_text))
    cancelled = uow.session.scalars(statement.values(cancelled_at=utcnow()).returning(SUBS.c.topic)).all()
    uow.commit()
    return _in_display_order(cancelled)


def active_topics(uow: UnitOfWork, account_id: int, hospital_slug: str) -> list[str]:
    """The slugs the account currently receives from the hospital, in display order."""
    hospital = find_hospital(uow, hospital_slug)
    topics = uow.session.scalars(
        select(SUBS.c.topic).where(
            SUBS.c.account_id == account_id, SUBS.c.hospital_id == hospital.id, SUBS.c.cancelled_at.is_(None)
        )
    ).all()
    return _in_display_order(topics)


def subscribers(uow: UnitOfWork, hospital_slug: str, topic: str) -> list[int]:
    """The accounts subscribed to exactly this topic (a slug) of the hospital, in id order. General news
    ("chung") reaches the subscribers of "chung" only; a topic's news reaches that topic's subscribers only."""
    if topic not in TOPICS:
        raise _unknown_topic(topic)
    hospital = find_hospital(uow, hospital_slug)
    return list(
        uow.session.scalars(
            select(SUBS.c.account_id)
            .where(SUBS.c.hospital_id == hospital.id, SUBS.c.topic == topic, SUBS.c.cancelled_at.is_(None))
            .order_by(SUBS.c.account_id)
        )
    )


def _in_display_order(slugs: list[str] | tuple[str, ...]) -> list[str]:
    order = {slug: i for i, slug in enumerate(TOPICS)}
    return sorted(set(slugs), key=lambda slug: (order.get(slug, len(order)), slug))


def _unknown_topic(slug: str) -> InvalidInput:
    return InvalidInput(
        f"unknown news topic {slug!r}",
        "Dạ, em chưa có chủ đề tin này. Anh/chị chọn một chủ đề khác giúp em ạ.",
        topic=slug,
        topics=list(TOPICS),
    )
