"""The patient's access history (core/emr/access_log.py, "ai đã xem hồ sơ của tôi"): every read and refused read
of the linked person's record in the last 90 days, newest first, who in plain Vietnamese; merges followed; the
look at the history itself audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from core.access import ApiKey, create_api_key
from core.audit import Actor
from core.booking import patients
from core.emr import models as m
from core.emr.access_log import access_history
from core.emr.reading import person_record, visit_versions
from core.emr.record_access import NotLinked, chat_reader
from core.uow import Database
from tests import emr_his_files as his
from tests.conftest import NOW
from tests.factories import add_hospital
from tests.test_emr_summaries import OA, ask, audit_rows, import_visit, link, outpatient, person_of


def api_reader(db: Database, name: str, hospital: str | None) -> Actor:
    """The reader of an API key ``name`` (kind "his"), confined to ``hospital`` when it names one."""
    with db.uow() as uow:
        create_api_key(uow, name=name, kind="his", hospital_slug=hospital, now=NOW)
        uow.commit()
        key_id, hospital_id = uow.session.execute(
            select(ApiKey.id, ApiKey.hospital_id).where(ApiKey.name == name)
        ).one()
    return Actor(kind="api_client", client_id=key_id, client_name=name, hospital_id=hospital_id)


def history(db: Database, account_id: int, *, at: dt.datetime = NOW, **kw: object):
    with db.uow() as uow:
        return access_history(uow, account_id, reader=chat_reader(account_id, OA), now=at, **kw)


def account(db: Database, user: str) -> int:
    with db.uow() as uow:
        return patients.get_or_create_account(uow, "zalo", f"{OA}:{user}")


@pytest.fixture
def linked(db, world):
    """Nguyễn Văn An's visit at hospital "test"; the world's account linked to him."""
    add_hospital(db)
    visit_id = import_visit(db, outpatient())
    link(db, world.account_id, person_of(db, visit_id))
    return visit_id


def test_reads_and_refusals_of_the_last_90_days_newest_first_who_in_plain_vietnamese(db, world, linked):
    person = person_of(db, linked)
    staff = api_reader(db, "his-bv-thu-nghiem", "test")
    software = api_reader(db, "so-suc-khoe-tinh", None)
    with db.reader() as uow:
        person_record(uow, person, reader=staff, purpose="khám bệnh", now=NOW - dt.timedelta(days=100))  # too old
        person_record(uow, person, reader=staff, purpose="khám bệnh", now=NOW - dt.timedelta(days=30))
        person_record(uow, person, reader=software, purpose="sổ sức khỏe", now=NOW - dt.timedelta(days=20))
    ask(db, world.account_id, now=NOW - dt.timedelta(days=2))
    with pytest.raises(NotLinked):
        ask(db, account(db, "u-stranger"), person_id=person, now=NOW - dt.timedelta(days=1))
    someone_else = person_of(db, import_visit(db, his.inpatient()))
    with db.reader() as uow:
        person_record(uow, someone_else, reader=staff, purpose="khám bệnh", now=NOW - dt.timedelta(days=3))

    lines = history(db, world.account_id)

    assert [(line.who, line.channel, line.outcome) for line in lines] == [
        ("Một tài khoản Zalo khác", "zalo", "refused"),
        ("Anh/chị qua Zalo", "zalo", "read"),
        ("Phần mềm so-suc-khoe-tinh", "api", "read"),
        ("Nhân viên Bệnh viện Thử nghiệm", "api", "read"),
    ]
    assert [line.at for line in lines] == sorted((line.at for line in lines), reverse=True)
    assert {line.person_id for line in lines} == {person}


def test_looking_at_the_history_is_itself_an_audited_read(db, world, linked):
    history(db, world.account_id)

    row = audit_rows(db)[-1]
    assert (row.record_kind, row.record_id, row.account_id, row.outcome, row.channel) == (
        "emr_access_log",
        str(person_of(db, linked)),
        world.account_id,
        "read",
        "zalo",
    )
    assert history(db, world.account_id) == [], "the history's own reads are not listed as record reads"


def test_the_reads_of_a_merged_persons_ids_and_of_any_version_of_its_visits_are_listed(db, world, linked):
    kept = person_of(db, linked)
    twin_visit = import_visit(
        db, his.inpatient(name="Nguyễn Văn An", birth="198503140000", sex="1", cccd="079085099999"), facility="88888"
    )
    gone = person_of(db, twin_visit)
    staff = api_reader(db, "his-bv-khac", "other")
    with db.reader() as uow:
        person_record(uow, gone, reader=staff, purpose="khám bệnh", now=NOW - dt.timedelta(days=5))
    with db.uow() as uow:
        uow.session.execute(update(m.Person).where(m.Person.id == gone).values(merged_into_id=kept))
        uow.commit()
    software = api_reader(db, "his-tinh", None)
    with db.reader() as uow:
        visit_versions(uow, "88888", "LK0002", reader=software, purpose="đối chiếu", now=NOW - dt.timedelta(days=4))

    lines = history(db, world.account_id)
    assert [(line.who, line.person_id) for line in lines] == [
        ("Phần mềm his-tinh", kept),
        ("Nhân viên Bệnh viện Khác", kept),
    ]


def test_without_a_link_the_history_is_refused_and_the_refusal_audited(db, world, linked):
    stranger = account(db, "u-2")
    with pytest.raises(NotLinked):
        history(db, stranger)
    with pytest.raises(NotLinked):
        history(db, world.account_id, person_id=person_of(db, import_visit(db, his.inpatient())))
    rows = [r for r in audit_rows(db) if r.record_kind == "emr_access_log"]
    assert [r.outcome for r in rows] == ["refused", "refused"]


def test_a_guardian_sees_a_childs_history_not_a_grown_childs(db, world, linked):
    child_visit = import_visit(db, his.child())
    link(db, world.account_id, person_of(db, child_visit), relation="guardian")
    ask(db, world.account_id, person_id=person_of(db, child_visit), now=NOW - dt.timedelta(days=1))

    assert [line.who for line in history(db, world.account_id, person_id=person_of(db, child_visit))] == [
        "Anh/chị qua Zalo"
    ]
    with db.uow() as uow:
        uow.session.execute(
            update(m.Person).where(m.Person.id == person_of(db, child_visit)).values(birth_year=2006, birth_month=1)
        )
        uow.commit()
    with pytest.raises(NotLinked):
        history(db, world.account_id, person_id=person_of(db, child_visit))
