"""The master patient index: which person a visit's identity is.

MINIMAL STAND-IN written by the store branch so imports work before the mpi branch lands; mpi's
``core/emr/persons.py`` (CCCD, then social-insurance number, candidate and conflict matches) replaces this file
whole at merge. Only the signature of :func:`resolve_person` is shared: the CCCD claims a person through
``PersonIdentifier``; an identity without a known CCCD gets a new person.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.db import insert_ignoring_conflicts

from .models import IdentifierKind, Person, PersonIdentifier
from .records import Identity

PERSONS = Person.__table__
IDENTIFIERS = PersonIdentifier.__table__


def name_key(full_name: str) -> str:
    """Lower case, no diacritics, single spaces."""
    text = unicodedata.normalize("NFD", full_name.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.lower().split())


def resolve_person(session: Session, identity: Identity, *, facility_code: str, now: dt.datetime) -> int:
    """The id of the person ``identity`` is (created with its identifiers when none is known); no commit."""
    if identity.cccd:
        found = session.scalar(
            select(IDENTIFIERS.c.person_id).where(
                IDENTIFIERS.c.kind == IdentifierKind.CCCD.value,
                IDENTIFIERS.c.facility_code == "",
                IDENTIFIERS.c.value == identity.cccd,
            )
        )
        if found is not None:
            return found
    sins = identity.social_insurance_numbers
    person_id = session.execute(
        insert(PERSONS).returning(PERSONS.c.id),
        {
            "full_name": identity.full_name,
            "name_key": name_key(identity.full_name),
            "birth_year": identity.birth_year,
            "birth_month": identity.birth_month,
            "birth_day": identity.birth_day,
            "sex": identity.sex,
            "cccd": identity.cccd,
            "social_insurance_number": sins[0] if sins else None,
            "phone": identity.phone,
            "address": identity.address,
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one()
    if identity.cccd:
        # A plain insert: an import claiming the same CCCD at the same moment makes this one fail (IntegrityError
        # in the caller's savepoint), and the caller's retry then finds the person.
        session.execute(
            insert(IDENTIFIERS),
            {
                "person_id": person_id,
                "kind": IdentifierKind.CCCD.value,
                "facility_code": "",
                "value": identity.cccd,
                "created_at": now,
            },
        )
    rows = [(IdentifierKind.SOCIAL_INSURANCE.value, "", number) for number in sins]
    if identity.his_patient_code:
        rows.append((IdentifierKind.HIS_PATIENT.value, facility_code, identity.his_patient_code))
    if rows:
        statement = insert_ignoring_conflicts(
            session.get_bind().dialect.name, IDENTIFIERS, ["kind", "facility_code", "value"]
        )
        session.execute(
            statement,
            [
                {"person_id": person_id, "kind": kind, "facility_code": facility, "value": value, "created_at": now}
                for kind, facility, value in rows
            ],
        )
    return person_id
