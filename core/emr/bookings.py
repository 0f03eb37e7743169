"""A person's appointments and re-exam dates: those of the booking profiles linked to the person
(``emr_profile_links``, by CCCD or insurance number), for the FHIR export's Appointment resources.

Re-exam dates that came from the record itself (an imported XML14 slip, ``source`` "emr") are left out: the
record exports its slips already. Read through the booking and reminder services, so confinement and audit are
theirs: a client bound to a hospital sees that hospital's appointments and re-exams only, and each read is
audited like any other.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from core.booking import appointments
from core.booking.views import AppointmentView
from core.reminders import reexams
from core.reminders.views import ReExamView
from core.uow import UnitOfWork

from .models import Person, ProfileLink
from .reexam_sync import SOURCE as RECORD_SOURCE


def linked_profiles(uow: UnitOfWork, person_id: int) -> list[int]:
    """The booking patients linked to the person or to a person merged into it."""
    merged = select(Person.id).where(Person.merged_into_id == person_id)
    query = (
        select(ProfileLink.patient_id)
        .where(or_(ProfileLink.person_id == person_id, ProfileLink.person_id.in_(merged)))
        .order_by(ProfileLink.patient_id)
    )
    return list(uow.session.scalars(query))


def person_bookings(uow: UnitOfWork, person_id: int) -> tuple[list[AppointmentView], list[ReExamView]]:
    """The appointments (newest first) and re-exam dates of the person's linked booking profiles (those a
    doctor recorded by hand or through the API, not those synced from the record's own slips)."""
    found_appointments: list[AppointmentView] = []
    found_re_exams: list[ReExamView] = []
    for patient_id in linked_profiles(uow, person_id):
        found_appointments += appointments.patient_appointments(uow, patient_id)
        found_re_exams += [r for r in reexams.patient_re_exams(uow, patient_id) if r.source != RECORD_SOURCE]
    return found_appointments, found_re_exams
