"""The schema registry: every mapped model, core's and the Zalo channel's, imported in one place so that the
metadata (and Alembic, ``henkham/migrations``) sees the whole schema. It lives in the composition root, the one
package that may see both the domain and the channel."""

from bot.zalo_webhook.models import (  # noqa: F401
    Conversation,
    InboundEvent,
    NewsTagMirror,
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
from core.emr.models import (  # noqa: F401
    Allergy,
    CodeChallenge,
    ConsentDecision,
    CourseNote,
    Diagnosis,
    Document,
    Immunization,
    Import,
    ImportFile,
    ImportItem,
    Medication,
    NoneKnown,
    Person,
    PersonIdentifier,
    PersonMatch,
    ProfileLink,
    ReaderLink,
    ReExamSlip,
    Result,
    ResultNoticeRow,
    Service,
    Visit,
)
from core.emr.subject_requests import DataSubjectRequest  # noqa: F401
from core.figures.models import DailyFigure  # noqa: F401
from core.news.models import Campaign, CampaignRecipient, NewsSubscription  # noqa: F401
from core.reminders.models import ReExam, Reminder  # noqa: F401
from core.staff.models import ReceptionTiming, StaffAccount, StaffAction  # noqa: F401

metadata = Base.metadata
