""" "Your results are ready": one notice per imported visit version to each account that reads the person's
record in chat and agreed to be told (consent ``result_notifications``).

Each run of the scheduler's job looks at the current, not cancelled visits imported in the last ``LOOK_BACK``
(48 h: a scheduler down for a while catches up, a first run does not message history) that were discharged, or
arrived, within ``recent_days`` (importing years of history messages nobody), of persons (merges followed, as
the record reads: the root and everyone merged into it) with a live reader link of an account whose current
consent is a yes (a guardian's link only while the child is under 16, as for reading). Each (visit version,
account) gets one ``emr_result_notices`` row, unique: the channel queues the message (its idempotency key is
the notice's key) and the row is written in one transaction, so a crash, a rerun or a second scheduler sends
nothing twice. A corrected re-import is a new visit version, so a new notice; the same file imported twice adds
no version, so none. Nothing is planned 22:00-06:00 (Vietnam time): the job waits, and its first run after
06:00 sends.

The notice carries no health data: the facility, the day and a way to open the visit (the channel's button).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from core.booking.models import Account, Hospital
from core.db import insert_ignoring_conflicts
from core.timeutil import NIGHT_END, NIGHT_START, to_local, utcnow
from core.uow import Database, UnitOfWork

from .consent import RESULTS, consenting
from .models import Person, ReaderLink, ResultNoticeRow, Visit
from .phone_holders import is_child
from .reading import MAX_MERGE_DEPTH
from .record_access import GUARDIAN

LOOK_BACK = dt.timedelta(hours=48)
BATCH = 500
QUEUED = "queued"
UNDELIVERABLE = "undeliverable"
NOTICES = ResultNoticeRow.__table__


@dataclass(frozen=True)
class ResultNotice:
    """One notice for the channel to deliver to one account."""

    key: str  # unique per (visit version, account); the channel derives its idempotency key from it
    account_id: int
    account_provider: str
    account_key: str  # the account's external id on its provider ("<oa_id>:<user_id>" for Zalo)
    visit_id: int
    facility_name: str
    day: dt.date | None  # the local day the visit ended (or began)


class ResultNotifier(Protocol):
    def queue_results(self, uow: UnitOfWork, notices: Sequence[ResultNotice], now: dt.datetime) -> list[bool]:
        """Queue each notice in the caller's transaction; True per notice queued, False when it cannot be."""


def notice_key(visit_id: int, account_id: int) -> str:
    return f"results:{visit_id}:{account_id}"


def quiet_hours(now: dt.datetime) -> bool:
    """22:00-06:00 in Vietnam: no notice is planned."""
    local = to_local(now).time()
    return not NIGHT_END <= local < NIGHT_START


def plan_result_notices(
    db: Database,
    notifier: ResultNotifier,
    *,
    recent_days: int = 14,
    now: dt.datetime | None = None,
    batch: int = BATCH,
) -> int:
    """Queue every notice due at ``now``; returns how many notice rows this run wrote."""
    now = now or utcnow()
    if quiet_hours(now):
        return 0
    with db.reader() as uow:
        due = _due(uow.session, now, recent_days)
    written = 0
    for start in range(0, len(due), batch):
        with db.uow() as uow:
            written += _write(uow, notifier, due[start : start + batch], now)
            uow.commit()
    return written


def _write(uow: UnitOfWork, notifier: ResultNotifier, notices: Sequence[ResultNotice], now: dt.datetime) -> int:
    queued = notifier.queue_results(uow, notices, now)
    rows = [
        {
            "visit_id": n.visit_id,
            "account_id": n.account_id,
            "queued_at": now,
            "outcome": QUEUED if ok else UNDELIVERABLE,
            "reason": "" if ok else f"the channel has no way to reach a {n.account_provider[:40]} account",
        }
        for n, ok in zip(notices, queued, strict=True)
    ]
    statement = insert_ignoring_conflicts(uow.session.get_bind().dialect.name, NOTICES, ["visit_id", "account_id"])
    # A row another planner wrote first is not counted; its message was not queued twice either (same key).
    return len(uow.session.execute(statement.returning(NOTICES.c.id), rows).all())


def _due(session: Session, now: dt.datetime, recent_days: int) -> list[ResultNotice]:
    """The notices to send, by visit then account: recent visits of consenting readers' persons, not yet told."""
    readers = session.execute(_READERS).all()
    if not readers:
        return []
    roots = _roots(session, {r.person_id for r in readers})
    grown = _grown_up(session, {roots[r.person_id] for r in readers if r.relation == GUARDIAN}, now)
    accounts: dict[int, list[tuple[int, str, str]]] = {}  # root person -> its readers
    for r in readers:
        root = roots[r.person_id]
        if r.relation == GUARDIAN and root in grown:
            continue  # a guardian reads a child's record only while the child is under 16: nothing to tell
        accounts.setdefault(root, []).append((r.account_id, r.provider, r.external_id))
    if not accounts:
        return []
    members = _members(session, set(accounts))
    notices: list[ResultNotice] = []
    for chunk in _chunks(sorted(members), BATCH):
        visits = session.execute(
            _VISITS.where(Visit.person_id.in_(chunk)),
            {"imported_since": now - LOOK_BACK, "ended_since": now - dt.timedelta(days=recent_days)},
        ).all()
        told = _told(session, [v.id for v in visits])
        for v in visits:
            for account_id, provider, external_id in dict.fromkeys(accounts[members[v.person_id]]):
                if (v.id, account_id) in told:
                    continue
                notices.append(
                    ResultNotice(
                        key=notice_key(v.id, account_id),
                        account_id=account_id,
                        account_provider=provider,
                        account_key=external_id,
                        visit_id=v.id,
                        facility_name=v.hospital_name or f"cơ sở khám chữa bệnh {v.facility_code}",
                        day=_day(v.discharged_at or v.arrived_at),
                    )
                )
    notices.sort(key=lambda n: (n.visit_id, n.account_id))
    return notices


def _roots(session: Session, person_ids: set[int]) -> dict[int, int]:
    """Each person's root: the person it was merged into, followed to the end (itself when not merged)."""
    parent: dict[int, int | None] = {}
    frontier = set(person_ids)
    for _ in range(MAX_MERGE_DEPTH):
        frontier -= set(parent)
        if not frontier:
            break
        for chunk in _chunks(sorted(frontier), BATCH):
            parent.update(session.execute(select(Person.id, Person.merged_into_id).where(Person.id.in_(chunk))).all())
        frontier = {p for p in parent.values() if p is not None}
    roots: dict[int, int] = {}
    for person_id in person_ids:
        current, seen = person_id, {person_id}
        while (up := parent.get(current)) is not None and up not in seen and len(seen) < MAX_MERGE_DEPTH:
            current = up
            seen.add(up)
        roots[person_id] = current
    return roots


def _members(session: Session, roots: set[int]) -> dict[int, int]:
    """Every person of the roots' records (the root and everyone merged into it), mapped to its root."""
    members = {root: root for root in roots}
    frontier = set(roots)
    for _ in range(MAX_MERGE_DEPTH):
        found: dict[int, int] = {}
        for chunk in _chunks(sorted(frontier), BATCH):
            rows = session.execute(select(Person.id, Person.merged_into_id).where(Person.merged_into_id.in_(chunk)))
            found.update((child, members[parent]) for child, parent in rows if child not in members)
        if not found:
            break
        members.update(found)
        frontier = set(found)
    return members


def _grown_up(session: Session, person_ids: set[int], now: dt.datetime) -> set[int]:
    """Those of ``person_ids`` who are no child (16 or older, or of unknown age) today."""
    today = to_local(now).date()
    found = session.scalars(select(Person).where(Person.id.in_(sorted(person_ids)))) if person_ids else []
    return {person.id for person in found if not is_child(person, today)}


def _told(session: Session, visit_ids: list[int]) -> set[tuple[int, int]]:
    if not visit_ids:
        return set()
    rows = session.execute(
        select(ResultNoticeRow.visit_id, ResultNoticeRow.account_id).where(ResultNoticeRow.visit_id.in_(visit_ids))
    )
    return {(visit_id, account_id) for visit_id, account_id in rows}


def _day(moment: dt.datetime | None) -> dt.date | None:
    return to_local(moment).date() if moment is not None else None


def _chunks(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# The live links of accounts whose latest decision on result notices is a yes to the text now in force.
_READERS = (
    select(ReaderLink.account_id, ReaderLink.person_id, ReaderLink.relation, Account.provider, Account.external_id)
    .join(Account, Account.id == ReaderLink.account_id)
    .where(ReaderLink.removed_at.is_(None), consenting(ReaderLink.account_id, RESULTS))
    .order_by(ReaderLink.account_id, ReaderLink.person_id)
)
# Current, not cancelled visit versions imported lately that ended (or began) lately, with their hospital's name.
_ENDED = func.coalesce(Visit.discharged_at, Visit.arrived_at)
_VISITS = (
    select(
        Visit.id,
        Visit.person_id,
        Visit.facility_code,
        Visit.discharged_at,
        Visit.arrived_at,
        Hospital.name.label("hospital_name"),
    )
    .outerjoin(Hospital, Hospital.id == Visit.hospital_id)
    .where(
        Visit.superseded_at.is_(None),
        Visit.cancelled_at.is_(None),
        Visit.imported_at >= bindparam("imported_since"),
        bindparam("ended_since", type_=Visit.arrived_at.type) <= _ENDED,
    )
    .order_by(Visit.id)
)
