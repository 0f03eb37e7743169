"""Consent per purpose (core/emr/consent.py): only an explicit yes to the text in force counts, the latest decision
stands, a new text version asks again, withdrawal says no to every purpose; the texts say what the patient agrees to."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from core.booking import patients
from core.emr import consent
from core.emr.models import ConsentDecision
from core.errors import InvalidInput
from tests.emr_people import NOW

pytestmark = pytest.mark.world(days=1)


@pytest.fixture
def reader(db, world) -> int:
    with db.uow() as uow:
        return patients.get_or_create_account(uow, "zalo", "oa-1:user-1")


def has(db, account_id: int, purpose: str) -> bool:
    with db.reader() as uow:
        return consent.has_consent(uow, account_id, purpose)


def decide(db, account_id: int, purpose: str, granted: bool) -> None:
    with db.uow() as uow:
        consent.decide(uow, account_id, purpose, granted, channel="zalo", now=NOW)


def test_silence_is_no_and_only_a_yes_counts_per_purpose(db, reader):
    assert not has(db, reader, consent.SUMMARY) and not has(db, reader, consent.RESULTS)
    decide(db, reader, consent.SUMMARY, False)
    assert not has(db, reader, consent.SUMMARY)
    decide(db, reader, consent.SUMMARY, True)
    assert has(db, reader, consent.SUMMARY) and not has(db, reader, consent.RESULTS)
    decide(db, reader, consent.RESULTS, True)
    assert has(db, reader, consent.RESULTS)
    decide(db, reader, consent.SUMMARY, False)  # the latest decision stands
    assert not has(db, reader, consent.SUMMARY) and has(db, reader, consent.RESULTS)


def test_decisions_are_kept_with_the_text_version_channel_and_time(db, reader):
    decide(db, reader, consent.SUMMARY, True)
    with db.reader() as uow:
        [row] = uow.session.scalars(select(ConsentDecision)).all()
    assert (row.account_id, row.purpose, row.granted, row.channel, row.decided_at) == (
        reader,
        consent.SUMMARY,
        True,
        "zalo",
        NOW,
    )
    assert row.text_version == consent.consent_text(consent.SUMMARY).version


def test_a_new_text_version_asks_again(db, reader, monkeypatch):
    decide(db, reader, consent.SUMMARY, True)
    old = consent.TEXTS[consent.SUMMARY]
    monkeypatch.setitem(consent.TEXTS, consent.SUMMARY, dataclasses.replace(old, version="summary-next"))
    assert not has(db, reader, consent.SUMMARY)
    decide(db, reader, consent.SUMMARY, True)
    assert has(db, reader, consent.SUMMARY)


def test_withdrawal_says_no_to_both_purposes_and_asking_again_starts_over(db, reader):
    decide(db, reader, consent.SUMMARY, True)
    decide(db, reader, consent.RESULTS, True)
    with db.uow() as uow:
        consent.withdraw(uow, reader, channel="zalo", now=NOW)
    assert not has(db, reader, consent.SUMMARY) and not has(db, reader, consent.RESULTS)
    decide(db, reader, consent.SUMMARY, True)
    assert has(db, reader, consent.SUMMARY) and not has(db, reader, consent.RESULTS)


def test_another_account_s_yes_is_not_this_one_s(db, reader):
    with db.uow() as uow:
        other = patients.get_or_create_account(uow, "zalo", "oa-2:user-1")
    decide(db, other, consent.SUMMARY, True)
    assert not has(db, reader, consent.SUMMARY)


def test_an_unknown_purpose_is_refused(db, reader):
    with pytest.raises(InvalidInput):
        consent.consent_text("marketing")
    with db.uow() as uow, pytest.raises(InvalidInput):
        consent.decide(uow, reader, "marketing", True, channel="zalo")


def test_the_summary_text_says_what_is_shown_that_it_is_a_summary_logged_and_withdrawable():
    text = consent.consent_text(consent.SUMMARY).text_vi
    for said in ("chẩn đoán", "đơn thuốc", "xét nghiệm", "tái khám", "tóm tắt", "không phải hồ sơ bệnh án"):
        assert said in text
    assert "được ghi lại" in text and "rút lại đồng ý" in text and text.startswith("Dạ")


def test_the_results_text_promises_no_health_data_in_the_message():
    text = consent.consent_text(consent.RESULTS).text_vi
    assert "kết quả" in text and "không ghi thông tin sức khỏe" in text and "rút lại đồng ý" in text
    assert consent.consent_text(consent.RESULTS).version != consent.consent_text(consent.SUMMARY).version


def test_no_consent_is_a_polite_refusal_naming_its_purpose():
    error = consent.NoConsent(consent.SUMMARY)
    assert error.code == "no_consent" and error.purpose == consent.SUMMARY
    assert error.message_vi.startswith("Dạ") and "chưa đồng ý" in error.message_vi
