"""A linked reader's booking profile of the person: how re-exam reminders (XML14) reach chat-linked users.

On a new record link (core/emr/record_access.py) the account gets a booking profile of the person when it has
none linked to the person yet: made from the record's identity (name, birth date, sex, phone, CCCD), linked to
the person (``ProfileLink`` matched by "zalo"), then the person's re-exam slips are synced
(core.emr.reexam_sync.sync_person), so the existing reminder machinery reminds the account.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, select

from core.booking import patients
from core.booking.models import Patient, Relationship
from core.errors import InvalidInput
from core.identifiers import validate_cccd
from core.uow import UnitOfWork

from .models import Person, ProfileLink
from .phone_holders import VERIFIED_PROFILE, group
from .profiles import insert_link
from .reexam_sync import sync_person

log = logging.getLogger(__name__)

MATCHED_BY = VERIFIED_PROFILE


def give_profile(
    uow: UnitOfWork, account_id: int, person: Person, *, relation: str, phone: str | None, now: dt.datetime
) -> int | None:
    """The account's booking profile of ``person`` (a survivor), made and linked when it has none; then the
    person's re-exams are synced. ``relation`` is the reader link's ("self" / "guardian": the profile is the
    account's own or its child's). None when the record lacks what a profile needs (a birth year, the sex, a
    phone): the link stands, only reminders cannot follow. Commits (the profile service commits)."""
    session = uow.session
    members = group(session, person.id)
    patient_id = session.scalar(
        select(Patient.id)
        .join(ProfileLink, ProfileLink.patient_id == Patient.id)
        .where(Patient.account_id == account_id, ProfileLink.person_id.in_(members))
        .order_by(Patient.id)
        .limit(1)
    )
    if patient_id is None:
        patient_id = _new_profile(uow, account_id, person, relation=relation, phone=phone or person.phone)
        if patient_id is None:
            return None
        if session.get(ProfileLink, patient_id) is None:
            insert_link(session, patient_id, person.id, MATCHED_BY, now)
    sync_person(session, person.id, now)
    uow.commit()
    return patient_id


def _new_profile(uow: UnitOfWork, account_id: int, person: Person, *, relation: str, phone: str | None) -> int | None:
    if person.birth_year is None or person.sex not in ("male", "female") or not phone:
        log.info("no booking profile for linked person %s: the record lacks a birth year, sex or phone", person.id)
        return None
    # A partial birth date (year, or month and year, as many records have) becomes the 1st of its month or of
    # January: a profile needs a full date, and the record keeps the precise part.
    born = dt.date(person.birth_year, person.birth_month or 1, person.birth_day or 1)
    cccd = _valid_cccd(person.cccd, born, person.sex)
    try:
        view, _ = patients.register_patient(
            uow,
            account_id=account_id,
            full_name=person.full_name,
            date_of_birth=born,
            sex=person.sex,
            phone=phone,
            relation=Relationship.CHILD.value if relation == "guardian" else Relationship.SELF.value,
            cccd=cccd,
        )
    except InvalidInput as error:
        log.info("no booking profile for linked person %s: %s", person.id, error.message)
        return None
    return view.id


def _valid_cccd(cccd: str | None, born: dt.date, sex: str) -> str | None:
    """The record's CCCD when the profile rules accept it with this birth date and sex (else the profile has none)."""
    if not cccd:
        return None
    try:
        return validate_cccd(cccd, date_of_birth=born, sex=sex)
    except InvalidInput:
        return None


def take_back_profile(uow: UnitOfWork, account_id: int, person: Person, *, now: dt.datetime) -> int:
    """A removed link takes back what it gave (nothing is pushed to the account any more): the account's
    profiles linked to ``person`` (a survivor) *by a link* (matched by "zalo") are the person's no longer, and
    their re-exam reminders are cancelled. A profile the account made itself and the index matched (by CCCD or
    card) stays linked. The caller commits. Returns how many profile links went."""
    session = uow.session
    members = group(session, person.id)
    owned = select(Patient.id).where(Patient.account_id == account_id)
    gone = session.execute(
        delete(ProfileLink).where(
            ProfileLink.patient_id.in_(owned),
            ProfileLink.person_id.in_(members),
            ProfileLink.matched_by == MATCHED_BY,
        )
    ).rowcount
    if gone:
        sync_person(session, person.id, now)
    return gone
