"""Every mapped model, imported in one place so that metadata (and Alembic) sees the whole schema.

The one place core imports the chat side: the schema registry must see every table.
"""

from bot.zalo_webhook.models import (  # noqa: F401
    Conversation,
    DataSubjectRequest,
    InboundEvent,
    OutboundMessage,
    RateBucket,
    ZaloOA,
)
from core.access import ApiKey  # noqa: F401
from core.audit import AccessAudit  # noqa: F401
from core.booking.faq import HospitalFaq  # noqa: F401
from core.booking.models import (  # noqa: F401
    Account,
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
from core.news.models import Campaign, CampaignRecipient, NewsSubscription, NewsTagMirror  # noqa: F401
from core.reminders.models import ReExam, Reminder  # noqa: F401

metadata = Base.metadata
