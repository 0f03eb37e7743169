"""Data-subject requests: a person's requests about their personal data, answered within 2 working days.

Vietnamese personal-data law (Decree 13/2023, then Law 91/2025 and Decree 356/2025) gives the data subject the
right to withdraw consent, to get a copy of their data, to have it corrected or deleted; a request is answered
within 2 working days. The request is a core record (this module's table) that any channel writes into: the Zalo
channel records Zalo's ``user_withdraw`` event and a withdrawal of consent typed in chat
(bot/zalo_webhook/subject_requests.py), with the channel's address of the requester (``oa_id`` and ``user_id``,
opaque strings to core) and the hospital whose staff answer it (None: an OA serving every hospital here, whose
requests every hospital's records staff see).

The deadline rule, :func:`due_at`: the request is due at the end (24:00, Asia/Ho_Chi_Minh) of the second working
day after the day it was received. Working days are Monday to Friday except the fixed-date public holidays of
the Labour Code (1/1, 30/4, 1/5, 2/9), the extra days the deployment configures (``HENKHAM_RECORDS_HOLIDAYS``:
Tết and the Hùng Kings' day follow the lunar calendar, the day next to 2/9 and swapped days are decided each
year) and the hospital's own whole-hospital closures (core.booking ``Closure`` rows without a department or a
doctor). Staff close a request as done or refused with a reason; who and when are recorded.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ForeignKey, Index, String, Text, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from core.booking.models import Closure
from core.db import Base
from core.errors import Conflict, InvalidInput, NotFound
from core.tenancy import OtherHospital
from core.timeutil import LOCAL_TZ, UTC, ensure_utc, to_local, utcnow
from core.uow import UnitOfWork

WORKING_DAYS = 2
FIXED_HOLIDAYS = ((1, 1), (4, 30), (5, 1), (9, 2))  # (month, day): the Labour Code's fixed-date holidays
MAX_LISTED = 500
REASON_MAX = 500


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    REFUSED = "refused"


class RequestKind(enum.StrEnum):
    WITHDRAW = "withdraw"  # Zalo's user_withdraw event: the user withdrew their data from the OA
    CONSENT_WITHDRAWAL = "consent_withdrawal"  # "rút lại đồng ý" in chat (applied at once; staff follow up)
    COPY = "copy"  # a copy of their data or record
    CORRECTION = "correction"
    DELETION = "deletion"


KIND_NAMES_VI = {
    RequestKind.WITHDRAW: "Rút dữ liệu khỏi OA (Zalo)",
    RequestKind.CONSENT_WITHDRAWAL: "Rút lại đồng ý xử lý dữ liệu",
    RequestKind.COPY: "Xin bản sao dữ liệu",
    RequestKind.CORRECTION: "Chỉnh sửa dữ liệu",
    RequestKind.DELETION: "Xóa dữ liệu",
}


class DataSubjectRequest(Base):
    """A data subject's request, for records staff to answer within 2 working days."""

    __tablename__ = "data_subject_requests"
    __table_args__ = (Index("ix_data_subject_requests_hospital_status", "hospital_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    oa_id: Mapped[str] = mapped_column(String(40))  # the channel's address of the requester (opaque here)
    user_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default=RequestStatus.OPEN.value)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"))  # None: every hospital's staff
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    channel: Mapped[str] = mapped_column(String(20), default="zalo", server_default="zalo")
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decision_reason: Mapped[str] = mapped_column(Text, default="", server_default="")


# --- the deadline rule ------------------------------------------------------------------------------------------


def is_working_day(day: dt.date, extra_holidays: Iterable[dt.date] = ()) -> bool:
    """Monday to Friday, not a fixed-date public holiday, not one of ``extra_holidays``."""
    if day.weekday() >= 5 or (day.month, day.day) in FIXED_HOLIDAYS:
        return False
    return day not in set(extra_holidays)


def due_at(received_at: dt.datetime, extra_holidays: Iterable[dt.date] = ()) -> dt.datetime:
    """The end (24:00 local) of the second working day after the local day of ``received_at``, in UTC."""
    closed = set(extra_holidays)
    day = to_local(received_at).date()
    counted = 0
    while counted < WORKING_DAYS:
        day += dt.timedelta(days=1)
        if is_working_day(day, closed):
            counted += 1
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=LOCAL_TZ)
    return end.astimezone(UTC)


def closure_days(uow: UnitOfWork, hospital_id: int | None, since: dt.date, until: dt.date) -> set[dt.date]:
    """The days between ``since`` and ``until`` the hospital is closed as a whole (its own closures)."""
    if hospital_id is None:
        return set()
    rows = uow.session.execute(
        select(Closure.start_date, Closure.end_date).where(
            Closure.hospital_id == hospital_id,
            Closure.department_id.is_(None),
            Closure.doctor_id.is_(None),
            Closure.start_date <= until,
            Closure.end_date >= since,
        )
    ).all()
    days: set[dt.date] = set()
    for start, end in rows:
        day = max(start, since)
        while day <= min(end, until):
            days.add(day)
            day += dt.timedelta(days=1)
    return days


# --- recording and listing ---------------------------------------------------------------------------------------


def record_request(
    uow: UnitOfWork,
    *,
    kind: str,
    oa_id: str,
    user_id: str,
    hospital_id: int | None,
    account_id: int | None = None,
    channel: str = "zalo",
    detail: str = "",
    now: dt.datetime | None = None,
) -> DataSubjectRequest:
    """Add a request to ``uow`` (the caller commits, with whatever else it did)."""
    if kind not in {k.value for k in RequestKind}:
        raise InvalidInput(f"unknown request kind {kind[:30]!r}", "Loại yêu cầu không hợp lệ.", field="kind")
    row = DataSubjectRequest(
        oa_id=oa_id[:40],
        user_id=user_id[:40],
        kind=kind,
        detail=detail,
        hospital_id=hospital_id,
        account_id=account_id,
        channel=channel[:20],
        received_at=now or utcnow(),
    )
    uow.session.add(row)
    return row


@dataclass(frozen=True)
class RequestView:
    id: int
    kind: str
    kind_vi: str
    channel: str
    requester: str  # the channel's address, shortened (enough to find the conversation, not an identifier)
    detail: str
    status: str
    received_at: dt.datetime
    due_at: dt.datetime
    overdue: bool
    province_wide: bool  # made to an OA serving every hospital
    decided_at: dt.datetime | None
    decided_by: str | None
    decision_reason: str


def _requester(row: DataSubjectRequest) -> str:
    user = row.user_id or ""
    return f"Zalo …{user[-6:]}" if row.channel == "zalo" else f"{row.channel} …{user[-6:]}"


def _view(row: DataSubjectRequest, holidays: set[dt.date], now: dt.datetime) -> RequestView:
    due = due_at(row.received_at, holidays)
    return RequestView(
        id=row.id,
        kind=row.kind,
        kind_vi=KIND_NAMES_VI.get(row.kind, row.kind),  # type: ignore[call-overload]
        channel=row.channel,
        requester=_requester(row),
        detail=row.detail or "",
        status=row.status,
        received_at=ensure_utc(row.received_at),
        due_at=due,
        overdue=row.status == RequestStatus.OPEN.value and due <= now,
        province_wide=row.hospital_id is None,
        decided_at=ensure_utc(row.decided_at) if row.decided_at else None,
        decided_by=row.decided_by,
        decision_reason=row.decision_reason or "",
    )


def _holidays(uow: UnitOfWork, hospital_id: int, rows: list[DataSubjectRequest], extra: Iterable[dt.date]):
    if not rows:
        return set(extra)
    since = min(to_local(r.received_at).date() for r in rows)
    until = max(to_local(r.received_at).date() for r in rows) + dt.timedelta(days=60)
    return set(extra) | closure_days(uow, hospital_id, since, until)


def _visible(hospital_id: int):
    return or_(DataSubjectRequest.hospital_id == hospital_id, DataSubjectRequest.hospital_id.is_(None))


def list_requests(
    uow: UnitOfWork,
    hospital_id: int,
    *,
    status: str = RequestStatus.OPEN.value,
    extra_holidays: Iterable[dt.date] = (),
    now: dt.datetime | None = None,
) -> list[RequestView]:
    """The hospital's requests (and the province-wide OA's) of ``status``. Open ones: overdue first, then by
    due time; closed ones: the latest decided first."""
    if status not in {s.value for s in RequestStatus}:
        raise InvalidInput("status must be open, done or refused", "Trạng thái không hợp lệ.", field="status")
    at = now or utcnow()
    query = select(DataSubjectRequest).where(_visible(hospital_id), DataSubjectRequest.status == status)
    if status == RequestStatus.OPEN.value:
        query = query.order_by(DataSubjectRequest.received_at, DataSubjectRequest.id)
    else:
        query = query.order_by(DataSubjectRequest.decided_at.desc(), DataSubjectRequest.id.desc())
    rows = list(uow.session.scalars(query.limit(MAX_LISTED)))
    holidays = _holidays(uow, hospital_id, rows, extra_holidays)
    views = [_view(r, holidays, at) for r in rows]
    if status == RequestStatus.OPEN.value:
        views.sort(key=lambda v: (not v.overdue, v.due_at, v.id))
    return views


def decide_request(
    uow: UnitOfWork,
    request_id: int,
    hospital_id: int,
    *,
    done: bool,
    by: str,
    reason: str = "",
    now: dt.datetime | None = None,
) -> DataSubjectRequest:
    """Close an open request as done, or refused with a reason (who and when recorded; the caller commits).
    Another hospital's request: OtherHospital (403); unknown: NotFound; already closed: Conflict."""
    row = uow.session.scalar(select(DataSubjectRequest).where(DataSubjectRequest.id == request_id).with_for_update())
    if row is None:
        raise NotFound(f"no data-subject request {request_id}", "Không có yêu cầu này.")
    if row.hospital_id is not None and row.hospital_id != hospital_id:
        raise OtherHospital("request")
    if row.status != RequestStatus.OPEN.value:
        raise Conflict(f"request {request_id} is already {row.status}", "Yêu cầu này đã được xử lý.")
    reason = (reason or "").strip()
    if not done and not reason:
        raise InvalidInput("a refusal needs a reason", "Cần ghi lý do từ chối.", field="reason")
    row.status = RequestStatus.DONE.value if done else RequestStatus.REFUSED.value
    row.decided_at = now or utcnow()
    row.decided_by = (by or "")[:80]
    row.decision_reason = reason[:REASON_MAX]
    uow.session.flush()
    return row
