"""Record summaries in chat end to end (issue 14, acceptance 2 and 3), through the real stack: a realistic HIS
file imported, the user shares the phone Zalo verified, reads the one-time code the ZNS brought, consents, and
asks in Vietnamese for results, prescriptions and the re-exam date; a person with visits at two hospitals sees
both, labelled, from either hospital's OA once linked there.

PostgreSQL when reachable, else SQLite. The Rasa model is trained on first use.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import emr_his_files as his
from tests.dialogue_stack import DialogueStack, buttons_of, text_of
from tests.record_chat_stack import (
    SECOND_OA,
    account_of,
    audit_of,
    imported,
    link_and_consent,
    reads,
    record_stack,
)

pytestmark = pytest.mark.needs_rasa

AN_PHONE = "0912345678"  # Nguyễn Văn An's phone in the outpatient file (DIEN_THOAI)
BICH_PHONE = "0987654321"  # Trần Thị Bích's


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DialogueStack]:
    with record_stack(tmp_path_factory.mktemp("record-summary")) as running:
        # An: an outpatient visit at hospital "test" with a re-exam slip (XML14) for 16/12/2026.
        imported(running.db, "99999", his.outpatient(re_exam_dates="", xml14={"NGAY_HEN_KL": "202612160800"}))
        # Bích: a stay at hospital "test" in early November, then an outpatient visit at hospital "other".
        imported(running.db, "99999", his.inpatient())
        bich_elsewhere = his.outpatient(
            ma_lk="LK0100",
            patient_code="BN7777",
            name="Trần Thị Bích",
            cccd="001190004567",
            birth="199007220000",
            sex="2",
            phone=BICH_PHONE,
            cards="HN2010198765432",
            arrived="202611200800",
            discharged="202611201000",
            discharge_diagnosis="J02.9 - Viêm họng cấp",
            principal="J02.9",
            secondary="",
            re_exam_dates="",
        )
        imported(running.db, "88888", bich_elsewhere)
        yield running


def test_results_prescription_and_re_exam_date_after_phone_code_and_consent(stack: DialogueStack) -> None:
    user = "an-zalo"
    first = link_and_consent(stack, user, AN_PHONE, first="cho em xem kết quả xét nghiệm")
    results = text_of(first)
    assert "kết quả xét nghiệm của anh/chị (Nguyễn Văn An)" in results
    assert "ngày 02/11/2026 tại Bệnh viện Thử nghiệm" in results
    assert "Số lượng bạch cầu (WBC): 12.5 G/L (tham chiếu 4 - 10) (bất thường)" in results
    assert "Glucose: 5.2 mmol/L (tham chiếu 3.9 - 6.4)\n" in results + "\n"  # within range: not marked
    assert "Số lượng hồng cầu (RBC): 4.6 T/L" in results
    assert "Paracetamol" not in results  # the section asked, not the whole visit
    assert "không phải bệnh án có chữ ký" in results and "VNeID" in results
    assert any(b["payload"] == "/request_human" for m in first for b in buttons_of(m))
    assert "nhắn khi có kết quả lần khám mới" in results  # the result-notification consent, offered once

    drugs = text_of(stack.say(user, "đơn thuốc"))
    assert "Paracetamol 500mg: 1 viên/lần * 2 lần/ngày * 5 ngày [2 viên/ngày]; Uống sau ăn (10 viên)" in drugs
    assert "Amoxicilin 500mg: 1 viên/lần * 3 lần/ngày * 7 ngày [3 viên/ngày]; Uống sau ăn (21 viên)" in drugs
    assert "nhắn khi có kết quả" not in drugs

    re_exam = text_of(stack.say(user, "khi nào tái khám"))
    assert "Ngày tái khám: Thứ Tư 16/12/2026" in re_exam

    whole = text_of(stack.say(user, "tóm tắt hồ sơ bệnh án của tôi"))
    assert "Viêm họng cấp (J06.9) – bệnh chính" in whole and "Đái tháo đường type 2 (E11.9)" in whole
    assert "Lời dặn của bác sĩ: Uống thuốc đúng giờ" in whole
    assert reads(stack.db, account_of(stack.db, user)) >= 4  # every read is audited


def test_visits_at_two_hospitals_are_both_shown_labelled_from_either_oa_once_linked_there(stack: DialogueStack) -> None:
    user = "bich-zalo"
    latest = link_and_consent(stack, user, BICH_PHONE)
    said = text_of(latest)
    assert "ngày 20/11/2026 tại Bệnh viện Khác" in said and "Viêm họng cấp (J02.9)" in said
    older = latest[-1]
    assert "lần khám khác" in older["text"]
    stay = text_of(stack.tap(user, older, "Bệnh viện Thử nghiệm"))
    assert "ngày 01/11/2026 tại Bệnh viện Thử nghiệm" in stay
    assert "Viêm ruột thừa cấp khác (K35.8)" in stay and "Ceftriaxone 1g" in stay

    # The other hospital's OA: another link (the link belongs to one OA's user), then the same record.
    there = link_and_consent(stack, user, BICH_PHONE, oa_id=SECOND_OA)
    said = text_of(there)
    assert "ngày 20/11/2026 tại Bệnh viện Khác" in said
    assert any("Bệnh viện Thử nghiệm" in b["title"] for b in buttons_of(there[-1]))
    by_day = text_of(stack.say(user, "cho em xem kết quả lần khám ngày 1/11", oa_id=SECOND_OA))
    assert "ngày 01/11/2026 tại Bệnh viện Thử nghiệm" in by_day and "K35.8" in by_day
    assert reads(stack.db, account_of(stack.db, user, SECOND_OA)) >= 2
    first_oa = account_of(stack.db, user)
    assert all(kind != "emr_visit" or outcome == "read" for outcome, kind, _ in audit_of(stack.db, first_oa))
