"""Every mapped model, imported in one place so that metadata (and Alembic) sees the whole schema."""

from core.booking.models import (  # noqa: F401
    Account,
    ApiKey,
    Appointment,
    AppointmentEvent,
    Closure,
    Department,
    Doctor,
    Hospital,
    Patient,
    Schedule,
    Slot,
    VisitType,
)
from core.db import Base

metadata = Base.metadata
