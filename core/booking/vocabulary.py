"""The booking's vocabulary: the values a status, a part of day, a kind of visit or a relationship may take.

Plain enums, free of the database: the chat's actions and the entry points name them without reaching for the
ORM models (``core.booking.models`` re-exports them, as the mapped columns use them)."""

from __future__ import annotations

import enum


class PartOfDay(enum.StrEnum):
    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"


class AppointmentStatus(enum.StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class CancelledBy(enum.StrEnum):
    PATIENT = "patient"
    HOSPITAL = "hospital"


class VisitKind(enum.StrEnum):
    INSURANCE = "insurance"  # BHYT
    SERVICE = "service"


class Sex(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"


class Relationship(enum.StrEnum):
    SELF = "self"
    CHILD = "child"
    PARENT = "parent"
    SPOUSE = "spouse"
    OTHER = "other"
