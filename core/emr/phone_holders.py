"""Who holds a phone in the clinical records, and how old they are: the chat's phone check (core/emr/record_access.py).

A phone is a person's when it is the record's own contact phone (``emr_persons.phone``, DIEN_THOAI) or the
phone of a booking profile linked to the person (``ProfileLink``) that the hospital side stands behind: one made
by a verified record link (matched by "zalo") or one that came to the hospital (an appointment checked in at the
desk, not at a kiosk, or completed). A profile anybody typed (a name, a CCCD, any phone) is typed details, and
typed details never unlock a record: otherwise whoever knows a CCCD could book a profile with it and their own
phone (and check in at a kiosk), then link. Persons are followed through their merges: the holder is the person
a record reads as (the survivor).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from core.booking.models import Appointment, AppointmentEvent, AppointmentStatus, Patient

from . import persons as index
from .link_refusals import CHILD_AGE
from .models import Person, ProfileLink, ReaderLink, Visit

VERIFIED_PROFILE = "zalo"  # core/emr/link_profiles.py MATCHED_BY: a profile made by a verified record link
# A check-in nobody at the hospital saw (a kiosk takes a booking code or the profile's own phone, no card): it
# vouches for nothing. A desk check-in (staff compare the card) or a visit the HIS reports done does.
UNSTAFFED = ("kiosk",)
MAX_GROUP = 200  # persons merged into one: far beyond any real chain (a data error is not followed further)


def holders(session: Session, phone: str) -> list[Person]:
    """The persons (survivors of merges) holding ``phone`` (E.164), by id."""
    ids = set(session.scalars(select(Person.id).where(Person.phone == phone)))
    at_a_kiosk = exists().where(
        AppointmentEvent.appointment_id == Appointment.id,
        AppointmentEvent.kind == AppointmentStatus.CHECKED_IN.value,
        AppointmentEvent.channel.in_(UNSTAFFED),
    )
    # A profile a link made vouches only while that link stands: once removed (by staff, or the user), the
    # record's own phone decides again, not the one it had when the link was made.
    still_linked = exists().where(
        ReaderLink.account_id == Patient.account_id,
        ReaderLink.person_id == ProfileLink.person_id,
        ReaderLink.removed_at.is_(None),
    )
    came = exists().where(
        Appointment.patient_id == Patient.id,
        or_(
            Appointment.status == AppointmentStatus.COMPLETED.value,
            and_(Appointment.status == AppointmentStatus.CHECKED_IN.value, ~at_a_kiosk),
        ),
    )
    ids |= set(
        session.scalars(
            select(ProfileLink.person_id)
            .join(Patient, Patient.id == ProfileLink.patient_id)
            .where(Patient.phone == phone, or_(and_(ProfileLink.matched_by == VERIFIED_PROFILE, still_linked), came))
        )
    )
    found: dict[int, Person] = {}
    for person_id in sorted(ids):
        person = session.get(Person, person_id)
        if person is not None:
            root = index.survivor(session, person)
            found[root.id] = root
    return [found[key] for key in sorted(found)]


def age(person: Person, today: dt.date) -> int | None:
    """Completed years on ``today``; a partial birth date counts from its earliest day (1 January, or the 1st
    of the month), so that someone who may already be 16 is never taken for a child. None: no birth year."""
    if person.birth_year is None:
        return None
    month, day = person.birth_month or 1, person.birth_day or 1
    return today.year - person.birth_year - ((today.month, today.day) < (month, day))


def is_child(person: Person, today: dt.date) -> bool:
    """Under 16 (an unknown age is no child: a guardian reads only a record that is surely a child's)."""
    years = age(person, today)
    return years is not None and years < CHILD_AGE


def group(session: Session, root_id: int) -> list[int]:
    """The person ``root_id`` and every person merged (directly or through others) into it."""
    members = [root_id]
    frontier = [root_id]
    while frontier and len(members) < MAX_GROUP:
        frontier = [
            i for i in session.scalars(select(Person.id).where(Person.merged_into_id.in_(frontier))) if i not in members
        ]
        members += frontier
    return members


def visited(session: Session, root_id: int, hospital_id: int) -> bool:
    """The person (or one merged into it) has a visit at ``hospital_id``."""
    return (
        session.scalar(
            select(Visit.id)
            .where(Visit.person_id.in_(group(session, root_id)), Visit.hospital_id == hospital_id)
            .limit(1)
        )
        is not None
    )
