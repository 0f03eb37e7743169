"""Booking profiles (core.booking patients) and the persons of the master patient index they are.

A profile is a person when its CCCD, or its insurance card (a CCCD, a 10-digit social-insurance number, or a
15-character card whose last 10 characters are that number), is an identifier the person holds in
``PersonIdentifier`` (a claim, never a conflicting person's mere mention). A profile links to one person:
the first found keeps it; a merge moves the links (core/emr/matches.py).

Both directions: profiles made before a visit are linked by the index itself (core/emr/persons.py: its first
look-up finds the profiles the visit's identifiers name, linked when the person holds the identifier);
:func:`link_profiles` does the same for every identifier of a person (idempotent, one statement: after a merge,
or by an importer that wants to be sure); :func:`link_patient` when a profile is created or its CCCD/card
changes (core/booking/patients.py: profiles made after the import).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CompoundSelect, and_, bindparam, func, literal, literal_column, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.booking.models import Patient
from core.timeutil import utcnow

from .models import IdentifierKind, Person, PersonIdentifier, ProfileLink

CCCD = IdentifierKind.CCCD.value
SIN = IdentifierKind.SOCIAL_INSURANCE.value
# The social-insurance number inside a 15-character card (characters 6 to 15), as ix_patients_insurance_sin
# indexes it (constants, not parameters: the index is on this very expression).
CARD_SIN = func.substr(Patient.__table__.c.insurance_number, literal_column("6"), literal_column("10"))


def card_keys(cccd: str | None, card: str | None) -> list[tuple[str, str]]:
    """(kind, value) of the identifiers a profile's CCCD and card name, CCCD first."""
    keys: list[tuple[str, str]] = []
    for value in (cccd, card):
        if value and len(value) == 12 and value.isdigit() and (CCCD, value) not in keys:
            keys.append((CCCD, value))
    if card and len(card) in (10, 15) and card[-10:].isdigit():
        keys.append((SIN, card[-10:]))
    return keys


def link_profiles(session: Session, person_id: int, *, now: dt.datetime | None = None) -> list[int]:
    """Link every booking profile whose CCCD or card matches an identifier of ``person_id``; returns the ids of
    the profiles linked to the person now (old links included), idempotent. One statement when nothing is new
    (the importer calls it for every visit)."""
    found: dict[int, str] = {}
    linked: set[int] = set()
    for patient_id, matched_by, owner in session.execute(_LINKABLE, {"person_id": person_id}):
        if owner == person_id:
            linked.add(patient_id)
        elif owner is None and (found.get(patient_id) != CCCD):
            found[patient_id] = matched_by
    for patient_id, matched_by in found.items():
        insert_link(session, patient_id, person_id, matched_by, now or utcnow())
    return sorted(linked | set(found))


def link_patient(session: Session, patient_id: int, *, now: dt.datetime | None = None) -> int | None:
    """Link the profile ``patient_id`` to the person its CCCD or card names (by CCCD first), re-linked when
    that changed, unlinked when it names nobody any more; returns the person's id (None: nobody)."""
    row = session.execute(select(Patient.cccd, Patient.insurance_number).where(Patient.id == patient_id)).first()
    keys = card_keys(row.cccd, row.insurance_number) if row is not None else []
    person_id, matched_by = None, ""
    for kind, value in keys:
        holder = session.scalar(
            select(PersonIdentifier.person_id).where(
                PersonIdentifier.kind == kind, PersonIdentifier.facility_code == "", PersonIdentifier.value == value
            )
        )
        if holder is not None:
            person_id, matched_by = _survivor_id(session, holder), kind
            break
    link = session.get(ProfileLink, patient_id)
    if link is not None and (person_id is None or link.person_id != person_id):
        session.delete(link)
        session.flush()
        link = None
    if person_id is not None and link is None:
        insert_link(session, patient_id, person_id, matched_by, now or utcnow())
    return person_id


def _survivor_id(session: Session, person_id: int) -> int:
    seen = {person_id}
    while (merged_into := session.scalar(select(Person.merged_into_id).where(Person.id == person_id))) is not None:
        if merged_into in seen:
            break
        person_id = merged_into
        seen.add(person_id)
    return person_id


def insert_link(session: Session, patient_id: int, person_id: int, matched_by: str, now: dt.datetime) -> None:
    """One link, in a SAVEPOINT of its own: a concurrent import that linked the profile first wins."""
    try:
        with session.begin_nested():
            session.add(ProfileLink(patient_id=patient_id, person_id=person_id, matched_by=matched_by, linked_at=now))
    except IntegrityError:
        pass


def _linkable() -> CompoundSelect:
    """(patient id, matched by, the person it is linked to or None) of every profile whose CCCD or card is an
    identifier the person holds, and of every profile linked to the person: one UNION of indexed look-ups."""
    ident = PersonIdentifier.__table__.alias("i")
    link = ProfileLink.__table__
    patients = Patient.__table__
    card_sin = CARD_SIN
    ways = (
        (CCCD, patients.c.cccd),
        (CCCD, patients.c.insurance_number),
        (SIN, patients.c.insurance_number),
        (SIN, card_sin),
    )
    branches = [
        select(patients.c.id, literal(kind).label("matched_by"), link.c.person_id)
        .select_from(patients)
        .join(ident, and_(ident.c.value == column, ident.c.kind == kind, ident.c.facility_code == ""))
        .outerjoin(link, link.c.patient_id == patients.c.id)
        .where(ident.c.person_id == bindparam("person_id"))
        for kind, column in ways
    ]
    branches.append(
        select(link.c.patient_id, link.c.matched_by, link.c.person_id).where(link.c.person_id == bindparam("person_id"))
    )
    return union_all(*branches)


_LINKABLE = _linkable()
