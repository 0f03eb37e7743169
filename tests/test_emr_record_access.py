"""Record links of chat accounts (core/emr/record_access.py): the phone check with a one-time code, the desk
code staff enter after seeing the CCCD, links through merges, removal, and the audited refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from core.audit import AccessAudit, Actor
from core.booking import patients
from core.booking.codes import ALPHABET
from core.booking.models import Appointment, Hospital, Patient
from core.emr import consent
from core.emr import record_access as ra
from core.emr.models import CodeChallenge, Person, ProfileLink, ReaderLink, ReExamSlip, Visit
from core.reminders.models import ReExam
from core.tenancy import OtherHospital
from core.timeutil import utcnow
from tests.emr_people import CCCD, NOW, OTHER, TEST, mai, store_visit
from tests.factories import add_hospital, book, slot_at, today_local

pytestmark = pytest.mark.world(days=1)

PHONE = "+84912345678"  # Mai's record phone (tests/emr_people.mai)
OTHER_PHONE = "+84987654321"


class Sender:
    """The ZNS side: keeps what would be sent."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send_code(self, uow, *, account_id, phone, code, expires_at, now) -> None:
        self.sent.append({"account_id": account_id, "phone": phone, "code": code, "expires_at": expires_at})

    @property
    def code(self) -> str:
        return self.sent[-1]["code"]


@pytest.fixture
def sender() -> Sender:
    return Sender()


def account(db, user: str = "user-1", oa: str = "oa-1") -> int:
    with db.uow() as uow:
        return patients.get_or_create_account(uow, "zalo", f"{oa}:{user}")


def child(**changes) -> object:
    """Trần Gia Na, born 2018 (8 years old), no CCCD, her mother's phone on her record."""
    data = dict(
        full_name="Trần Gia Na",
        birth_year=2018,
        birth_month=5,
        birth_day=20,
        cccd=None,
        insurance_cards=(),
        his_patient_code="BN-NA",
        phone=PHONE,
    )
    return mai(**{**data, **changes})


def start(db, account_id: int, sender: Sender, phone: str = PHONE, *, now: dt.datetime = NOW) -> dt.datetime:
    with db.uow() as uow:
        return ra.start_phone_check(uow, account_id, phone, sender, now=now)


def check(db, account_id: int, code: str, *, now: dt.datetime = NOW, **kw) -> list[ra.Linked]:
    with db.uow() as uow:
        return ra.check_code(uow, account_id, code, now=now, **kw)


def refusals(db) -> list[tuple[str, str, str]]:
    """(record kind, record id, detail) of every refused access, in order."""
    with db.reader() as uow:
        rows = uow.session.execute(
            select(AccessAudit.record_kind, AccessAudit.record_id, AccessAudit.detail)
            .where(AccessAudit.outcome == "refused")
            .order_by(AccessAudit.id)
        ).all()
    return [tuple(row) for row in rows]


def links(db, account_id: int) -> list[ra.Linked]:
    with db.reader() as uow:
        return ra.linked_persons(uow, account_id, now=NOW)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --- the phone check --------------------------------------------------------------------------------------------


def test_the_one_adult_holding_the_phone_is_linked_self_by_the_code_sent_to_it(db, world, sender):
    person = store_visit(db, mai())
    reader = account(db)
    expires = start(db, reader, sender, "0912 345 678")
    assert expires == NOW + dt.timedelta(minutes=5)
    [sent] = sender.sent
    assert sent["phone"] == PHONE and len(sent["code"]) == 6 and sent["code"].isdigit()
    [linked] = check(db, reader, sent["code"], now=NOW + dt.timedelta(minutes=4))
    assert (linked.person_id, linked.relation, linked.verified_by) == (person, "self", "otp")
    assert (linked.full_name, linked.given_name, linked.birth_year, linked.is_child) == (
        "Trần Thị Mai",
        "Mai",
        1985,
        False,
    )
    assert links(db, reader) == [linked]
    # used once: the same code again finds nothing pending
    with pytest.raises(ra.NoPendingCode):
        check(db, reader, sent["code"])


def test_only_the_codes_digest_is_stored(db, world, sender):
    store_visit(db, mai())
    reader = account(db)
    start(db, reader, sender)
    with db.reader() as uow:
        [row] = uow.session.scalars(select(CodeChallenge)).all()
    assert row.kind == "otp" and row.phone == PHONE and row.attempts == 0
    assert len(row.digest) == 64 and sender.code not in row.digest
    assert row.expires_at == NOW + dt.timedelta(minutes=5)


def typed_profile(db, account_id: int, person_id: int, phone: str = OTHER_PHONE):
    """A booking profile anybody may type: Mai's name, birth date and CCCD with their own phone (it links to her)."""
    with db.uow() as uow:
        view, _ = patients.register_patient(
            uow,
            account_id=account_id,
            full_name="Trần Thị Mai",
            date_of_birth=dt.date(1985, 3, 12),
            sex="female",
            phone=phone,
            cccd=CCCD,
        )
    with db.reader() as uow:
        assert uow.session.get(ProfileLink, view.id).person_id == person_id
    return view


@pytest.mark.world(days=2)
def test_a_profiles_phone_counts_once_the_profile_came_to_the_hospital_never_when_only_typed(db, world, sender):
    person = store_visit(db, mai(phone=None))
    view = typed_profile(db, world.account_id, person)
    reader = account(db)
    with pytest.raises(ra.PhoneNotOnRecord):  # typed details never unlock a record
        start(db, reader, sender, OTHER_PHONE)
    assert sender.sent == []
    day = today_local() + dt.timedelta(days=1)
    booked = book(db, world, slot_at(db, "nhi", day, "08:00"), view.id, now=utcnow())
    with db.uow() as uow:  # the hospital saw her with this profile
        uow.session.execute(update(Appointment).where(Appointment.code == booked.code).values(status="checked_in"))
        uow.commit()
    start(db, reader, sender, OTHER_PHONE)
    [linked] = check(db, reader, sender.code)
    assert (linked.person_id, linked.relation) == (person, "self")


def test_a_person_merged_into_another_links_as_the_survivor(db, world, sender):
    survivor = store_visit(db, mai(phone=None, cccd=None, insurance_cards=(), his_patient_code="A1"))
    merged = store_visit(db, mai(cccd=None, insurance_cards=(), his_patient_code="B1"), facility=TEST)
    assert merged != survivor
    with db.uow() as uow:
        uow.session.get(Person, merged).merged_into_id = survivor
        uow.commit()
    reader = account(db)
    start(db, reader, sender)
    [linked] = check(db, reader, sender.code)
    assert linked.person_id == survivor
    with db.uow() as uow:  # the merged id reads as the survivor
        consent.decide(uow, reader, consent.SUMMARY, True, channel="zalo", now=NOW)
    with db.uow() as uow:
        found = ra.require_link(uow, reader, merged, reader=ra.chat_reader(reader, "oa-1"), purpose=consent.SUMMARY)
    assert found.person_id == survivor


def test_an_adult_and_the_children_on_one_phone_link_self_and_guardian(db, world, sender):
    mother = store_visit(db, mai())
    na = store_visit(db, child())
    reader = account(db)
    start(db, reader, sender)
    got = check(db, reader, sender.code)
    assert [(x.person_id, x.relation, x.is_child) for x in got] == [(mother, "self", False), (na, "guardian", True)]
    assert got[1].given_name == "Na"
    assert [x.person_id for x in links(db, reader)] == [mother, na]


def test_a_phone_of_several_adults_is_refused_for_the_desk_and_audited(db, world, sender):
    store_visit(db, mai())
    store_visit(db, mai(full_name="Lê Văn Hùng", sex="male", cccd=None, insurance_cards=(), his_patient_code="H"))
    reader = account(db)
    with pytest.raises(ra.PhoneShared) as refused:
        start(db, reader, sender)
    assert "quầy tiếp đón" in refused.value.message_vi
    assert sender.sent == []
    assert refusals(db) == [("emr_verification", str(reader), "refused=phone_shared")]


def test_a_phone_nobody_holds_is_refused_and_audited(db, world, sender):
    store_visit(db, mai())
    reader = account(db)
    with pytest.raises(ra.PhoneNotOnRecord):
        start(db, reader, sender, OTHER_PHONE)
    assert sender.sent == []
    assert refusals(db) == [("emr_verification", str(reader), "refused=phone_not_on_record")]


def test_five_wrong_codes_lock_the_account_out_even_for_the_right_code(db, world, sender):
    store_visit(db, mai())
    reader = account(db)
    start(db, reader, sender)
    right = sender.code
    for remaining in (4, 3, 2, 1):
        with pytest.raises(ra.WrongCode) as refused:
            check(db, reader, wrong(right))
        assert refused.value.remaining == remaining and str(remaining) in refused.value.message_vi
    with pytest.raises(ra.LockedOut) as locked:
        check(db, reader, wrong(right))
    assert locked.value.until == NOW + dt.timedelta(minutes=60)
    assert "quầy tiếp đón" in locked.value.message_vi and "09:00" in locked.value.message_vi  # local time
    with pytest.raises(ra.LockedOut):
        check(db, reader, right, now=NOW + dt.timedelta(minutes=1))
    with pytest.raises(ra.LockedOut):  # no new code while locked out
        start(db, reader, sender, now=NOW + dt.timedelta(minutes=30))
    assert links(db, reader) == []
    assert [r[2] for r in refusals(db)] == ["refused=wrong_code"] * 4 + ["refused=locked_out"] * 3
    # the lockout ends; the killed code stays dead
    with pytest.raises(ra.NoPendingCode):
        check(db, reader, right, now=NOW + dt.timedelta(minutes=61))
    start(db, reader, sender, now=NOW + dt.timedelta(minutes=61))
    assert check(db, reader, sender.code, now=NOW + dt.timedelta(minutes=62))


def test_the_lockout_lasts_what_the_setting_says(db, world, sender):
    store_visit(db, mai())
    reader = account(db)
    start(db, reader, sender)
    for _ in range(4):
        with pytest.raises(ra.WrongCode):
            check(db, reader, wrong(sender.code))
    with pytest.raises(ra.LockedOut) as locked:
        check(db, reader, wrong(sender.code), lockout_minutes=15)
    assert locked.value.until == NOW + dt.timedelta(minutes=15)


def test_an_expired_code_is_refused(db, world, sender):
    store_visit(db, mai())
    reader = account(db)
    start(db, reader, sender)
    with pytest.raises(ra.CodeExpired):
        check(db, reader, sender.code, now=NOW + dt.timedelta(minutes=5))
    assert links(db, reader) == []
    assert refusals(db)[-1][2] == "refused=code_expired"


def test_a_new_code_replaces_the_pending_one_and_three_an_hour_at_most(db, world, sender):
    store_visit(db, mai())
    reader = account(db)
    for minute in (0, 1, 2):
        start(db, reader, sender, now=NOW + dt.timedelta(minutes=minute))
    first, last = sender.sent[0]["code"], sender.code
    with pytest.raises(ra.TooManyCodes) as refused:
        start(db, reader, sender, now=NOW + dt.timedelta(minutes=3))
    assert refused.value.until == NOW + dt.timedelta(hours=1) and len(sender.sent) == 3
    if first != last:
        with pytest.raises(ra.WrongCode):
            check(db, reader, first, now=NOW + dt.timedelta(minutes=3))
    assert check(db, reader, last, now=NOW + dt.timedelta(minutes=4))
    start(db, reader, sender, now=NOW + dt.timedelta(hours=1, minutes=1))  # a new hour
    assert len(sender.sent) == 4


def test_a_code_of_another_account_does_not_link(db, world, sender):
    store_visit(db, mai())
    mine, theirs = account(db, "me"), account(db, "them")
    start(db, mine, sender)
    with pytest.raises(ra.NoPendingCode):
        check(db, theirs, sender.code)
    assert links(db, theirs) == []


def test_a_link_gives_the_account_a_booking_profile_and_its_re_exam(db, world, sender):
    person = store_visit(db, mai(cccd=None, insurance_cards=(), birth_month=None, birth_day=None))
    due = (NOW + dt.timedelta(days=14)).date()
    with db.uow() as uow:
        visit_id = uow.session.scalar(select(Visit.id).where(Visit.person_id == person))
        uow.session.add(ReExamSlip(visit_id=visit_id, due_date=due, facility_code=TEST, diagnosis="Viêm họng"))
        uow.commit()
    reader = account(db)
    start(db, reader, sender)
    check(db, reader, sender.code)
    with db.reader() as uow:
        [profile] = uow.session.scalars(select(Patient).where(Patient.account_id == reader)).all()
        link = uow.session.get(ProfileLink, profile.id)
        re_exams = uow.session.scalars(select(ReExam).where(ReExam.patient_id == profile.id)).all()
    assert (profile.full_name, profile.date_of_birth, profile.relation) == ("Trần Thị Mai", dt.date(1985, 1, 1), "self")
    assert (profile.phone, profile.sex) == (PHONE, "female")
    assert (link.person_id, link.matched_by) == (person, "zalo")
    assert [r.due_date for r in re_exams] == [due]
    # linking again (another code) makes no second profile
    with db.uow() as uow:
        ra.unlink(uow, reader, None, by="patient", now=NOW)
    start(db, reader, sender, now=NOW + dt.timedelta(minutes=1))
    check(db, reader, sender.code, now=NOW + dt.timedelta(minutes=1))
    with db.reader() as uow:
        assert len(uow.session.scalars(select(Patient).where(Patient.account_id == reader)).all()) == 1


def test_a_child_gets_a_child_profile_on_the_guardians_account(db, world, sender):
    na = store_visit(db, child())
    reader = account(db)
    start(db, reader, sender)
    [linked] = check(db, reader, sender.code)
    assert (linked.person_id, linked.relation) == (na, "guardian")
    with db.reader() as uow:
        [profile] = uow.session.scalars(select(Patient).where(Patient.account_id == reader)).all()
    assert (profile.full_name, profile.relation, profile.date_of_birth) == (
        "Trần Gia Na",
        "child",
        dt.date(2018, 5, 20),
    )


# --- the desk ----------------------------------------------------------------------------------------------------


def staff_of(db, slug: str | None = "test") -> Actor:
    hospital_id = None
    if slug is not None:
        with db.reader() as uow:
            hospital_id = uow.session.scalar(select(Hospital.id).where(Hospital.slug == slug))
    return Actor(kind="cli", client_id=None, client_name=f"clerk-{slug}", hospital_id=hospital_id)


def desk_code(db, account_id: int, *, now: dt.datetime = NOW) -> str:
    with db.uow() as uow:
        code, expires = ra.issue_desk_code(uow, account_id, now=now)
    assert expires == now + dt.timedelta(minutes=30)
    assert len(code) == 8 and set(code) <= set(ALPHABET)
    return code


def at_desk(db, code: str, person_id: int, relation: str = "self", staff: Actor | None = None, **kw) -> ra.Linked:
    with db.uow() as uow:
        return ra.link_at_desk(uow, code, person_id, relation=relation, staff=staff or staff_of(db), now=NOW, **kw)


def test_staff_link_the_account_showing_the_desk_code(db, world):
    person = store_visit(db, mai(phone=None))
    reader = account(db)
    code = desk_code(db, reader)
    linked = at_desk(db, code.lower()[:4] + "-" + code[4:], person)  # as typed at the desk
    assert (linked.person_id, linked.relation, linked.verified_by) == (person, "self", "desk")
    with db.reader() as uow:
        [link] = uow.session.scalars(select(ReaderLink)).all()
    assert (link.created_by, link.hospital_id) == ("clerk-test", staff_of(db).hospital_id)
    with pytest.raises(ra.DeskCodeUnknown):  # single use
        at_desk(db, code, person)


def test_a_guardian_link_only_to_a_child(db, world):
    adult = store_visit(db, mai())
    na = store_visit(db, child(phone=None))
    reader = account(db)
    code = desk_code(db, reader)
    with pytest.raises(ra.NotGuardian):
        at_desk(db, code, adult, "guardian")
    assert refusals(db) == [("emr_person", str(adult), "refused=not_guardian")]
    linked = at_desk(db, code, na, "guardian")  # the code still stands
    assert (linked.person_id, linked.relation, linked.is_child) == (na, "guardian", True)


def test_staff_of_a_hospital_link_only_persons_with_a_visit_there(db, world):
    add_hospital(db, "other")
    person = store_visit(db, mai(), facility=OTHER)
    reader = account(db)
    code = desk_code(db, reader)
    with pytest.raises(OtherHospital):
        at_desk(db, code, person, staff=staff_of(db, "test"))
    assert at_desk(db, code, person, staff=staff_of(db, "other")).person_id == person


def test_an_unknown_or_expired_desk_code_is_refused(db, world):
    person = store_visit(db, mai())
    reader = account(db)
    code = desk_code(db, reader, now=NOW - dt.timedelta(minutes=31))
    for typed in (code, "ABC", "00000000", "ZZZZZZZZ"):
        with pytest.raises(ra.DeskCodeUnknown):
            at_desk(db, typed, person)
    with pytest.raises(ra.DeskCodeUnknown):  # a new code replaces the pending one
        old = desk_code(db, reader)
        desk_code(db, reader)
        at_desk(db, old, person)
    assert links(db, reader) == []
    assert len(refusals(db)) == 5


# --- reading, unlinking ------------------------------------------------------------------------------------------


def linked_by_desk(db, person_id: int, account_id: int, relation: str = "self") -> ra.Linked:
    return at_desk(db, desk_code(db, account_id), person_id, relation)


def test_a_read_needs_the_link_and_the_consent_and_every_refusal_is_audited(db, world):
    person = store_visit(db, mai())
    reader = account(db)
    who = ra.chat_reader(reader, "oa-1")
    assert (who.kind, who.account_id, who.client_name) == ("zalo_user", reader, "Zalo OA oa-1")
    with db.uow() as uow, pytest.raises(ra.NotLinked):
        ra.require_link(uow, reader, person, reader=who, purpose=consent.SUMMARY, now=NOW)
    linked_by_desk(db, person, reader)
    with db.uow() as uow, pytest.raises(consent.NoConsent):
        ra.require_link(uow, reader, person, reader=who, purpose=consent.SUMMARY, now=NOW)
    with db.uow() as uow:
        consent.decide(uow, reader, consent.SUMMARY, True, channel="zalo", now=NOW)
    with db.reader() as uow:
        assert ra.require_link(uow, reader, person, reader=who, purpose=consent.SUMMARY).person_id == person
    assert refusals(db) == [
        ("emr_person", str(person), "refused=not_linked"),
        ("emr_person", str(person), "refused=no_consent"),
    ]
    with db.reader() as uow:
        rows = uow.session.scalars(select(AccessAudit).where(AccessAudit.outcome == "refused")).all()
    assert {(r.channel, r.account_id, r.purpose) for r in rows} == {("zalo", reader, consent.SUMMARY)}


def test_a_guardian_reads_no_more_once_the_child_is_16(db, world):
    na = store_visit(db, child(phone=None))
    reader = account(db)
    linked_by_desk(db, na, reader, "guardian")
    with db.uow() as uow:
        consent.decide(uow, reader, consent.SUMMARY, True, channel="zalo", now=NOW)
    who = ra.chat_reader(reader, "oa-1")
    later = dt.datetime(2034, 5, 21, tzinfo=dt.UTC)
    with db.uow() as uow:
        assert ra.require_link(uow, reader, na, reader=who, purpose=consent.SUMMARY, now=NOW).is_child
    with db.uow() as uow, pytest.raises(ra.NotGuardian):
        ra.require_link(uow, reader, na, reader=who, purpose=consent.SUMMARY, now=later)
    assert refusals(db) == [("emr_person", str(na), "refused=not_guardian")]


def test_another_account_reads_nothing(db, world):
    person = store_visit(db, mai())
    linked_by_desk(db, person, account(db, "me"))
    other = account(db, "me", oa="oa-2")  # the same Zalo user on another OA is another account
    with db.uow() as uow:
        consent.decide(uow, other, consent.SUMMARY, True, channel="zalo", now=NOW)
    with db.uow() as uow, pytest.raises(ra.NotLinked):
        ra.require_link(uow, other, person, reader=ra.chat_reader(other, "oa-2"), purpose=consent.SUMMARY)


def test_the_patient_unlinks_one_person_or_all(db, world):
    mother = store_visit(db, mai())
    na = store_visit(db, child(phone=None))
    reader = account(db)
    linked_by_desk(db, mother, reader)
    linked_by_desk(db, na, reader, "guardian")
    with db.uow() as uow:
        assert ra.unlink(uow, reader, na, by="patient", now=NOW) == 1
    assert [x.person_id for x in links(db, reader)] == [mother]
    with db.uow() as uow:
        assert ra.unlink(uow, reader, None, by="patient", now=NOW) == 1
        assert ra.unlink(uow, reader, None, by="patient", now=NOW) == 0
    assert links(db, reader) == []
    relinked = linked_by_desk(db, mother, reader)  # a removed link does not stand in the way
    assert links(db, reader) == [relinked]


def test_staff_see_the_links_masked_and_remove_one(db, world):
    add_hospital(db, "other")
    person = store_visit(db, mai())
    reader = account(db, "1234567890123")
    linked = linked_by_desk(db, person, reader)
    with db.uow() as uow:
        [view] = ra.person_links(uow, person, staff=staff_of(db))
        uow.commit()
    assert (view.id, view.relation, view.verified_by, view.removed_at) == (linked.link_id, "self", "desk", None)
    assert view.account == "zalo:oa-1:*********0123"
    with db.uow() as uow, pytest.raises(OtherHospital):
        ra.remove_link(uow, linked.link_id, staff=staff_of(db, "other"), now=NOW)
    with db.uow() as uow, pytest.raises(OtherHospital):
        ra.person_links(uow, person, staff=staff_of(db, "other"))
    with db.uow() as uow:
        ra.remove_link(uow, linked.link_id, staff=staff_of(db), now=NOW)
    assert links(db, reader) == []
    with db.uow() as uow:
        [view] = ra.person_links(uow, person, staff=staff_of(db))
    assert (view.removed_at, view.removed_by) == (NOW, "clerk-test")
    with db.uow() as uow, pytest.raises(ra.NotLinked):
        ra.require_link(uow, reader, person, reader=ra.chat_reader(reader, "oa-1"), purpose=consent.SUMMARY)
    with db.uow() as uow, pytest.raises(Exception, match="no current reader link"):
        ra.remove_link(uow, linked.link_id, staff=staff_of(db), now=NOW)
