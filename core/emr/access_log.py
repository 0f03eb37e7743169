"""The patient's own access history: who read (or was refused) the records of the persons an account is linked
to, in plain Vietnamese, newest first ("ai đã xem hồ sơ của tôi").

It reads the append-only access audit (core/audit.py): rows of record kind ``emr_person`` for the person and
every person merged into it, and ``emr_visit`` for any version of their visits. Looking at the history is
itself a read of personal data: it is audited too (record kind ``emr_access_log``, one row per person shown).
It needs a link (a guardian's only while the child is under 16) but no consent: withdrawing consent to
summaries does not take away the right to know who read the record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import and_, or_, select

from core import audit
from core.access import ApiKey
from core.audit import AccessAudit, Actor
from core.booking.models import Hospital
from core.timeutil import utcnow
from core.uow import UnitOfWork

from . import phone_holders
from .models import Person, Visit
from .persons import survivor
from .reading import CHANNEL_OF_KIND
from .record_access import GUARDIAN, Linked, NotLinked, linked_persons

RECORD_KIND = "emr_access_log"
PURPOSE = "access_history"
YOU = "Anh/chị qua Zalo"
OTHER_ZALO = "Một tài khoản Zalo khác đã được liên kết"
STRANGER_ZALO = "Một tài khoản Zalo khác"  # refused: never linked (or no longer)
ADMIN = "Quản trị viên hệ thống"
SYSTEM = "Hệ thống henkham"


@dataclass(frozen=True)
class AccessLine:
    at: dt.datetime  # UTC (shown in Asia/Ho_Chi_Minh)
    who: str  # "Anh/chị qua Zalo", "Nhân viên Bệnh viện …", "Phần mềm …"
    channel: str  # "zalo", "api", "cli", …
    outcome: str  # "read" / "refused"
    person_id: int  # whose record (the person as the record reads)


def _who(row, account_id: int, keys: dict[int, tuple[str, str | None]]) -> str:
    if row.actor_kind == "zalo_user":
        if row.account_id == account_id:
            return YOU
        return STRANGER_ZALO if row.outcome == "refused" else OTHER_ZALO
    if row.actor_kind == "api_client":
        name, hospital = keys.get(row.actor_id, (row.actor_name, None))
        return f"Nhân viên {hospital}" if hospital else f"Phần mềm {name}"
    if row.actor_kind == "cli":
        return ADMIN
    return SYSTEM


def _keys(session, ids: Iterable[int]) -> dict[int, tuple[str, str | None]]:
    """API key id -> (client name, the name of the hospital it is confined to)."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(
        select(ApiKey.id, ApiKey.name, Hospital.name)
        .outerjoin(Hospital, Hospital.id == ApiKey.hospital_id)
        .where(ApiKey.id.in_(wanted))
    )
    return {key_id: (name, hospital) for key_id, name, hospital in rows}


def _refuse(uow: UnitOfWork, reader: Actor, record_id: int | str, at: dt.datetime) -> NoReturn:
    error = NotLinked()
    audit.record_record_read(
        uow,
        reader,
        RECORD_KIND,
        record_id,
        purpose=PURPOSE,
        channel=CHANNEL_OF_KIND.get(reader.kind, reader.kind),
        detail=f"refused={error.code}",
        outcome="refused",
        now=at,
    )
    uow.commit()
    raise error


def _allowed(uow: UnitOfWork, account_id: int, person_id: int | None, reader: Actor, at: dt.datetime) -> list[Linked]:
    links = [x for x in linked_persons(uow, account_id, now=at) if x.relation != GUARDIAN or x.is_child]
    if person_id is not None:
        target = uow.session.get(Person, person_id)
        root = survivor(uow.session, target).id if target is not None else None
        links = [x for x in links if x.person_id == root]
    if not links:
        _refuse(uow, reader, person_id if person_id is not None else "", at)
    return links


def access_history(
    uow: UnitOfWork,
    account_id: int,
    *,
    reader: Actor,
    person_id: int | None = None,
    days: int = 90,
    now: dt.datetime | None = None,
) -> list[AccessLine]:
    """The reads and refusals of the last ``days`` days of the records the account is linked to (``person_id``:
    only that one), newest first. NotLinked (audited) without such a link. The audit rows are committed."""
    at = now or utcnow()
    session = uow.session
    links = _allowed(uow, account_id, person_id, reader, at)
    owner_of: dict[str, int] = {}
    visit_owner: dict[str, int] = {}
    for link in links:
        group = phone_holders.group(session, link.person_id)
        owner_of.update((str(i), link.person_id) for i in group)
        visit_ids = session.scalars(select(Visit.id).where(Visit.person_id.in_(group)))
        visit_owner.update((str(i), link.person_id) for i in visit_ids)
    rows = _audit_rows(session, owner_of, visit_owner, at - dt.timedelta(days=days))
    keys = _keys(session, (row.actor_id for row in rows if row.actor_kind == "api_client"))
    lines = [
        AccessLine(
            at=row.at,
            who=_who(row, account_id, keys),
            channel=row.channel,
            outcome=row.outcome,
            person_id=(owner_of if row.record_kind == "emr_person" else visit_owner)[row.record_id],
        )
        for row in rows
    ]
    channel = CHANNEL_OF_KIND.get(reader.kind, reader.kind)
    for link in links:
        shown = sum(1 for line in lines if line.person_id == link.person_id)
        audit.record_record_read(
            uow,
            reader,
            RECORD_KIND,
            link.person_id,
            purpose=PURPOSE,
            channel=channel,
            detail=f"lines={shown};days={days}",
            now=at,
        )
    if not uow.read_only:
        uow.commit()
    return lines


def _audit_rows(session, persons: dict[str, int], visits: dict[str, int], since: dt.datetime) -> Sequence:
    table = AccessAudit.__table__
    kinds = [and_(table.c.record_kind == "emr_person", table.c.record_id.in_(sorted(persons)))]
    if visits:
        kinds.append(and_(table.c.record_kind == "emr_visit", table.c.record_id.in_(sorted(visits))))
    return session.execute(
        select(
            table.c.at,
            table.c.actor_kind,
            table.c.actor_id,
            table.c.actor_name,
            table.c.account_id,
            table.c.record_kind,
            table.c.record_id,
            table.c.channel,
            table.c.outcome,
        )
        .where(table.c.at >= since, or_(*kinds))
        .order_by(table.c.at.desc(), table.c.id.desc())
    ).all()
