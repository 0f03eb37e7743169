"""A patient's upcoming appointments across the profiles of their account come from one core service in a
fixed number of statements, however many profiles the account manages (no query per profile)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from bot.actions.changes import upcoming
from bot.actions.context import Chat
from core.booking import appointments
from core.timeutil import utcnow
from core.uow import Database
from tests.factories import build_world, new_patient, slot_at, today_local

CHAT = Chat(sender_id="388613280878808645:user-1", oa_id="388613280878808645", user_id="user-1")


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block."""
    statements: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def book_profiles(db: Database, account_id: int, times: list[str], first: int) -> None:
    """One new profile per time, each booked tomorrow at that time in Nhi."""
    tomorrow = today_local() + dt.timedelta(days=1)
    for n, hhmm in enumerate(times, start=first):
        patient_id = new_patient(db, account_id, n)
        request = appointments.BookingRequest(
            slot_id=slot_at(db, "nhi", tomorrow, hhmm), patient_id=patient_id, channel="zalo", account_id=account_id
        )
        with db.uow() as uow:
            appointments.book(uow, request)


def statements_for_upcoming(db: Database) -> tuple[int, list[str]]:
    with db.uow() as uow:
        CHAT.account_id(uow)  # the account's look-up is not what is measured
        with counted(db) as statements:
            found = upcoming(uow, CHAT)
    return len(statements), [f"{a.start:%H:%M} {a.patient_name}" for a in found]


def test_upcoming_appointments_of_many_profiles_cost_the_same_statements_as_of_one(db) -> None:
    build_world(db, start=today_local(), days=14)
    with db.uow() as uow:
        account_id = CHAT.account_id(uow)
    book_profiles(db, account_id, ["10:00"], first=1)
    one, shown = statements_for_upcoming(db)
    assert shown == ["10:00 Nguyễn Văn Thử 1"]

    book_profiles(db, account_id, ["08:30", "07:00", "09:30"], first=2)
    many, shown = statements_for_upcoming(db)
    assert shown == [  # soonest first across the profiles
        "07:00 Nguyễn Văn Thử 3",
        "08:30 Nguyễn Văn Thử 2",
        "09:30 Nguyễn Văn Thử 4",
        "10:00 Nguyễn Văn Thử 1",
    ]
    assert many == one, f"{many} statements for 4 profiles against {one} for 1: a query per profile"
    assert one <= 2  # the account's appointments in one query (plus at most the account's own look-up)


def test_past_cancelled_and_other_accounts_appointments_are_not_upcoming(db) -> None:
    world = build_world(db, start=today_local(), days=14)
    with db.uow() as uow:
        account_id = CHAT.account_id(uow)
    book_profiles(db, account_id, ["07:00", "08:00"], first=1)
    book_profiles(db, world.account_id, ["09:00"], first=9)  # someone else's account
    with db.uow() as uow:
        first = upcoming(uow, CHAT)[0]
        appointments.cancel(uow, first.code, by="patient", channel="zalo", account_id=account_id)
    with db.uow() as uow:
        assert [a.start.strftime("%H:%M") for a in upcoming(uow, CHAT)] == ["08:00"]
        later = utcnow() + dt.timedelta(days=3)
        assert appointments.account_upcoming(uow, account_id, now=later) == []
