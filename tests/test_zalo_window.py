"""The sending window: chat within 48 h, billed chat up to 7 days if allowed, else ZNS to a phone, else none."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.zalo_webhook.messages import Button, choice_from_number, numbered_menu, split_text
from bot.zalo_webhook.window import choose_route, night_ends
from core.timeutil import local_to_utc

NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)


def route(hours_ago: float | None, *, billed: bool = False, phone: str | None = None, template: str | None = None):
    last = None if hours_ago is None else NOW - dt.timedelta(hours=hours_ago)
    return choose_route(last_interaction_at=last, now=NOW, allow_billed=billed, phone=phone, zns_template=template)


def test_47_hours_after_the_last_interaction_is_a_free_chat_message():
    assert route(47).channel == "cs" and route(47).reason == ""


@pytest.mark.parametrize(
    ("billed", "phone", "expected"),
    [
        (True, None, "cs"),  # billed chat allowed by configuration
        (False, "+84912345678", "zns"),  # not allowed: the template to the phone
        (False, None, "none"),  # not allowed and no phone
    ],
)
def test_three_days_after(billed, phone, expected):
    result = route(72, billed=billed, phone=phone, template="tpl-1")
    assert result.channel == expected
    if expected == "cs":
        assert "billed" in result.reason
    if expected == "none":
        assert "no phone number" in result.reason


def test_eight_days_after_with_a_phone_goes_by_zns_even_when_billed_chat_is_allowed():
    result = route(8 * 24, billed=True, phone="+84912345678", template="tpl-1")
    assert result.channel == "zns" and "over 7 days" in result.reason


def test_eight_days_after_without_a_phone_is_undeliverable_with_the_reason():
    result = route(8 * 24, billed=True, phone=None, template="tpl-1")
    assert result.channel == "none" and "over 7 days" in result.reason and "no phone number" in result.reason


def test_no_template_for_the_kind_of_message_is_undeliverable_with_the_reason():
    result = route(8 * 24, phone="+84912345678", template=None)
    assert result.channel == "none" and "no ZNS template" in result.reason


def test_split_text_respects_the_limit_and_sentences():
    text = "Câu một rất ngắn. " + "Câu hai dài " * 30 + "kết thúc. Câu ba!"
    parts = split_text(text, limit=200)
    assert all(len(p) <= 200 for p in parts)
    assert " ".join(parts).split() == text.split(), "no word lost or duplicated"
    assert parts[0] == "Câu một rất ngắn."


def test_numbered_menu_round_trip():
    buttons = (Button("Khoa nhi", "/inform_nhi"), Button("Khoa mắt", "/inform_mat"))
    text = numbered_menu("Dạ, anh/chị chọn khoa ạ:", buttons)
    assert "1. Khoa nhi" in text and "2. Khoa mắt" in text
    payloads = [b.payload for b in buttons]
    assert choice_from_number(" 2 ", payloads) == "/inform_mat"
    assert choice_from_number("1.", payloads) == "/inform_nhi"
    assert choice_from_number("3", payloads) is None and choice_from_number("khoa 1", payloads) is None


@pytest.mark.parametrize(
    ("local_time", "ends"),
    [
        ("21:59", None),
        ("22:00", "tomorrow 06:00"),
        ("23:30", "tomorrow 06:00"),
        ("00:00", "today 06:00"),
        ("05:59", "today 06:00"),
        ("06:00", None),
        ("12:00", None),
    ],
)
def test_the_zns_night_ban_runs_from_22_00_to_06_00_vietnam_time(local_time: str, ends: str | None) -> None:
    day = dt.date(2026, 12, 3)
    now = local_to_utc(day, dt.time.fromisoformat(local_time))
    expected = {
        None: None,
        "today 06:00": local_to_utc(day, dt.time(6, 0)),
        "tomorrow 06:00": local_to_utc(day + dt.timedelta(days=1), dt.time(6, 0)),
    }[ends]
    assert night_ends(now) == expected
