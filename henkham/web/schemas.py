"""Request and response shapes of /api/v1 (pydantic; APIFlask validates them and documents them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, StrictInt, model_validator

from core.booking.views import (
    AppointmentView,
    CheckInResult,
    DepartmentView,
    DoctorView,
    HospitalView,
    PatientView,
    SlotView,
    VisitTypeView,
)
from core.booking.vocabulary import Relationship
from core.inputs import IsoDate, Strict
from core.reminders.views import ReExamView

MAX_ID = 2**31 - 1  # database ids are 32-bit integers


class SlotQuery(Strict):
    date: IsoDate | None = Field(None, description="Only this local date (YYYY-MM-DD)")
    part_of_day: Literal["morning", "afternoon", "evening"] | None = None
    doctor_id: int | None = Field(None, gt=0, le=MAX_ID)
    limit: int = Field(5, ge=1, le=50)


class DoctorQuery(Strict):
    department: str | None = Field(None, max_length=40)


class PatientIn(Strict):
    full_name: str = Field(min_length=2, max_length=120)
    date_of_birth: IsoDate
    sex: Literal["male", "female"]
    phone: str = Field(min_length=9, max_length=20, description="Vietnamese mobile, e.g. 0912345678 or 84912345678")
    relation: Relationship = Field(Relationship.SELF, description="Who the profile is to the account, as said")
    cccd: str | None = Field(None, max_length=20)
    insurance_number: str | None = Field(None, max_length=20)
    address: str = Field("", max_length=300)


class BookingIn(Strict):
    slot_id: StrictInt = Field(gt=0, le=MAX_ID)
    patient_id: StrictInt = Field(gt=0, le=MAX_ID)
    visit_type: str | None = Field(None, max_length=40, description="A visit type code of the hospital")
    reason: str = Field("", max_length=2000, description="Symptoms or the reason for the visit, in the patient's words")


class CancelIn(Strict):
    reason: str = Field("", max_length=300)
    by: Literal["patient", "hospital"] = "patient"


class RescheduleIn(Strict):
    slot_id: StrictInt = Field(gt=0, le=MAX_ID)


class UpcomingQuery(Strict):
    upcoming: bool = False


class CheckInIn(Strict):
    code: str | None = Field(None, max_length=20, description="The booking code")
    phone: str | None = Field(None, max_length=20, description="Fallback: the patient's phone…")
    date: IsoDate | None = Field(None, description="…and the appointment date (default: today)")

    @model_validator(mode="after")
    def _one_way(self) -> CheckInIn:
        if bool(self.code) == bool(self.phone):
            raise ValueError("give either code, or phone (with an optional date)")
        return self


class ReExamIn(Strict):
    patient_id: StrictInt = Field(gt=0, le=MAX_ID)
    due_date: IsoDate = Field(description="The date the doctor asked the patient to come back (local)")
    department: str | None = Field(None, max_length=40, description="Department slug, if the doctor named one")
    hospital: str | None = Field(None, max_length=64, description="Hospital slug (a client bound to one: its own)")
    note: str = Field("", max_length=1000, description="The doctor's note, shown to the patient")


class ReExamList(BaseModel):
    re_exams: list[ReExamView]


class HospitalList(BaseModel):
    hospitals: list[HospitalView]


class DepartmentList(BaseModel):
    departments: list[DepartmentView]


class DoctorList(BaseModel):
    doctors: list[DoctorView]


class VisitTypeList(BaseModel):
    visit_types: list[VisitTypeView]


class SlotList(BaseModel):
    slots: list[SlotView]


class PatientList(BaseModel):
    patients: list[PatientView]


class AppointmentList(BaseModel):
    appointments: list[AppointmentView]


__all__ = ["AppointmentView", "CheckInResult", "HospitalView", "PatientView"]
