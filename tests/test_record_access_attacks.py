"""An attacker's and a hospital's review of record summaries in chat (issue 14): attempts to read a record one
should not, each expected to end in a refusal that leaves an audit row and shows nothing of the person.

Core first (core/emr/record_access.py, summaries.py, access_log.py, result_notices.py): brute force of the
one-time code across codes, accounts and OAs of one phone; desk codes guessed, reused or entered by another
hospital; forged visit and person ids; merges; a guardian once the child is 16; consent withdrawn; the access
history; the staff's audited refusals. Then the channel (outbox, ZNS data, logs), the API and the CLI.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import select, update

from core.audit import AccessAudit
from core.emr import consent
from core.emr import record_access as ra
from core.emr.access_log import access_history
from core.emr.exclusions import Exclusions
from core.emr.models import Person, Visit
from core.emr.summaries import VisitNotInRecord, chat_record
from core.tenancy import OtherHospital
from tests import emr_his_files as his
from tests.emr_people import NOW, mai, store_visit
from tests.factories import add_hospital
from tests.test_emr_record_access import (
    OTHER_PHONE,
    Sender,
    account,
    check,
    child,
    desk_code,
    links,
    refusals,
    staff_of,
    start,
    wrong,
)

pytestmark = pytest.mark.world(days=1)

NONE = Exclusions(icd10=(), services=(), name_words=())
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def sender() -> Sender:
    return Sender()


def agree(db, account_id: int, *purposes: str) -> None:
    with db.uow() as uow:
        for purpose in purposes or (consent.SUMMARY,):
            consent.decide(uow, account_id, purpose, True, channel="zalo", now=NOW)


def read(db, account_id: int, *, oa: str = "oa-1", now: dt.datetime = NOW, **kw):
    with db.uow() as uow:
        return chat_record(uow, account_id, reader=ra.chat_reader(account_id, oa), exclusions=NONE, now=now, **kw)


def visit_of(db, person_id: int) -> int:
    with db.reader() as uow:
        return uow.session.scalars(select(Visit.id).where(Visit.person_id == person_id).order_by(Visit.id)).first()


# --- the one-time code: brute force ------------------------------------------------------------------------------


def test_a_new_code_does_not_give_back_the_wrong_tries(db, world, sender):
    """Four wrong tries, a new code, four more...: twelve guesses an hour with no lockout. The tries of the hour
    count across the codes: the fifth wrong one locks the account out, whatever code it was against."""
    store_visit(db, mai())
    reader = account(db)
    start(db, reader, sender)
    for _ in range(4):
        with pytest.raises(ra.WrongCode):
            check(db, reader, wrong(sender.code))
    start(db, reader, sender, now=NOW + MINUTE)  # "gửi lại mã"
    with pytest.raises(ra.LockedOut):
        check(db, reader, wrong(sender.code), now=NOW + 2 * MINUTE)
    with pytest.raises(ra.LockedOut):
        check(db, reader, sender.code, now=NOW + 3 * MINUTE)
    assert links(db, reader) == []
    assert [r[2] for r in refusals(db)] == ["refused=wrong_code"] * 4 + ["refused=locked_out"] * 2


def test_the_remaining_tries_count_the_hours_wrong_tries(db, world, sender):
    store_visit(db, mai())
    reader = account(db)
    start(db, reader, sender)
    for _ in range(2):
        with pytest.raises(ra.WrongCode):
            check(db, reader, wrong(sender.code))
    start(db, reader, sender, now=NOW + MINUTE)
    with pytest.raises(ra.WrongCode) as refused:
        check(db, reader, wrong(sender.code), now=NOW + MINUTE)
    assert refused.value.remaining == 2 and "còn 2 lần" in refused.value.message_vi


def test_after_a_lockout_the_user_gets_five_fresh_tries(db, world, sender):
    store_visit(db, mai())
    reader = account(db)
    start(db, reader, sender)
    for _ in range(4):
        with pytest.raises(ra.WrongCode):
            check(db, reader, wrong(sender.code))
    with pytest.raises(ra.LockedOut):
        check(db, reader, wrong(sender.code), lockout_minutes=15)
    later = NOW + 16 * MINUTE  # the lockout (15 minutes) is over, the hour is not
    start(db, reader, sender, now=later)
    with pytest.raises(ra.WrongCode) as refused:
        check(db, reader, wrong(sender.code), now=later)
    assert refused.value.remaining == 4
    assert check(db, reader, sender.code, now=later + MINUTE)


def fail_codes(db, account_id: int, sender: Sender, n: int, *, at: dt.datetime) -> None:
    """A code to Mai's phone for the account, then ``n`` wrong tries at it (the last may lock)."""
    start(db, account_id, sender, now=at)
    for _ in range(n):
        with pytest.raises((ra.WrongCode, ra.LockedOut)):
            check(db, account_id, wrong(sender.code), now=at)


def test_the_oas_of_one_phone_share_a_budget_of_ten_wrong_tries_an_hour(db, world, sender):
    """Zalo gives a user another id on each OA (another account), but the phone is the same: without a budget
    of the phone's own, every OA of the province gives five more guesses an hour."""
    store_visit(db, mai())
    oas = [account(db, f"u{n}", f"oa-{n}") for n in range(3)]
    fail_codes(db, oas[0], sender, 5, at=NOW)  # locked out on OA 0
    fail_codes(db, oas[1], sender, 4, at=NOW + MINUTE)
    with pytest.raises(ra.LockedOut):  # the phone's tenth wrong try
        check(db, oas[1], wrong(sender.code), now=NOW + MINUTE)
    with pytest.raises(ra.LockedOut) as locked:  # a third OA sends no code
        start(db, oas[2], sender, now=NOW + 2 * MINUTE)
    assert locked.value.until == NOW + dt.timedelta(hours=1)
    assert len(sender.sent) == 2
    assert refusals(db)[-1] == ("emr_verification", str(oas[2]), "refused=locked_out")
    start(db, oas[2], sender, now=NOW + dt.timedelta(hours=1, minutes=1))  # the hour is over
    assert check(db, oas[2], sender.code, now=NOW + dt.timedelta(hours=1, minutes=1))


def test_the_remaining_tries_tell_the_phones_budget_when_it_is_the_smaller(db, world, sender):
    store_visit(db, mai())
    oas = [account(db, f"u{n}", f"oa-{n}") for n in range(3)]
    fail_codes(db, oas[0], sender, 5, at=NOW)
    fail_codes(db, oas[1], sender, 3, at=NOW + MINUTE)
    start(db, oas[2], sender, now=NOW + 2 * MINUTE)
    with pytest.raises(ra.WrongCode) as refused:
        check(db, oas[2], wrong(sender.code), now=NOW + 2 * MINUTE)
    assert refused.value.remaining == 1  # 10 for the phone, 9 spent; this account has 4 of its own left


def test_ten_codes_an_hour_to_a_phone_whatever_the_oa(db, world, sender):
    """Each account gets 3 codes an hour; the phone 10, whatever the number of OAs (no flooding of a phone)."""
    store_visit(db, mai())
    oas = [account(db, f"u{n}", f"oa-{n}") for n in range(4)]
    for n, reader in enumerate(oas):
        for minute in range(3 if n < 3 else 1):
            start(db, reader, sender, now=NOW + (3 * n + minute) * MINUTE)
    assert len(sender.sent) == 10
    with pytest.raises(ra.TooManyCodes) as refused:
        start(db, oas[3], sender, now=NOW + 20 * MINUTE)
    assert refused.value.until == NOW + dt.timedelta(hours=1)
    assert len(sender.sent) == 10
    assert refusals(db)[-1] == ("emr_verification", str(oas[3]), "refused=too_many_codes")


def test_a_code_sent_for_one_account_never_links_another(db, world, sender):
    """Several codes pending at once (two accounts on one phone): each account's code is its own."""
    store_visit(db, mai())
    mine, theirs = account(db, "me"), account(db, "them", "oa-2")
    start(db, mine, sender)
    my_code = sender.code
    start(db, theirs, sender, now=NOW + MINUTE)
    their_code = sender.code
    if my_code != their_code:
        with pytest.raises(ra.WrongCode):
            check(db, theirs, my_code, now=NOW + MINUTE)
    assert check(db, theirs, their_code, now=NOW + MINUTE)
    with pytest.raises(ra.NoPendingCode):  # the other account's codes: nothing of "mine" was touched
        check(db, theirs, my_code, now=NOW + MINUTE)
    assert [x.verified_by for x in links(db, mine)] == []
    assert check(db, mine, my_code, now=NOW + 2 * MINUTE)


def test_a_code_checked_for_a_phone_that_left_the_record_links_nobody(db, world, sender):
    """The record changed between the code and its use (the phone now another person's): nothing is linked to
    whoever holds it now unless the check still finds them."""
    person = store_visit(db, mai())
    reader = account(db)
    start(db, reader, sender)
    with db.uow() as uow:
        uow.session.execute(update(Person).where(Person.id == person).values(phone=OTHER_PHONE))
        uow.commit()
    with pytest.raises(ra.PhoneNotOnRecord):
        check(db, reader, sender.code)
    assert links(db, reader) == []


# --- the desk ----------------------------------------------------------------------------------------------------


def test_a_desk_code_guessed_reused_or_of_another_kind_links_nothing(db, world, sender):
    person = store_visit(db, mai())
    reader = account(db)
    start(db, reader, sender)  # an OTP is no desk code, even typed at the desk
    code = desk_code(db, reader)
    staff = staff_of(db)
    for typed in (sender.code, code[:-1], code + "A", code.replace(code[0], "0"), " ", "' OR 1=1 --"):
        with db.uow() as uow, pytest.raises(ra.DeskCodeUnknown):
            ra.link_at_desk(uow, typed, person, relation="self", staff=staff, now=NOW)
    with db.uow() as uow:
        ra.link_at_desk(uow, code, person, relation="self", staff=staff, now=NOW)
    with db.uow() as uow, pytest.raises(ra.DeskCodeUnknown):  # used once
        ra.link_at_desk(uow, code, person, relation="self", staff=staff, now=NOW + MINUTE)
    assert [r[2] for r in refusals(db)] == ["refused=desk_code_unknown"] * 7


def test_a_key_of_another_hospital_links_nobody_and_leaves_the_code_alive(db, world):
    add_hospital(db, "other")
    person = store_visit(db, mai())  # visits at "test" only
    reader = account(db)
    code = desk_code(db, reader)
    with db.uow() as uow, pytest.raises(OtherHospital):
        ra.link_at_desk(uow, code, person, relation="self", staff=staff_of(db, "other"), now=NOW)
    assert links(db, reader) == []
    assert refusals(db) == [("emr_person", str(person), "refused=forbidden")]
    with db.uow() as uow:  # the patient at the right desk is not sent back for a new code
        assert ra.link_at_desk(uow, code, person, relation="self", staff=staff_of(db), now=NOW).person_id == person


def test_staff_of_another_hospital_reading_the_links_is_an_audited_refusal(db, world):
    add_hospital(db, "other")
    person = store_visit(db, mai())
    with db.uow() as uow, pytest.raises(OtherHospital):
        ra.person_links(uow, person, staff=staff_of(db, "other"))
    assert refusals(db) == [("emr_person", str(person), "refused=forbidden")]


# --- forged button payloads, merges ------------------------------------------------------------------------------


def test_a_forged_visit_or_person_id_reads_nothing_and_is_audited(db, world):
    mine = store_visit(db, mai())
    theirs = store_visit(db, mai(full_name="Lê Văn Hùng", cccd="079090001111", insurance_cards=(), phone=OTHER_PHONE))
    reader = account(db)
    with db.uow() as uow:
        ra.link_at_desk(uow, desk_code(db, reader), mine, relation="self", staff=staff_of(db), now=NOW)
    agree(db, reader)
    their_visit = visit_of(db, theirs)
    for kw in ({"visit_id": their_visit}, {"person_id": theirs}, {"visit_id": 10**9}, {"person_id": 10**9}):
        with pytest.raises((VisitNotInRecord, ra.NotLinked)):
            read(db, reader, **kw)
    assert read(db, reader).person.person_id == mine
    got = refusals(db)
    assert got == [
        ("emr_visit", str(their_visit), "refused=visit_not_in_record"),
        ("emr_person", str(theirs), "refused=not_linked"),
        ("emr_visit", str(10**9), "refused=visit_not_in_record"),
        ("emr_person", str(10**9), "refused=not_linked"),
    ]


def test_a_link_follows_a_merge_and_a_removed_persons_id_reads_as_the_survivor(db, world):
    gone = store_visit(db, mai())
    kept = store_visit(db, mai(full_name="Trần Thị Mai", cccd="079185009999", insurance_cards=(), phone=None))
    reader = account(db)
    with db.uow() as uow:
        ra.link_at_desk(uow, desk_code(db, reader), gone, relation="self", staff=staff_of(db), now=NOW)
    agree(db, reader)
    with db.uow() as uow:  # staff confirm the two are one person (core/emr/matches.py moves the visits)
        uow.session.execute(update(Visit).where(Visit.person_id == gone).values(person_id=kept))
        uow.session.execute(update(Person).where(Person.id == gone).values(merged_into_id=kept))
        uow.commit()
    assert read(db, reader, person_id=gone).person.person_id == kept
    assert read(db, reader, person_id=kept).total_visits == 2


def test_a_visit_of_a_record_split_off_again_is_refused(db, world):
    """A person merged by mistake and split off again (a data fix: merged_into_id cleared, the visit moved
    back): the other person's visit is no longer in the reader's record."""
    mine = store_visit(db, mai())
    other = store_visit(db, mai(full_name="Trần Thị Mai", cccd="079185009999", insurance_cards=(), phone=None))
    other_visit = visit_of(db, other)
    reader = account(db)
    with db.uow() as uow:
        ra.link_at_desk(uow, desk_code(db, reader), mine, relation="self", staff=staff_of(db), now=NOW)
    agree(db, reader)
    with db.uow() as uow:
        uow.session.execute(update(Visit).where(Visit.person_id == other).values(person_id=mine))
        uow.session.execute(update(Person).where(Person.id == other).values(merged_into_id=mine))
        uow.commit()
    assert read(db, reader, visit_id=other_visit).visit.ref.visit_id == other_visit
    with db.uow() as uow:
        uow.session.execute(update(Visit).where(Visit.id == other_visit).values(person_id=other))
        uow.session.execute(update(Person).where(Person.id == other).values(merged_into_id=None))
        uow.commit()
    with pytest.raises(VisitNotInRecord):
        read(db, reader, visit_id=other_visit)
    with pytest.raises(ra.NotLinked):
        read(db, reader, person_id=other)


# --- a guardian once the child is 16; consent ----------------------------------------------------------------------


def test_a_guardian_neither_reads_nor_sees_the_history_once_the_child_is_16(db, world, sender):
    na = store_visit(db, child())  # the mother's phone on the child's record, no adult holds it
    reader = account(db)
    start(db, reader, sender)
    [linked] = check(db, reader, sender.code)
    assert linked.relation == "guardian"
    agree(db, reader)
    assert read(db, reader).person.person_id == na
    sixteen = dt.datetime(2034, 5, 20, 1, 0, tzinfo=dt.UTC)  # 20/05/2034, 08:00 in Vietnam: her 16th birthday
    with pytest.raises(ra.NotGuardian):
        read(db, reader, now=sixteen)
    with db.uow() as uow, pytest.raises(ra.NotLinked):
        access_history(uow, reader, reader=ra.chat_reader(reader, "oa-1"), now=sixteen)
    assert [r[2] for r in refusals(db)] == ["refused=not_guardian", "refused=not_linked"]


def test_after_withdrawal_nothing_is_read_until_a_new_yes(db, world):
    person = store_visit(db, mai())
    reader = account(db)
    with db.uow() as uow:
        ra.link_at_desk(uow, desk_code(db, reader), person, relation="self", staff=staff_of(db), now=NOW)
    agree(db, reader, consent.SUMMARY, consent.RESULTS)
    assert read(db, reader).person.person_id == person
    with db.uow() as uow:
        consent.withdraw(uow, reader, channel="zalo", now=NOW + MINUTE)
    with pytest.raises(consent.NoConsent):
        read(db, reader, now=NOW + 2 * MINUTE)
    with db.reader() as uow:
        assert not consent.has_consent(uow, reader, consent.RESULTS)
    # the history stays the patient's right (no consent needed), and shows the refused read
    with db.uow() as uow:
        lines = access_history(uow, reader, reader=ra.chat_reader(reader, "oa-1"), now=NOW + 3 * MINUTE)
    assert [(x.who, x.outcome) for x in lines][:2] == [("Anh/chị qua Zalo", "refused"), ("Anh/chị qua Zalo", "read")]


# --- the access history ----------------------------------------------------------------------------------------------


def test_the_history_shows_only_the_linked_persons_rows_and_no_other_account(db, world):
    mine = store_visit(db, mai())
    theirs = store_visit(db, mai(full_name="Lê Văn Hùng", cccd="079090001111", insurance_cards=(), phone=OTHER_PHONE))
    me, them = account(db, "me"), account(db, "them")
    for person, who in ((mine, me), (theirs, them)):
        with db.uow() as uow:
            ra.link_at_desk(uow, desk_code(db, who), person, relation="self", staff=staff_of(db), now=NOW)
        agree(db, who)
        read(db, who)
    with pytest.raises(VisitNotInRecord):  # they try my visit: my history shows the attempt
        read(db, them, visit_id=visit_of(db, mine))
    with db.uow() as uow:
        lines = access_history(uow, me, reader=ra.chat_reader(me, "oa-1"), now=NOW + MINUTE)
    assert {x.person_id for x in lines} == {mine}
    refused = next(x for x in lines if x.outcome == "refused")
    assert refused.who.startswith("Một tài khoản Zalo khác")
    assert "liên kết" not in refused.who, "an account that tried and was refused was never linked"
    with db.reader() as uow:
        rows = uow.session.execute(
            select(AccessAudit.record_kind, AccessAudit.account_id).where(AccessAudit.record_kind == "emr_access_log")
        ).all()
    assert rows == [("emr_access_log", me)]


# --- nothing of the person in the logs ------------------------------------------------------------------------------


def test_no_name_phone_cccd_or_code_in_the_logs(db, world, sender, caplog):
    caplog.set_level(logging.DEBUG)
    person = store_visit(db, mai(birth_month=None, birth_day=None, sex=None))  # no profile can be made: logged
    reader = account(db, "1234567890")
    start(db, reader, sender)
    with pytest.raises(ra.WrongCode):
        check(db, reader, wrong(sender.code))
    check(db, reader, sender.code)
    agree(db, reader)
    read(db, reader)
    code = desk_code(db, reader)
    with db.uow() as uow, pytest.raises(ra.DeskCodeUnknown):
        ra.link_at_desk(uow, code[::-1], person, relation="self", staff=staff_of(db), now=NOW)
    text = caplog.text
    for secret in ("Trần Thị Mai", "Mai", "912345678", "0912", "079185001234", sender.code, code):
        assert secret not in text, secret


# --- result notices -------------------------------------------------------------------------------------------------


def test_no_result_notice_to_a_guardian_once_the_child_is_16(db, world):
    """Two children on their mother's phone, linked as her wards; the elder turns 16 the day after the visits:
    the mother is told of the younger one's results only (a 16-year-old's visit is no longer hers to hear of)."""
    from bot.zalo_webhook.record_channel import ZaloResultNotifier
    from core.booking import patients
    from core.emr.result_notices import plan_result_notices
    from tests.test_emr_result_notices import NOW as MORNING
    from tests.test_emr_result_notices import OA, Codes, current_visit, import_visits, sent

    elder = his.outpatient(ma_lk="LK-TI", patient_code="BN-TI", name="Lê Văn Tí", cccd="", birth="201011040000")
    younger = his.outpatient(ma_lk="LK-TEO", patient_code="BN-TEO", name="Lê Văn Tèo", cccd="", birth="201405010000")
    import_visits(db, elder.with_(cards=""), younger.with_(cards=""))
    codes = Codes()
    with db.uow() as uow:
        mother = patients.get_or_create_account(uow, "zalo", f"{OA}:mother")
        ra.start_phone_check(uow, mother, "+84912345678", codes, now=MORNING)
        found = ra.check_code(uow, mother, codes.code, now=MORNING)
        for purpose in (consent.SUMMARY, consent.RESULTS):
            consent.decide(uow, mother, purpose, True, channel="zalo", now=MORNING)
    assert sorted((x.full_name, x.relation, x.is_child) for x in found) == [
        ("Lê Văn Tèo", "guardian", True),
        ("Lê Văn Tí", "guardian", True),
    ]
    next_day = MORNING + dt.timedelta(days=1)  # 04/11/2026, 09:00: Tí is 16
    assert plan_result_notices(db, ZaloResultNotifier(), now=next_day) == 1
    [(_user, message)] = sent(db)
    assert str(current_visit(db, "LK-TEO")) in message.buttons[0].payload


def test_the_results_message_and_its_zns_data_carry_no_health_data_even_for_an_excluded_visit(db, world):
    from bot.zalo_webhook.record_channel import result_message
    from core.emr.result_notices import ResultNotice

    notice = ResultNotice(
        key="results:7:1",
        account_id=1,
        account_provider="zalo",
        account_key="oa:u",
        visit_id=7,
        facility_name="Bệnh viện Thử nghiệm",
        day=dt.date(2026, 11, 2),
    )
    message = result_message(notice)
    assert set(message.zns_data) == {"facility", "date"}
    assert message.zns_data == {"facility": "Bệnh viện Thử nghiệm", "date": "02/11/2026"}
    assert message.text.startswith("Dạ, kết quả lần khám ngày 02/11/2026 tại Bệnh viện Thử nghiệm đã có.")


# --- the API and the CLI --------------------------------------------------------------------------------------------

LINKS = "/api/v1/emr/links"


@pytest.fixture
def his_client(db, database_url, world):
    from core import access
    from core.config import Settings
    from henkham.web import create_app

    add_hospital(db, "other")
    client = create_app(Settings(database_url=database_url, rate_limit_enabled=False), database=db).test_client()
    with db.uow() as uow:
        key = access.create_api_key(uow, name="his-test", kind="his", hospital_slug="test")
    return client, {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b"null",
        b'"code"',
        b'{"code": null, "person_id": 1}',
        b'{"code": "ABCDEFGH", "person_id": "1"}',
        b'{"code": "ABCDEFGH", "person_id": 1.5}',
        b'{"code": "ABCDEFGH", "person_id": 99999999999999999999}',
        b'{"code": "ABCDEFGH", "person_id": -1}',
        b'{"code": "ABCDEFGH", "person_id": true}',
        b'{"code": "\\u0000\\u0000", "person_id": 1}',
        b'{"code": "\\ud800", "person_id": 1}',
        b'{"code": ["ABCDEFGH"], "person_id": 1}',
        b'{"code": "ABCDEFGH", "person_id": 1, "relation": null}',
        b'{"code": "' + b"A" * 5000 + b'", "person_id": 1}',
        b'{"code": "ABCDEFGH", "person_id": 1}' * 2,
        b"[" * 5000,
    ],
)
def test_a_bad_link_body_is_a_json_error_never_a_500(his_client, body):
    client, headers = his_client
    response = client.post(LINKS, data=body, headers={**headers, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    error = response.get_json()["error"]
    assert error["code"] and error["message"] and error["message_vi"].startswith("Dạ")


@pytest.mark.parametrize(
    "path", [f"{LINKS}/0", f"{LINKS}/99999999999999999999", f"{LINKS}/-1", f"{LINKS}/abc", f"{LINKS}/2147483648"]
)
def test_a_bad_link_id_is_a_json_error(his_client, path):
    client, headers = his_client
    response = client.delete(path, headers=headers)
    assert response.status_code in (404, 422), response.get_data(as_text=True)[:300]
    assert response.get_json()["error"]["code"]


@pytest.mark.parametrize("person", ["0", "99999999999999999999", "2147483648", "-5"])
def test_a_bad_person_id_in_the_links_path_is_a_json_error(his_client, person):
    client, headers = his_client
    response = client.get(f"/api/v1/emr/persons/{person}/links", headers=headers)
    assert response.status_code in (404, 422), response.get_data(as_text=True)[:300]
    assert response.get_json()["error"]["code"]


@pytest.fixture
def cli_run(database_url, world):
    from click.testing import CliRunner

    from henkham import bootstrap
    from henkham.cli import cli

    runner = CliRunner(env={"HENKHAM_DATABASE_URL": database_url})
    bootstrap.load_settings()
    return lambda *args: runner.invoke(cli, ["emr", *args])


@pytest.mark.parametrize(
    "args",
    [
        ["link", "--code", "ABCDEFGH", "--person", "2147483648", "--staff", "c"],
        ["link", "--code", "ABCDEFGH", "--person", "99999999999999999999", "--staff", "c"],
        ["link", "--code", "", "--person", "1", "--staff", "c"],
        ["link", "--code", "ABCDEFGH", "--cccd", "", "--staff", "c"],
        ["link", "--code", "ABCDEFGH", "--person", "1", "--staff", ""],
        ["links", "--person", "2147483648"],
        ["unlink", "--link", "2147483648", "--staff", "c"],
        ["unlink", "--link", "99999999999999999999", "--staff", "c"],
    ],
)
def test_the_cli_refuses_bad_values_in_one_line(db, cli_run, args):
    result = cli_run(*args)
    assert result.exit_code in (1, 2), result.output
    lines = [x for x in result.stderr.splitlines() if not x.startswith("henkham: development mode")]
    assert len(lines) == 1 and lines[0].startswith("error: "), repr(result.exception)
    assert "Traceback" not in result.output


# --- the Vietnamese answers ------------------------------------------------------------------------------------------


def patient_texts() -> dict[str, str]:
    """Every answer of the record chat that a refusal or a step gives the patient, by name."""
    from bot.actions import record_text, records
    from core.emr import link_refusals as refusals_module
    from core.emr import summaries

    until = NOW + dt.timedelta(hours=1)
    errors = [
        refusals_module.PhoneNotOnRecord(),
        refusals_module.PhoneShared(),
        refusals_module.WrongCode(3),
        refusals_module.CodeExpired(),
        refusals_module.NoPendingCode(),
        refusals_module.LockedOut(until),
        refusals_module.TooManyCodes(until),
        refusals_module.NotLinked(),
        refusals_module.NotGuardian(),
        refusals_module.DeskCodeUnknown(),
        consent.NoConsent(consent.SUMMARY),
        summaries.VisitNotInRecord(),
        OtherHospital("person"),
    ]
    texts = {type(e).__name__: e.message_vi for e in errors}
    for name in ("TYPED_PHONE", "NO_SHARED_PHONE", "NOT_A_CODE", "CONSENT_REFUSED", "RESULTS_YES", "RESULTS_NO"):
        texts[name] = getattr(records, name)
    texts |= {"WITHDRAWN": records.WITHDRAWN, "NOT_LINKED": records.NOT_LINKED, "UNLINK": records.UNLINK_QUESTION}
    texts |= {"RESULTS_QUESTION": record_text.RESULTS_QUESTION, "SEE_DOCTOR": record_text.SEE_DOCTOR}
    return texts


def test_every_answer_is_polite_vietnamese_without_jargon():
    for name, text in patient_texts().items():
        assert text.startswith("Dạ") or name == "RESULTS_QUESTION", (name, text)
        assert text.rstrip().endswith(("ạ.", "ạ?", "ạ!")), (name, text)
        for jargon in ("ZNS", "OTP", "OA ", "ICD", "audit", "link", "record", "account", "token"):
            assert jargon not in text, (name, jargon, text)


def test_the_steps_of_the_code_and_the_link_read_well():
    from bot.actions import record_text
    from core.emr.record_access import Linked

    mai_linked = Linked(1, 1, "self", "Trần Thị Mai", "Mai", 1985, False, "otp")
    na_linked = Linked(2, 2, "guardian", "Trần Gia Na", "Na", 2018, True, "otp")
    linked = record_text.linked_text([mai_linked, na_linked])
    assert (
        linked
        == "Dạ, em đã xác nhận số điện thoại. Anh/chị đã liên kết hồ sơ: Trần Thị Mai (bản thân), Bé Trần Gia Na ạ."
    )


def test_the_code_question_names_no_jargon():
    from bot.actions import records
    from tests.test_record_chat_form import run, said, tracker

    _, messages = run(records.AskRecordCode(), tracker("inform", {"record_phone": "091****678"}))
    text = said(messages)
    assert text.startswith("Dạ, em đã gửi mã xác nhận 6 số qua tin nhắn Zalo tới số 091****678.")
    assert "ZNS" not in text and text.endswith("ạ.")


# --- a booking profile typed with someone else's CCCD ---------------------------------------------------------------


@pytest.mark.world(days=2)
def test_a_profile_typed_with_anothers_cccd_and_checked_in_at_a_kiosk_unlocks_nothing(db, world, sender):
    """Anyone may type a CCCD into a booking profile with their own phone, book, and check in at a kiosk with
    the booking code or that phone: nobody at the hospital saw a card. The profile's phone must not become a
    phone of the person's record (a desk check-in, where staff compare the card, still counts)."""
    from core.booking import checkin
    from core.booking.models import Appointment
    from core.timeutil import local_to_utc, utcnow
    from tests.factories import book, slot_at, today_local
    from tests.test_emr_record_access import typed_profile

    person = store_visit(db, mai(phone=None))
    view = typed_profile(db, world.account_id, person)
    day = today_local() + dt.timedelta(days=1)
    booked = book(db, world, slot_at(db, "nhi", day, "08:00"), view.id, now=utcnow())
    morning = local_to_utc(day, dt.time(7, 30))
    with db.uow() as uow:
        checkin.check_in_by_phone(uow, OTHER_PHONE, day=day, channel="kiosk", now=morning)
    with db.reader() as uow:
        assert uow.session.scalar(select(Appointment.status).where(Appointment.code == booked.code)) == "checked_in"
    reader = account(db, "attacker")
    with pytest.raises(ra.PhoneNotOnRecord):
        start(db, reader, sender, OTHER_PHONE, now=morning)
    assert sender.sent == [] and links(db, reader) == []
    with db.uow() as uow:  # the HIS reports the visit done: the hospital saw the patient under this identity
        checkin.complete(uow, booked.code, channel="his", now=morning + dt.timedelta(hours=1))
    start(db, reader, sender, OTHER_PHONE, now=morning + dt.timedelta(hours=1))
    assert len(sender.sent) == 1


# --- the dialogue: forged buttons of a linked, consenting user -------------------------------------------------------


@pytest.fixture
def an_and_bich(oa_world, db):
    """Nguyễn Văn An, linked by his phone's code and consenting (the chat user of tests/test_record_chat_form);
    Trần Thị Bích's visit in the same hospital (nobody's link)."""
    from core.config import Settings
    from core.emr.importing import import_bytes
    from henkham import bootstrap
    from tests.test_emr_result_notices import Codes
    from tests.test_record_chat_form import account as chat_account

    actions_db = bootstrap.actions(Settings(database_url=db.url))
    data = his.submission_bytes([his.outpatient(), his.inpatient()], facility_code="99999")
    assert import_bytes(db, data, channel="cli", filename="kcb.xml").ok
    account_id = chat_account(db)
    codes = Codes()
    with db.uow() as uow:
        ra.start_phone_check(uow, account_id, "+84912345678", codes)
        ra.check_code(uow, account_id, codes.code)
        consent.decide(uow, account_id, consent.SUMMARY, True, channel="zalo")
    with db.reader() as uow:
        bich = uow.session.scalar(select(Person.id).where(Person.full_name == "Trần Thị Bích"))
        bich_visit = uow.session.scalar(select(Visit.id).where(Visit.person_id == bich))
    yield bich, bich_visit
    actions_db.dispose()


@pytest.mark.parametrize("forged", ["record_person", "record_visit"])
def test_a_forged_button_of_a_linked_user_shows_nothing_of_the_other_person(db, an_and_bich, forged):
    from bot.actions import records
    from tests.test_record_chat_form import refused_rows, run, said, tracker

    bich, bich_visit = an_and_bich
    value = str(bich if forged == "record_person" else bich_visit)
    _, messages = run(
        records.SubmitRecord(), tracker("ask_record_summary", {"record_ready": True, forged: value}, active=False)
    )
    text = said(messages)
    assert text.startswith("Dạ,") and ("chưa được liên kết" in text or "không có trong hồ sơ" in text)
    for clinical in ("Trần Thị Bích", "K35.8", "Ceftriaxone", "Creatinin", "Viêm ruột thừa"):
        assert clinical not in text
    assert refused_rows(db) == ["refused=not_linked" if forged == "record_person" else "refused=visit_not_in_record"]


def test_a_results_message_still_waiting_in_the_outbox_is_dropped_when_consent_is_withdrawn(oa_world, db):
    """Queued at 06:00, retried while Zalo answers errors (up to a day): withdrawal means nothing is pushed after
    it, including what was queued before it and is not sent yet."""
    from bot.actions import records
    from bot.zalo_webhook.models import OutboundMessage
    from core.config import Settings
    from henkham import bootstrap
    from tests.test_emr_result_notices import import_visits, plan
    from tests.test_emr_result_notices import reader as results_reader
    from tests.test_record_chat_form import USER, run, tracker
    from tests.zalo_helpers import OA_ID

    actions_db = bootstrap.actions(Settings(database_url=db.url))
    try:
        import_visits(db, his.outpatient())
        results_reader(db, USER, oa=OA_ID)
        assert plan(db) == 1
        run(records.WithdrawConsent(), tracker("withdraw_consent", active=False))
    finally:
        actions_db.dispose()
    with db.reader() as uow:
        [(status, error)] = uow.session.execute(
            select(OutboundMessage.status, OutboundMessage.last_error).where(OutboundMessage.purpose == "results")
        ).all()
    assert status == "undeliverable" and "withdrawn" in error


# --- re-exam reminders of a chat-linked user ------------------------------------------------------------------------


def test_the_re_exam_reminder_of_a_withheld_visit_names_no_diagnosis(db, world):
    """A psychiatric visit (F32.9) is withheld from chat summaries; its XML14 slip still reminds the linked user
    of the date, but the reminder (a chat or ZNS message) must not carry the slip's diagnosis as the doctor's
    note, or the exclusion is bypassed. A visit with no excluded diagnosis keeps its note."""
    from core.booking.models import Patient
    from core.reminders.models import ReExam
    from tests.test_emr_result_notices import Codes
    from tests.test_emr_summaries import import_visit, psychiatric

    add_hospital(db)
    slip = {"NGAY_HEN_KL": "202701150800"}
    import_visit(db, psychiatric(xml14=slip))
    import_visit(db, his.outpatient(ma_lk="LK-HONG", arrived="202611250800", discharged="202611251000", xml14=slip))
    codes = Codes()
    reader = account(db, "an")
    with db.uow() as uow:
        ra.start_phone_check(uow, reader, "+84912345678", codes)
        ra.check_code(uow, reader, codes.code)
    with db.reader() as uow:
        notes = uow.session.scalars(
            select(ReExam.note).join(Patient, Patient.id == ReExam.patient_id).where(Patient.account_id == reader)
        ).all()
    assert len(notes) == 2, "both slips remind the linked user of their date"
    assert not any("F32" in note or "trầm cảm" in note for note in notes), notes
    assert any("J06.9" in note for note in notes), "a visit that is not withheld keeps the doctor's note"


def test_a_link_staff_removed_is_not_remade_by_the_phone_the_record_no_longer_holds(db, world, sender):
    """The link made a booking profile with the verified phone (for reminders). The hospital then corrects the
    record's phone (the number went to someone else) and staff remove the link: that profile must not keep the
    old number a phone of the record, or whoever holds it links again at once."""
    person = store_visit(db, mai(cccd=None, insurance_cards=()))  # the profile is linked as made by the link
    reader = account(db)
    start(db, reader, sender)
    [linked] = check(db, reader, sender.code)
    with db.uow() as uow:
        uow.session.execute(update(Person).where(Person.id == person).values(phone=OTHER_PHONE))
        uow.commit()
    with db.uow() as uow:
        ra.remove_link(uow, linked.link_id, staff=staff_of(db), now=NOW + MINUTE)
    with pytest.raises(ra.PhoneNotOnRecord):
        start(db, reader, sender, now=NOW + 2 * MINUTE)
    other = account(db, "same-user", "oa-2")
    with pytest.raises(ra.PhoneNotOnRecord):
        start(db, other, sender, now=NOW + 3 * MINUTE)
    assert len(sender.sent) == 1 and links(db, reader) == []


@pytest.mark.parametrize("by", ["patient", "staff"])
def test_a_removed_link_takes_back_the_re_exam_reminders_it_brought(db, world, sender, by):
    """The link gave the account a booking profile of the person (made by the link) so that XML14 re-exams
    remind it. Once the link is removed, by the patient or by staff, nothing more is pushed to that account:
    the profile is no longer the person's and its re-exam reminders are cancelled."""
    from core.booking.models import Patient
    from core.emr.models import ProfileLink, ReExamSlip
    from core.reminders.models import ReExam

    person = store_visit(db, mai(cccd=None, insurance_cards=()))  # no CCCD: the profile is the link's own
    with db.uow() as uow:
        visit_id = uow.session.scalar(select(Visit.id).where(Visit.person_id == person))
        due = (NOW + dt.timedelta(days=14)).date()
        uow.session.add(ReExamSlip(visit_id=visit_id, due_date=due, facility_code="99999", diagnosis="Viêm họng"))
        uow.commit()
    reader = account(db)
    start(db, reader, sender)
    [linked] = check(db, reader, sender.code)

    def live_re_exams() -> list[int]:
        with db.reader() as uow:
            return uow.session.scalars(
                select(ReExam.id)
                .join(Patient, Patient.id == ReExam.patient_id)
                .where(Patient.account_id == reader, ReExam.cancelled_at.is_(None))
            ).all()

    assert len(live_re_exams()) == 1
    with db.uow() as uow:
        if by == "patient":
            ra.unlink(uow, reader, person, by="zalo_user", now=NOW + MINUTE)
        else:
            ra.remove_link(uow, linked.link_id, staff=staff_of(db), now=NOW + MINUTE)
    assert live_re_exams() == []
    with db.reader() as uow:
        profiles = uow.session.scalars(select(Patient.id).where(Patient.account_id == reader)).all()
        assert uow.session.scalars(select(ProfileLink).where(ProfileLink.patient_id.in_(profiles))).all() == []
