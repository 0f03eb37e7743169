"""The record form's validator and the summary action as Rasa calls them (no Rasa needed): a user not linked
shares the phone Zalo verified (a typed number never counts), types the one-time code, consents; only then is
the summary read, by section, through core."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from bot.actions import records
from bot.zalo_webhook import conversations
from bot.zalo_webhook.accounts import PROVIDER
from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import OutboundMessage
from core.audit import AccessAudit
from core.booking import patients
from core.booking.models import Hospital
from core.config import Settings
from core.emr import consent, record_access, subject_requests
from core.emr.importing import import_bytes
from core.emr.models import CodeChallenge
from henkham import bootstrap
from tests import emr_his_files as his
from tests.harness import ROOT
from tests.zalo_helpers import OA_ID

DOMAIN = yaml.safe_load((ROOT / "bot/domain.yml").read_text(encoding="utf-8"))
USER = "user-1"
SENDER = f"{OA_ID}:{USER}"
PHONE = "+84912345678"  # Nguyễn Văn An's phone in the record (tests/emr_his_files.py)
RE_EXAM = "202612160800"
pytestmark = pytest.mark.world(days=3)


@pytest.fixture(autouse=True)
def actions_process(db) -> Iterator[None]:
    actions_db = bootstrap.actions(Settings(database_url=db.url))
    yield
    actions_db.dispose()


@pytest.fixture
def an(oa_world, db) -> None:
    """An's outpatient visit at hospital "test" (facility 99999), with a re-exam slip."""
    data = his.submission_bytes(
        [his.outpatient(facility_code="99999", re_exam_dates="", xml14={"NGAY_HEN_KL": RE_EXAM})], facility_code="99999"
    )
    assert import_bytes(db, data, channel="cli", filename="kcb.xml").ok


def tracker(
    intent: str,
    slots: dict[str, Any] | None = None,
    *,
    text: str = "",
    active: bool = True,
    shared: bool = False,
    **entities: Any,
) -> Tracker:
    values = dict.fromkeys(records.RECORD_SLOTS) | {"requested_slot": None} | (slots or {})
    message = {
        "intent": {"name": intent, "confidence": 0.99},
        "entities": [{"entity": name, "value": value} for name, value in entities.items()],
        "text": text,
        "metadata": {"oa_id": OA_ID, "event": "user_submit_info" if shared else "user_send_text"},
    }
    return Tracker(
        SENDER,
        values,
        message,
        [{"event": "user", "text": text, "parse_data": message}],
        False,
        None,
        {"name": "record_form"} if active else {},
        "action_listen",
    )


def run(action: Any, track: Tracker) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, track, DOMAIN))
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}, dispatcher.messages


def said(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text") or (m.get("custom") or {}).get("text") or "") for m in messages)


def share(db, phone: str = PHONE) -> None:
    """What the channel does when the user shares their phone through Zalo's card."""
    with db.uow() as uow:
        conversations.get_or_create(uow, OA_ID, USER).phone = phone
        uow.commit()


def sent_code(db) -> str:
    with db.reader() as uow:
        body = uow.session.scalars(
            select(OutboundMessage.body).where(OutboundMessage.purpose == "otp").order_by(OutboundMessage.id.desc())
        ).first()
    assert body is not None, "no code was sent"
    return OutgoingMessage.from_json(body).zns_data["otp"]


def account(db) -> int:
    with db.uow() as uow:
        return patients.get_or_create_account(uow, PROVIDER, SENDER)


def refused_rows(db) -> list[str]:
    with db.reader() as uow:
        return list(uow.session.scalars(select(AccessAudit.detail).where(AccessAudit.outcome == "refused")))


def test_a_user_not_linked_is_asked_to_share_the_verified_phone_and_a_typed_number_never_counts(an, db) -> None:
    slots, _ = run(records.ValidateRecordForm(), tracker("ask_record_summary", active=False))
    assert slots["requested_slot"] == "record_phone"
    typed = tracker("inform", {"requested_slot": "record_phone"}, text="0912345678", phone_number="0912345678")
    share(db)  # even with a verified phone on file, a typed number sends nothing
    slots, messages = run(records.ValidateRecordForm(), typed)
    assert records.TYPED_PHONE in said(messages) and slots["requested_slot"] == "record_phone"
    with db.reader() as uow:
        assert uow.session.scalar(select(func.count()).select_from(CodeChallenge)) == 0


def test_share_code_consent_then_the_summary_of_the_section_asked(an, db) -> None:
    share(db)
    asked = {"requested_slot": "record_phone", "record_section": "tai_kham"}
    slots, _ = run(
        records.ValidateRecordForm(),
        tracker("inform", asked, text='/inform{"phone_number": "0912345678"}', shared=True),
    )
    assert slots["record_phone"] == "091****678" and slots["requested_slot"] == "record_code"
    waiting = {**asked, **slots}
    slots, messages = run(
        records.ValidateRecordForm(),
        tracker("inform", waiting, text="000000" if sent_code(db) != "000000" else "111111"),
    )
    assert "chưa đúng" in said(messages) and "4 lần" in said(messages)
    slots, messages = run(records.ValidateRecordForm(), tracker("inform", waiting, text=sent_code(db)))
    assert "Nguyễn Văn An (bản thân)" in said(messages) and slots["requested_slot"] == "record_consent"
    consenting = {**waiting, **slots}
    slots, _ = run(records.ValidateRecordForm(), tracker("affirm", consenting, text="Đồng ý"))
    assert slots["record_consent"] is True and slots["requested_slot"] is None and slots["record_ready"] is True
    account_id = account(db)
    with db.reader() as uow:
        assert consent.has_consent(uow, account_id, consent.SUMMARY)
    done = {**consenting, **slots}
    cleared, messages = run(records.SubmitRecord(), tracker("affirm", done, active=False))
    text = said(messages)
    assert "Ngày tái khám: Thứ Tư 16/12/2026" in text and "Paracetamol" not in text
    assert "không phải bệnh án có chữ ký" in text
    assert any("results_yes" in b["payload"] for m in messages for b in m.get("buttons") or [])
    assert all(value is None for value in cleared.values())


def test_saying_no_to_consent_is_stored_shows_nothing_and_is_an_audited_refusal(an, db) -> None:
    share(db)
    slots, _ = run(records.ValidateRecordForm(), tracker("inform", {"requested_slot": "record_phone"}, shared=True))
    slots, _ = run(records.ValidateRecordForm(), tracker("inform", slots, text=sent_code(db)))
    slots, _ = run(records.ValidateRecordForm(), tracker("deny", slots, text="Không đồng ý"))
    assert slots["record_consent"] is False and slots["record_ready"] is True
    _, messages = run(records.SubmitRecord(), tracker("deny", slots, active=False))
    assert said(messages) == records.CONSENT_REFUSED
    assert any("no_consent" in (row or "") for row in refused_rows(db))


def test_a_phone_nobody_on_record_holds_is_refused_with_the_desk_route(an, db) -> None:
    share(db, "+84900000001")
    slots, messages = run(
        records.ValidateRecordForm(), tracker("inform", {"requested_slot": "record_phone"}, shared=True)
    )
    assert "chưa trùng" in said(messages) and slots["record_ready"] is False and slots["requested_slot"] is None
    assert any('"record_route": "desk"' in b["payload"] for b in messages[0]["buttons"])
    _, messages = run(records.SubmitRecord(), tracker("inform", slots, active=False))
    assert messages == []  # the refusal was told; nothing is read


def test_the_desk_button_shows_a_desk_code(an, db) -> None:
    _, messages = run(records.StartRecord(), tracker("ask_record_summary", active=False, record_route="desk"))
    assert "mã liên kết tại quầy" in said(messages)
    code = said(messages).split("là: ", 1)[1][:8]
    assert len(code) == 8 and code.isalnum()


def test_a_forged_visit_button_before_linking_is_an_audited_refusal(an, db) -> None:
    slots, messages = run(records.StartRecord(), tracker("ask_record_summary", active=False, record_visit="1"))
    assert slots["record_visit"] == "1" and messages == []
    assert refused_rows(db), "the refused read leaves an audit row"


def test_a_linked_consenting_users_request_is_answered_at_once_with_one_audited_read(an, db) -> None:
    """Nothing to ask: action_start_record shows the summary itself (the form is not started), one read."""
    share(db)
    slots, _ = run(records.ValidateRecordForm(), tracker("inform", {"requested_slot": "record_phone"}, shared=True))
    run(records.ValidateRecordForm(), tracker("inform", slots, text=sent_code(db)))
    with db.uow() as uow:
        consent.decide(uow, account(db), consent.SUMMARY, True, channel="zalo")
        uow.commit()
    with db.reader() as uow:
        before = uow.session.scalar(select(func.count()).select_from(AccessAudit))
    dispatcher = CollectingDispatcher()
    asking = tracker("ask_record_summary", active=False, text="khi nào tái khám")
    events = asyncio.run(records.StartRecord().run(dispatcher, asking, DOMAIN))
    assert "Ngày tái khám: Thứ Tư 16/12/2026" in said(dispatcher.messages)
    assert "không phải bệnh án có chữ ký" in said(dispatcher.messages) and len(dispatcher.messages) == 1
    assert any(e.get("event") == "followup" and e["name"] == "action_listen" for e in events)  # no form
    assert all(e["value"] is None for e in events if e.get("event") == "slot")
    with db.reader() as uow:
        rows = list(uow.session.scalars(select(AccessAudit.outcome).order_by(AccessAudit.id).offset(before)))
    assert rows == ["read"]


def test_withdrawing_consent_asks_it_again_next_time(an, db) -> None:
    account_id = account(db)
    with db.uow() as uow:
        consent.decide(uow, account_id, consent.SUMMARY, True, channel="zalo")
        uow.commit()
    _, messages = run(records.WithdrawConsent(), tracker("withdraw_consent", active=False))
    assert "rút lại đồng ý" in said(messages)
    with db.reader() as uow:
        assert not consent.has_consent(uow, account_id, consent.SUMMARY)
        assert not consent.has_consent(uow, account_id, consent.RESULTS)
        # records staff see it with its 2-working-day deadline (core/emr/subject_requests.py)
        test = uow.session.scalar(select(Hospital.id).where(Hospital.slug == "test"))
        [request] = subject_requests.list_requests(uow, test)
    assert (request.kind, request.channel, request.status) == ("consent_withdrawal", "zalo", "open")


def test_unlinking_asks_first_then_removes_the_link(an, db) -> None:
    share(db)
    slots, _ = run(records.ValidateRecordForm(), tracker("inform", {"requested_slot": "record_phone"}, shared=True))
    run(records.ValidateRecordForm(), tracker("inform", slots, text=sent_code(db)))
    _, messages = run(records.UnlinkRecord(), tracker("unlink_record", active=False))
    assert "muốn hủy liên kết" in said(messages)
    account_id = account(db)
    with db.reader() as uow:
        assert record_access.linked_persons(uow, account_id)
    intent, _, entities = messages[0]["buttons"][0]["payload"].partition("{")
    assert intent == "/unlink_record"
    confirm = json.loads("{" + entities)
    _, messages = run(records.UnlinkRecord(), tracker("unlink_record", active=False, **confirm))
    assert "đã hủy liên kết" in said(messages)
    with db.reader() as uow:
        assert not record_access.linked_persons(uow, account_id)


@pytest.mark.parametrize(
    ("message", "when", "day"),
    [
        ("lần khám ngày 12/11", None, "2026-11-12"),  # before today: this year
        ("hôm 5/12", None, "2025-12-05"),  # after today: a visit is in the past, last year
        ("khám ngày 01/11/2026", None, "2026-11-01"),
        ("tuần trước", {"date": "2026-11-25"}, "2026-11-25"),  # the NLU's date when none is written out
        ("lần khám ngày 31/02", None, None),
    ],
)
def test_the_day_of_a_visit_is_read_backwards_from_today(message: str, when: Any, day: str | None) -> None:
    found = records.visit_day(message, when, dt.date(2026, 12, 2))
    assert (found.isoformat() if found else None) == day


def test_what_a_request_asks_for_is_kept_from_buttons_words_and_entities() -> None:
    asked = tracker(
        "ask_record_summary",
        active=False,
        text="cho em xem đơn thuốc của bé Na lần khám ngày 12/11 ở bệnh viện khác",
        hospital="other",
        record_visit="42",
        record_person="7",
        record_route="desk",
    )
    found = records.read_request(asked)
    assert found["record_section"] == "don_thuoc"  # the lexicon when the NLU gave no entity
    assert found["record_visit"] == "42" and found["record_person"] == "7" and found["record_hospital"] == "other"
    assert found["record_subject"] == {"child": True, "name": "Na"}
    assert dt.date.fromisoformat(found["record_day"]) <= dt.date.today()
    forged = records.read_request(tracker("ask_record_summary", active=False, record_visit="1 OR 1=1"))
    assert "record_visit" not in forged  # a button's ids are digits, nothing else is taken
