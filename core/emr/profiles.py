"""Booking profiles (core.booking patients) and the persons of the master patient index they are.

A profile is a person when its CCCD, or its insurance card (a CCCD, a 10-digit social-insurance number, or a
15-character card whose last 10 characters are that number), is an identifier the person holds in
``PersonIdentifier`` (a claim, never a conflicting person's mere mention). A profile links to one person:
the first found keeps it; a merge moves the links (core/emr/matches.py).

Both directions: :func:`link_profiles` after a visit is stored (the importer calls it: profiles made before the
import), :func:`link_patient` when a profile is created or its CCCD/card changes (core/booking/patients.py:
profiles made after the import). Both are idempotent; each is two or three indexed queries.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, literal_column, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.booking.models import Patient
from core.timeutil import utcnow

from .models import IdentifierKind, Person, PersonIdentifier, ProfileLink

CCCD = IdentifierKind.CCCD.value
SIN = IdentifierKind.SOCIAL_INSURANCE.value


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
    the profiles linked to the person now (old links included), idempotent."""
    held = session.execute(
        select(PersonIdentifier.kind, PersonIdentifier.value).where(
            PersonIdentifier.person_id == person_id, PersonIdentifier.kind.in_((CCCD, SIN))
        )
    ).all()
    cccds = [value for kind, value in held if kind == CCCD]
    sins = [value for kind, value in held if kind == SIN]
    found: dict[int, str] = {}
    if cccds or sins:
        conditions = []
        if cccds:
            conditions += [Patient.cccd.in_(cccds), Patient.insurance_number.in_(cccds)]
        if sins:
            conditions += [Patient.insurance_number.in_(sins), _CARD_SIN.in_(sins)]
        for patient_id, cccd, card in session.execute(
            select(Patient.id, Patient.cccd, Patient.insurance_number).where(or_(*conditions))
        ):
            keys = card_keys(cccd, card)
            found[patient_id] = CCCD if any(k == CCCD and v in cccds for k, v in keys) else SIN
    linked = dict(
        session.execute(
            select(ProfileLink.patient_id, ProfileLink.person_id).where(
                or_(ProfileLink.person_id == person_id, ProfileLink.patient_id.in_(list(found)))
            )
        ).all()
    )
    new = [patient_id for patient_id in found if patient_id not in linked]
    for patient_id in new:
        _insert(session, patient_id, person_id, found[patient_id], now or utcnow())
    return sorted({p for p, owner in linked.items() if owner == person_id} | set(new))


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
        _insert(session, patient_id, person_id, matched_by, now or utcnow())
    return person_id


def _survivor_id(session: Session, person_id: int) -> int:
    seen = {person_id}
    while (merged_into := session.scalar(select(Person.merged_into_id).where(Person.id == person_id))) is not None:
        if merged_into in seen:
            break
        person_id = merged_into
        seen.add(person_id)
    return person_id


def _insert(session: Session, patient_id: int, person_id: int, matched_by: str, now: dt.datetime) -> None:
    """One link, in a SAVEPOINT of its own: a concurrent import that linked the profile first wins."""
    try:
        with session.begin_nested():
            session.add(ProfileLink(patient_id=patient_id, person_id=person_id, matched_by=matched_by, linked_at=now))
    except IntegrityError:
        pass


# The social-insurance number inside a 15-character card (characters 6 to 15); indexed (ix_patients_insurance_sin).
_CARD_SIN = func.substr(Patient.insurance_number, literal_column("6"), literal_column("10"))
