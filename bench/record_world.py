"""Zalo users with a clinical record they may read in chat: shared by ``bench/record_summary.py`` (the core
look-up) and ``bench/conversation.py --scenario record`` (the conversation).

Each user has a record of ``visits`` (50) visits over four years, alternating between the two hospitals of
``tests.factories`` ("Bệnh viện Thử nghiệm", facility 99999, and "Bệnh viện Khác", 88888), imported from HIS
files as a .NET HIS writes them (``bench/emr_import.his_visit``: four outpatient visits with two drugs, an
exam, a blood count, a glucose test and a chest X-ray to one inpatient stay with course notes, discharge
paper, record summary and re-exam slip), every outpatient visit with a re-exam date a week on. The values a
user must see in chat are the user's own: the glucose result, the quantity of the first drug and the re-exam
date differ per user (:class:`RecordUser`). The link (at the desk, as staff who saw the CCCD do) and the
consent to summaries in chat are made through the core services, as the dialogue's own steps would.

Before them, ``background`` visits of other people are imported (the record tables are not empty in a
hospital), at a third facility.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select, update

from bench.emr_import import build_file, his_visit
from bot.zalo_webhook.accounts import PROVIDER, account_key
from core.audit import Actor
from core.booking import patients
from core.booking.models import Department, Hospital
from core.emr import consent
from core.emr import models as m
from core.emr.importing import import_bytes
from core.emr.record_access import issue_desk_code, link_at_desk
from core.identifiers import mask_identifier
from core.timeutil import local_today, utcnow
from core.uow import Database
from tests import emr_his_files as his
from tests.factories import add_hospital

FACILITIES = ("99999", "88888")  # tests.factories: build_world's hospital "test", add_hospital's "other"
DEPARTMENT_CODES = {"nhi": "K02;K01", "mat": "K19;K03"}  # HIS department codes of build_world's departments
FIRST_PERSON = 900_000  # the users' person numbers in his_visit (the background's are 0 ..)
DAYS_APART = 28
STAFF = Actor(kind="api_client", client_id=None, client_name="bench-quay-tiep-don")


@dataclass(frozen=True)
class RecordUser:
    """A Zalo user linked to their own record, and what of it only they must be shown."""

    user_id: str
    account_id: int
    person_id: int
    full_name: str
    cccd_masked: str  # as the summary shows it ("********0001")
    visit_ids: tuple[int, ...]  # newest first
    glucose: str  # the glucose result of their latest visit
    drug_quantity: str  # the quantity of the first drug of their latest visit
    re_exam: dt.date  # the re-exam date of their latest visit
    last_day: dt.date  # the day of their latest visit


def glucose_of(index: int) -> str:
    return f"{4.5 + index / 100:.2f}"  # 4.50 .. : distinct per user, within the range 3.9 - 6.4


def quantity_of(index: int) -> str:
    return str(100 + index)


def user_visit(index: int, k: int, count: int, today: dt.date) -> his.Visit:
    """Visit ``k`` (0 the oldest) of user ``index``: every ``DAYS_APART`` days up to a month ago, at the two
    hospitals in turn; the user's own glucose value and drug quantity."""
    inpatient = (count - 1 - k) % 5 == 4  # one stay in five; the latest visit an outpatient one
    base = his_visit(5 * (index * count + k) + (0 if inpatient else 1), FIRST_PERSON + index)  # n % 5 == 0: a stay
    day = today - dt.timedelta(days=30 + (count - 1 - k) * DAYS_APART)
    stamp = f"{day:%Y%m%d}"
    exams = [
        replace(e, results=[replace(r, value=glucose_of(index)) for r in e.results]) if "Glucose" in e.name else e
        for e in base.exams
    ]
    drugs = [replace(base.drugs[0], quantity=quantity_of(index)), *base.drugs[1:]]
    return base.with_(
        ma_lk=f"REC{index:04d}-{k:03d}",
        facility_code=FACILITIES[k % len(FACILITIES)],
        arrived=f"{stamp}0730",
        admitted=f"{stamp}0830" if inpatient else "",
        discharged=f"{stamp}2300" if inpatient else f"{stamp}1030",
        re_exam_dates="" if inpatient else f"{day + dt.timedelta(days=7):%Y%m%d}",
        xml14={"NGAY_HEN_KL": f"{day + dt.timedelta(days=14):%Y%m%d}0800"} if inpatient else None,
        exams=exams,
        drugs=drugs,
    )


def prepare_hospitals(db: Database) -> None:
    """The second hospital (when missing) and the HIS codes of build_world's departments (their names in chat)."""
    with db.uow() as uow:
        missing = uow.session.scalar(select(Hospital.id).where(Hospital.facility_code == FACILITIES[1])) is None
    if missing:
        add_hospital(db)
    with db.uow() as uow:
        for slug, codes in DEPARTMENT_CODES.items():
            uow.session.execute(update(Department).where(Department.slug == slug).values(his_codes=codes))
        uow.commit()


def import_background(db: Database, visits: int, *, people: int) -> None:
    """``visits`` visits of ``people`` other people (bench/emr_import's file, its facility 79001)."""
    if visits:
        report = import_bytes(db, build_file(visits, people=people), channel="cli", filename="background.xml")
        if report.imported != visits:
            raise RuntimeError(f"background: {report.imported} of {visits} visits imported")


def seed_user(db: Database, index: int, user_id: str, oa_id: str, *, visits: int, now: dt.datetime) -> RecordUser:
    """User ``index``: their record imported (one file per hospital), their account linked at the desk and
    consenting to summaries in chat."""
    today = local_today(now)
    specs = [user_visit(index, k, visits, today) for k in range(visits)]
    ids: dict[str, int] = {}
    for facility in FACILITIES:
        mine = [v for v in specs if v.facility_code == facility]
        report = import_bytes(db, his.submission_bytes(mine, facility), channel="cli", filename=f"u{index}.xml")
        if report.imported != len(mine):
            raise RuntimeError(f"user {index}: {report.imported} of {len(mine)} visits imported at {facility}")
        ids.update({item.visit_key: item.visit_id for item in report.items if item.visit_id is not None})
    with db.uow() as uow:
        person_ids = set(uow.session.scalars(select(m.Visit.person_id).where(m.Visit.id.in_(ids.values()))))
        if len(person_ids) != 1:
            raise RuntimeError(f"user {index}: the record's visits belong to {len(person_ids)} persons, not one")
        account_id = patients.get_or_create_account(uow, PROVIDER, account_key(oa_id, user_id))
    with db.uow() as uow:
        code, _ = issue_desk_code(uow, account_id, now=now)
    with db.uow() as uow:
        linked = link_at_desk(uow, code, person_ids.pop(), relation="self", staff=STAFF, now=now)
    with db.uow() as uow:
        consent.decide(uow, account_id, consent.SUMMARY, True, channel="zalo", now=now)
    latest = specs[-1]
    last_day = dt.date.fromisoformat(f"{latest.arrived[:4]}-{latest.arrived[4:6]}-{latest.arrived[6:8]}")
    return RecordUser(
        user_id=user_id,
        account_id=account_id,
        person_id=linked.person_id,
        full_name=linked.full_name,
        cccd_masked=mask_identifier(latest.cccd),
        visit_ids=tuple(ids[v.ma_lk] for v in reversed(specs)),
        glucose=glucose_of(index),
        drug_quantity=quantity_of(index),
        re_exam=last_day + dt.timedelta(days=7),
        last_day=last_day,
    )


def seed_record_users(
    db: Database,
    user_ids: Sequence[str],
    oa_id: str,
    *,
    visits: int = 50,
    background: int = 0,
    background_people: int = 2_000,
    now: dt.datetime | None = None,
) -> list[RecordUser]:
    """The users of ``user_ids`` (of OA ``oa_id``), each with a record of ``visits`` visits, linked and
    consenting, after ``background`` visits of other people. build_world's hospital must exist."""
    at = now or utcnow()
    prepare_hospitals(db)
    import_background(db, background, people=background_people)
    return [seed_user(db, i, user_id, oa_id, visits=visits, now=at) for i, user_id in enumerate(user_ids)]
