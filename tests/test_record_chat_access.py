"""Who may read a record in chat (issue 14, acceptance 1): an access matrix through the real stack (signed
webhook → worker → Rasa → actions → core → outbox → simulator). Each row gets nothing but a refusal (no
diagnosis, drug or result reaches the user: ``clean``) and leaves an audit row with outcome "refused".

PostgreSQL when reachable, else SQLite. The Rasa model is trained on first use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from core.audit import Actor
from core.emr import record_access
from core.emr.models import CodeChallenge, ReaderLink
from core.timeutil import utcnow
from tests import emr_his_files as his
from tests.dialogue_stack import DialogueStack, buttons_of, text_of
from tests.record_chat_stack import (
    SECOND_OA,
    account_of,
    clean,
    imported,
    link,
    link_and_consent,
    new_otp,
    person_of,
    rasa_direct,
    reads,
    record_stack,
    refusals,
    share_and_code,
    visit_id,
    zns_seq,
)
from tests.zalo_helpers import OA_ID

pytestmark = pytest.mark.needs_rasa

AN_PHONE = "0912345678"  # Nguyễn Văn An (adult), the outpatient file
BICH_PHONE = "0987654321"  # Trần Thị Bích (adult), the inpatient file
PARENT_PHONE = "0933333333"  # the contact phone of the child Lê Minh Khôi (born 2022)
TWINS_PHONE = "0944444444"  # two adults on record hold it
STAFF = Actor(kind="cli", client_id=None, client_name="records-office")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DialogueStack]:
    with record_stack(tmp_path_factory.mktemp("record-access")) as running:
        imported(running.db, "99999", his.outpatient(), his.inpatient(), his.child(phone=PARENT_PHONE))
        twins = [
            his.outpatient(ma_lk=f"LK09{n}", patient_code=f"BN09{n}", name=name, cccd=cccd, phone=TWINS_PHONE)
            for n, (name, cccd) in enumerate((("Phạm Văn Hải", "079090011111"), ("Phạm Văn Hà", "079090022222")))
        ]
        imported(running.db, "99999", *twins)
        yield running


def refused(stack: DialogueStack, user: str, oa_id: str = OA_ID) -> list[str]:
    return refusals(stack.db, account_of(stack.db, user, oa_id))


def test_another_zalo_user_gets_only_the_phone_question_and_a_forged_person_is_refused(stack: DialogueStack) -> None:
    owner, stranger = "matrix-owner", "matrix-stranger"
    link_and_consent(stack, owner, AN_PHONE)
    asked = clean(stack.say(stranger, "cho em xem đơn thuốc của tôi"))
    assert "chia sẻ số điện thoại" in asked
    assert any("not_linked" in d for d in refused(stack, stranger))
    an = person_of(stack.db, "99999", "LK0001")
    before = len(refused(stack, stranger))
    answer = clean([{"text": rasa_direct(stack, stranger, f'/ask_record_summary{{"record_person": "{an}"}}')}])
    assert "chia sẻ số điện thoại" in answer
    assert len(refused(stack, stranger)) > before
    assert reads(stack.db, account_of(stack.db, stranger)) == 0


def test_the_same_user_on_another_oa_must_link_there(stack: DialogueStack) -> None:
    user = "matrix-two-oas"
    link_and_consent(stack, user, BICH_PHONE)
    asked = clean(stack.say(user, "cho em xem kết quả xét nghiệm", oa_id=SECOND_OA))
    assert "chia sẻ số điện thoại" in asked
    assert any("not_linked" in d for d in refused(stack, user, SECOND_OA))
    assert reads(stack.db, account_of(stack.db, user, SECOND_OA)) == 0


def test_before_linking_nothing_is_read_and_after_linking_it_is(stack: DialogueStack) -> None:
    user = "matrix-before"
    replies = stack.say(user, "khi nào tôi phải tái khám")
    assert "chia sẻ số điện thoại" in clean(replies)
    assert any("not_linked" in d for d in refused(stack, user))
    desk = text_of(stack.tap(user, replies[-1], "quầy"))
    assert "mã liên kết tại quầy" in desk
    assert "đã liên kết hồ sơ" in text_of(link(stack, user, AN_PHONE))


def test_a_shared_phone_that_is_not_the_records_is_refused_with_the_desk_route(stack: DialogueStack) -> None:
    user = "matrix-other-phone"
    clean(stack.say(user, "xem tóm tắt hồ sơ bệnh án"))
    before = zns_seq(stack)
    answer = stack.share_phone(user, "0900000009")
    said = clean(answer)
    assert "chưa trùng với số điện thoại nào trong hồ sơ" in said
    assert any("record_route" in b["payload"] and "desk" in b["payload"] for m in answer for b in buttons_of(m))
    assert not stack.simulator.messages(kind="zns", after=str(before)), "no code is sent to a phone not on record"
    assert any("phone_not_on_record" in d for d in refused(stack, user))


def test_a_phone_several_adults_hold_goes_to_the_desk(stack: DialogueStack) -> None:
    user = "matrix-shared-phone"
    clean(stack.say(user, "xem tóm tắt hồ sơ bệnh án"))
    said = clean(stack.share_phone(user, TWINS_PHONE))
    assert "nhiều người" in said and "quầy tiếp đón" in said
    assert any("phone_shared" in d for d in refused(stack, user))


def test_five_wrong_codes_lock_out_and_then_the_right_code_does_not_link(stack: DialogueStack) -> None:
    user = "matrix-wrong-codes"
    clean(stack.say(user, "xem tóm tắt hồ sơ bệnh án"))
    code = share_and_code(stack, user, AN_PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        assert f"còn {left} lần" in clean(stack.say(user, wrong))
    locked = clean(stack.say(user, wrong))
    assert "quá 5 lần" in locked and "quầy tiếp đón" in locked
    clean(stack.say(user, code))
    with stack.db.reader() as uow:
        assert not record_access.linked_persons(uow, account_of(stack.db, user))
    again = clean(stack.say(user, "xem tóm tắt hồ sơ bệnh án"))
    assert "chia sẻ số điện thoại" in again
    assert "tạm khóa" in clean(stack.share_phone(user, AN_PHONE))
    details = refused(stack, user)
    assert sum("wrong_code" in d for d in details) == 4 and any("locked_out" in d for d in details)


def test_an_expired_code_is_refused_and_a_new_one_offered(stack: DialogueStack) -> None:
    user = "matrix-expired"
    clean(stack.say(user, "xem tóm tắt hồ sơ bệnh án"))
    code = share_and_code(stack, user, BICH_PHONE)
    account_id = account_of(stack.db, user)
    with stack.db.uow() as uow:
        uow.session.execute(
            update(CodeChallenge)
            .where(CodeChallenge.account_id == account_id)
            .values(expires_at=utcnow() - dt.timedelta(minutes=1))
        )
        uow.commit()
    answer = stack.say(user, code)
    assert "hết hạn" in clean(answer)
    assert any("Gửi mã mới" in b["title"] for m in answer for b in buttons_of(m))
    assert any("code_expired" in d for d in refused(stack, user))
    with stack.db.reader() as uow:
        assert not record_access.linked_persons(uow, account_id)
    before = zns_seq(stack)
    resent = text_of(stack.say(user, "gửi lại mã giúp em"))
    assert "đã gửi mã xác nhận" in resent
    assert "đã liên kết hồ sơ" in text_of(stack.say(user, new_otp(stack, "+84" + BICH_PHONE[1:], before)))


def test_consent_refused_shows_nothing(stack: DialogueStack) -> None:
    user = "matrix-no-consent"
    consent_question = link(stack, user, AN_PHONE)[-1]
    answer = clean(stack.tap(user, consent_question, "Không đồng ý"))
    assert "không hiển thị hồ sơ" in answer
    assert any("no_consent" in d for d in refused(stack, user))
    assert reads(stack.db, account_of(stack.db, user)) == 0


def test_after_consent_is_withdrawn_nothing_is_shown_until_asked_again(stack: DialogueStack) -> None:
    user = "matrix-withdrawn"
    assert "J06.9" in text_of(link_and_consent(stack, user, AN_PHONE))
    assert "rút lại đồng ý" in clean(stack.say(user, "rút lại đồng ý"))
    before = reads(stack.db, account_of(stack.db, user))
    again = stack.say(user, "cho em xem đơn thuốc")
    assert "Đồng ý" in str(buttons_of(again[-1])) and clean(again)
    assert reads(stack.db, account_of(stack.db, user)) == before
    assert any("no_consent" in d for d in refused(stack, user))


def test_a_childs_record_is_refused_to_a_user_who_is_not_the_guardian(stack: DialogueStack) -> None:
    user = "matrix-not-guardian"
    link_and_consent(stack, user, AN_PHONE)
    named = clean(stack.say(user, "cho em xem hồ sơ của bé Khôi"))
    assert "không thấy hồ sơ của bé Khôi" in named
    khoi = person_of(stack.db, "99999", "LK0003")
    answer = clean([{"text": rasa_direct(stack, user, f'/ask_record_summary{{"record_person": "{khoi}"}}')}])
    assert "chưa được liên kết" in answer
    assert any("not_linked" in d for d in refused(stack, user))
    # The parent, whose phone is the child's contact phone, is linked as the guardian and reads it.
    parent = "matrix-parent"
    said = text_of(link_and_consent(stack, parent, PARENT_PHONE, first="cho em xem hồ sơ của bé Khôi"))
    assert "bé Khôi" in said and "R56.0" in said


def test_a_forged_button_naming_another_persons_visit_is_refused(stack: DialogueStack) -> None:
    user = "matrix-forger"
    link_and_consent(stack, user, AN_PHONE)
    stay = visit_id(stack.db, "99999", "LK0002")  # Bích's inpatient stay
    typed = text_of(stack.say(user, f'/ask_record_summary{{"record_visit": "{stay}"}}'))  # the channel strips it
    assert not any(word in typed for word in ("Viêm ruột thừa", "K35.8", "Ceftriaxone", "Creatinin")), typed
    answer = clean([{"text": rasa_direct(stack, user, f'/ask_record_summary{{"record_visit": "{stay}"}}')}])
    assert "không có trong hồ sơ" in answer
    assert any("visit_not_in_record" in d for d in refused(stack, user))


def test_a_link_staff_removed_reads_nothing(stack: DialogueStack) -> None:
    user = "matrix-removed"
    link_and_consent(stack, user, BICH_PHONE)
    account_id = account_of(stack.db, user)
    with stack.db.uow() as uow:
        link_id = uow.session.scalar(select(ReaderLink.id).where(ReaderLink.account_id == account_id))
    with stack.db.uow() as uow:
        record_access.remove_link(uow, int(link_id), staff=STAFF)
    asked = clean(stack.say(user, "cho em xem kết quả xét nghiệm"))
    assert "chia sẻ số điện thoại" in asked
    assert any("not_linked" in d for d in refused(stack, user))


def test_the_user_removes_the_link_after_confirming_and_sees_who_read_the_record(stack: DialogueStack) -> None:
    user = "matrix-unlink"
    link_and_consent(stack, user, AN_PHONE)
    log = text_of(stack.say(user, "ai đã xem hồ sơ của tôi"))
    assert "Anh/chị qua Zalo (đã xem)" in log
    question = stack.say(user, "hủy liên kết hồ sơ")[-1]
    with stack.db.reader() as uow:
        assert record_access.linked_persons(uow, account_of(stack.db, user))  # not before the confirmation
    assert "đã hủy liên kết" in text_of(stack.tap(user, question, "Hủy tất cả"))
    assert "chia sẻ số điện thoại" in clean(stack.say(user, "xem tóm tắt hồ sơ bệnh án"))
