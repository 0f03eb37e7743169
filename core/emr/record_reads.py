"""The record access audit as records staff see it: who read which person's clinical record, when, and through
what (chat, an API key, a staff account, the command line), from the append-only audit (core/audit.py).

Two views, both confined to one hospital: the reads of one person (found by CCCD, BHYT card, social-insurance
number, a masked identifier's last four digits, or the person's number "#123"), who must have a visit at the
hospital; and the latest reads of the records of the hospital's persons. Looking at the audit is itself a read
of personal data: audited as ``emr_access_log``, one row per person shown.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import String, and_, cast, or_, select

from core import audit
from core.access import ApiKey
from core.audit import AccessAudit
from core.booking.models import Hospital
from core.errors import InvalidInput, NotFound
from core.identifiers import mask_identifier
from core.staff.models import StaffAccount
from core.tenancy import OtherHospital
from core.timeutil import ensure_utc
from core.uow import UnitOfWork

from . import phone_holders
from .models import IdentifierKind, Person, PersonIdentifier, Visit
from .persons import survivor

PERSON_KINDS = ("emr_person", "emr_person_match", "emr_access_log")  # record ids are person ids
VISIT_KIND = "emr_visit"  # record ids are visit ids
LATEST = 50
MAX_READS = 500
MAX_CANDIDATES = 20
_DIGITS = re.compile(r"\d+")
_MASKED = re.compile(r"^[*•…xX. ]+(\d{4})$")

WHO_KIND_VI = {
    "zalo_user": "Người dùng Zalo",
    "api_client": "Khóa API",
    "staff": "Nhân viên",
    "cli": "Quản trị (dòng lệnh)",
}
CHANNEL_VI = {"zalo": "Chat Zalo", "api": "API", "cli": "Dòng lệnh", "staff": "Bàn làm việc nhân viên"}
KIND_VI = {
    "emr_person": "Hồ sơ bệnh án",
    "emr_visit": "Lượt khám",
    "emr_person_match": "Đề xuất ghép hồ sơ",
    "emr_access_log": "Lịch sử truy cập",
}


@dataclass(frozen=True)
class PersonHit:
    id: int
    full_name: str
    birth_year: int | None
    cccd: str  # masked
    social_insurance_number: str  # masked


@dataclass(frozen=True)
class ReadLine:
    at: dt.datetime
    who_kind: str  # "Nhân viên", "Khóa API", …
    who: str  # the username, the key's name (with its hospital), "tài khoản #12"
    channel: str  # "Chat Zalo", "API", …
    what: str  # "Hồ sơ bệnh án", "Lượt khám #5"
    outcome: str  # "read" / "refused"
    purpose: str
    person_id: int | None
    person_name: str


def _hit(person: Person) -> PersonHit:
    return PersonHit(
        person.id,
        person.full_name,
        person.birth_year,
        mask_identifier(person.cccd),
        mask_identifier(person.social_insurance_number),
    )


def _visible(uow: UnitOfWork, person_id: int, hospital_id: int) -> bool:
    return phone_holders.visited(uow.session, person_id, hospital_id)


def find_persons(uow: UnitOfWork, hospital_id: int, query: str) -> list[PersonHit]:
    """The persons (merges followed) with a visit at the hospital that ``query`` names: a CCCD (12 digits), a BHYT
    card (15 characters: its last 10 digits are the social-insurance number), a social-insurance number (10
    digits), a masked identifier ("********1234": the last four digits of a CCCD or social-insurance number), or
    "#123". A person of another hospital only: OtherHospital."""
    text = (query or "").strip()
    session = uow.session
    masked = _MASKED.match(text)
    if text.startswith("#") and text[1:].isdigit() and len(text) < 12:
        ids = [int(text[1:])]
    elif masked:
        tail = masked.group(1)
        ids = list(
            session.scalars(
                select(PersonIdentifier.person_id)
                .where(
                    PersonIdentifier.kind.in_((IdentifierKind.CCCD.value, IdentifierKind.SOCIAL_INSURANCE.value)),
                    PersonIdentifier.value.like(f"%{tail}"),
                    PersonIdentifier.person_id.in_(select(Visit.person_id).where(Visit.hospital_id == hospital_id)),
                )
                .distinct()
                .limit(MAX_CANDIDATES)
            )
        )
    else:
        value = re.sub(r"[\s.-]", "", text).upper()
        if len(value) == 15 and value[:2].isalpha() and value[2:].isdigit():
            kind, value = IdentifierKind.SOCIAL_INSURANCE.value, value[-10:]
        elif value.isdigit() and len(value) == 12:
            kind = IdentifierKind.CCCD.value
        elif value.isdigit() and len(value) == 10:
            kind = IdentifierKind.SOCIAL_INSURANCE.value
        else:
            raise InvalidInput(
                "search by CCCD, BHYT card, social-insurance number, masked identifier or #person",
                "Nhập số CCCD (12 số), mã thẻ BHYT (15 ký tự), mã số BHXH (10 số), 4 số cuối dạng ****1234 "
                "hoặc mã hồ sơ #123.",
                field="q",
            )
        ids = list(
            session.scalars(
                select(PersonIdentifier.person_id).where(
                    PersonIdentifier.kind == kind, PersonIdentifier.facility_code == "", PersonIdentifier.value == value
                )
            )
        )
    roots: dict[int, Person] = {}
    for person_id in ids:
        person = session.get(Person, person_id)
        if person is not None:
            root = survivor(session, person)
            roots[root.id] = root
    if not roots:
        raise NotFound("no person found", "Không tìm thấy hồ sơ nào khớp.")
    hits = [_hit(p) for p in roots.values() if _visible(uow, p.id, hospital_id)]
    if not hits:
        raise OtherHospital("person")
    audit.record_reads(uow, "emr_person_search", sorted(h.id for h in hits))  # names shown: a read
    return sorted(hits, key=lambda h: h.id)


def person_reads(uow: UnitOfWork, hospital_id: int, person_id: int) -> tuple[PersonHit, list[ReadLine]]:
    """Every read of the person's record (and of those merged into it), newest first (at most MAX_READS).
    The person must have a visit at the hospital (OtherHospital otherwise; unknown: NotFound)."""
    session = uow.session
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person {person_id}", "Không có hồ sơ này.")
    root = survivor(session, person)
    if not _visible(uow, root.id, hospital_id):
        raise OtherHospital("person")
    members = phone_holders.group(session, root.id)
    visit_ids = [str(i) for i in session.scalars(select(Visit.id).where(Visit.person_id.in_(members)))]
    table = AccessAudit.__table__
    person_ids = [str(i) for i in members]
    condition = and_(table.c.record_kind.in_(PERSON_KINDS), table.c.record_id.in_(person_ids))
    if visit_ids:
        condition = or_(condition, and_(table.c.record_kind == VISIT_KIND, table.c.record_id.in_(visit_ids)))
    rows = session.execute(
        select(table).where(condition).order_by(table.c.at.desc(), table.c.id.desc()).limit(MAX_READS)
    ).all()
    lines = _lines(uow, rows, {int(i): root for i in person_ids}, {int(v): root for v in visit_ids})
    audit.record_reads(uow, "emr_access_log", [root.id])
    return _hit(root), lines


def latest_reads(uow: UnitOfWork, hospital_id: int, *, limit: int = LATEST) -> list[ReadLine]:
    """The latest reads of the records of persons with a visit at the hospital, newest first."""
    table = AccessAudit.__table__
    here = select(cast(Visit.person_id, String)).where(Visit.hospital_id == hospital_id)
    visits_here = select(cast(Visit.id, String)).where(Visit.hospital_id == hospital_id)
    rows = uow.session.execute(
        select(table)
        .where(
            or_(
                and_(table.c.record_kind.in_(PERSON_KINDS), table.c.record_id.in_(here)),
                and_(table.c.record_kind == VISIT_KIND, table.c.record_id.in_(visits_here)),
            )
        )
        .order_by(table.c.at.desc(), table.c.id.desc())
        .limit(min(limit, MAX_READS))
    ).all()
    person_ids = {int(r.record_id) for r in rows if r.record_kind in PERSON_KINDS and r.record_id.isdigit()}
    visit_ids = {int(r.record_id) for r in rows if r.record_kind == VISIT_KIND and r.record_id.isdigit()}
    visit_person = dict(uow.session.execute(select(Visit.id, Visit.person_id).where(Visit.id.in_(visit_ids))).all())
    people = {
        p.id: p
        for p in uow.session.scalars(select(Person).where(Person.id.in_(person_ids | set(visit_person.values()))))
    }
    lines = _lines(
        uow,
        rows,
        {i: people[i] for i in person_ids if i in people},
        {v: people[p] for v, p in visit_person.items() if p in people},
    )
    audit.record_reads(uow, "emr_access_log", sorted({line.person_id for line in lines if line.person_id}))
    return lines


def _lines(uow: UnitOfWork, rows, persons: dict[int, Person], visits: dict[int, Person]) -> list[ReadLine]:
    keys = _names(uow, ApiKey, {r.actor_id for r in rows if r.actor_kind == "api_client"})
    staff = _names(uow, StaffAccount, {r.actor_id for r in rows if r.actor_kind == "staff"})
    lines = []
    for row in rows:
        record = int(row.record_id) if row.record_id.isdigit() else None
        person = (visits if row.record_kind == VISIT_KIND else persons).get(record) if record is not None else None
        what = KIND_VI.get(row.record_kind, row.record_kind)
        if row.record_kind == VISIT_KIND:
            what = f"{what} #{row.record_id}"
        lines.append(
            ReadLine(
                at=ensure_utc(row.at),
                who_kind=WHO_KIND_VI.get(row.actor_kind, row.actor_kind),
                who=_who(row, keys, staff),
                channel=CHANNEL_VI.get(row.channel or _channel_of(row.actor_kind), row.channel or row.actor_kind),
                what=what,
                outcome=row.outcome,
                purpose=row.purpose or "",
                person_id=person.id if person is not None else None,
                person_name=person.full_name if person is not None else "",
            )
        )
    return lines


def _channel_of(actor_kind: str) -> str:
    return {"zalo_user": "zalo", "api_client": "api", "staff": "staff", "cli": "cli"}.get(actor_kind, "")


def _names(uow: UnitOfWork, model, ids: set) -> dict[int, str]:
    """Key / staff id -> "name (hospital)"."""
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    label = model.name if model is ApiKey else model.username
    rows = uow.session.execute(
        select(model.id, label, Hospital.name)
        .outerjoin(Hospital, Hospital.id == model.hospital_id)
        .where(model.id.in_(wanted))
    )
    return {i: f"{name} ({hospital})" if hospital else name for i, name, hospital in rows}


def _who(row, keys: dict[int, str], staff: dict[int, str]) -> str:
    if row.actor_kind == "api_client":
        return keys.get(row.actor_id, row.actor_name)
    if row.actor_kind == "staff":
        return staff.get(row.actor_id, row.actor_name)
    if row.actor_kind == "zalo_user":
        return f"tài khoản #{row.account_id}" if row.account_id else row.actor_name
    return row.actor_name
