"""Tenancy: a client confined to one hospital reaches that hospital's records only.

The rule is written here once. The entry point puts who acts on the unit of work (``uow.actor``, whose
``hospital_id`` is the hospital its key is restricted to); every look-up of a record that belongs to a hospital
(an appointment, a slot, a re-exam, a campaign, a conversation through its OA, a patient through their visits)
passes through :func:`ensure_same_hospital` or :func:`ensure_patient_visible`. A unit of work without an actor,
or an actor of any hospital, is not confined.
"""

from __future__ import annotations

from sqlalchemy import bindparam, exists, or_, select

from core.booking.models import APPOINTMENTS
from core.errors import DomainError
from core.reminders.models import ReExam


class OtherHospital(DomainError):
    """The record exists but belongs to a hospital the client is not bound to. The answer names nothing of it."""

    code = "forbidden"

    def __init__(self, kind: str) -> None:
        super().__init__(
            "this client is bound to another hospital"
            if kind == "hospital"
            else f"this {kind} belongs to another hospital than this client's",
            "Dạ, thông tin này thuộc bệnh viện khác nên ứng dụng không truy cập được ạ.",
        )


def confinement(uow, hospital_id: int | None = None) -> int | None:
    """The hospital a look-up is confined to: the one the caller names, else the actor's (None: any)."""
    return hospital_id if hospital_id is not None else uow.hospital_id


def ensure_same_hospital(uow, record_hospital_id: int | None, kind: str, hospital_id: int | None = None) -> None:
    """Refuse (403) a record of another hospital than the one the unit of work is confined to."""
    confined = confinement(uow, hospital_id)
    if confined is not None and record_hospital_id != confined:
        raise OtherHospital(kind)


def ensure_patient_visible(uow, patient_id: int, hospital_id: int | None = None) -> None:
    """A patient belongs to an account, not to a hospital: a confined client acting for its hospital (not for
    the patient's own account) sees a patient only once they have a visit or a re-exam date there."""
    confined = confinement(uow, hospital_id)
    if confined is None:
        return
    if not uow.session.scalar(_PATIENT_KNOWN, {"patient_id": patient_id, "hospital_id": confined}):
        raise OtherHospital("patient")


_RE_EXAMS = ReExam.__table__
_PATIENT_KNOWN = select(
    or_(
        exists().where(
            APPOINTMENTS.c.patient_id == bindparam("patient_id"),
            APPOINTMENTS.c.hospital_id == bindparam("hospital_id"),
        ),
        exists().where(
            _RE_EXAMS.c.patient_id == bindparam("patient_id"), _RE_EXAMS.c.hospital_id == bindparam("hospital_id")
        ),
    )
)
