"""Figures for a hospital, or for the province (every hospital), over a date range grouped by day, week or
month: read from the daily roll-ups only (one grouped query), so a province's year stays fast.

All visits are a hospital's HIS visits when it has imports in the range, else its check-ins (``visits_source``
says which, per scope: "his", "checkins" or "mixed"). Medians and p90 come from the summed daily histograms
(:mod:`core.figures.histogram`). :func:`to_csv` writes the same numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, text

from core import tenancy
from core.booking.models import DEPARTMENTS, HOSPITALS
from core.errors import InvalidInput
from core.staff.models import StaffAccount
from core.uow import UnitOfWork

from .histogram import percentile
from .models import DAILY_FIGURES
from .rollup import DAY, FINAL, WEEK, month_of, period_end, week_of

GROUPINGS = ("day", "week", "month")
MAX_DAYS = 366 * 2
ONLINE_CHANNELS = ("zalo", "mini_app", "kiosk")
CHANNEL_NAMES_VI = {
    "zalo": "Chat Zalo",
    "mini_app": "Zalo Mini App",
    "kiosk": "Ki-ốt",
    "api": "API",
    "his": "HIS",
    "admin": "Quản trị",
    "cli": "Dòng lệnh",
    "staff": "Tại quầy",
    "inbox": "Hộp thư",
    "demo": "Dữ liệu mẫu",
}
REMINDER_CHANNELS_VI = {"chat": "Chat Zalo", "zns": "ZNS", "pending": "Đang gửi", "undeliverable": "Không gửi được"}
NO_SHOW_GROUPS_VI = {"confirmed": "Đã xác nhận", "reminded": "Được nhắc, chưa xác nhận", "none": "Không được nhắc"}
VISITS_SOURCE_VI = {
    "his": "Tổng lượt khám theo dữ liệu HIS gửi về.",
    "checkins": "Bệnh viện chưa gửi dữ liệu HIS: tổng lượt khám tính theo lượt tiếp đón (check-in).",
    "mixed": "Tổng lượt khám theo dữ liệu HIS ở bệnh viện đã gửi về, theo lượt tiếp đón ở bệnh viện chưa gửi.",
    "none": "Chưa có lượt khám nào trong khoảng này.",
}


@dataclass(frozen=True)
class Distribution:
    count: int
    median: int | None
    p90: int | None

    @classmethod
    def of(cls, counts: Counter[int]) -> Distribution:
        return cls(sum(counts.values()), percentile(counts, 0.5), percentile(counts, 0.9))


@dataclass
class PeriodFigures:
    """The figures of one period (or of the whole range)."""

    start: dt.date
    label: str
    online_visits: int = 0
    all_visits: int = 0
    arrivals_by_channel: dict[str, int] = field(default_factory=dict)
    reception: Distribution = Distribution(0, None, None)
    reception_by: dict[str, Distribution] = field(default_factory=dict)  # receptionist · desk, or hospital
    due: int = 0
    no_shows: int = 0
    due_by_group: dict[str, int] = field(default_factory=dict)
    no_shows_by_group: dict[str, int] = field(default_factory=dict)
    bookings_by_channel: dict[str, int] = field(default_factory=dict)
    bookings_by_department: dict[str, int] = field(default_factory=dict)
    lead_days: Distribution = Distribution(0, None, None)
    conversations: int = 0
    conversations_booked: int = 0
    user_messages: int = 0
    not_understood: int = 0
    handoffs: int = 0
    first_reply: Distribution = Distribution(0, None, None)
    reminders_by_channel: dict[str, int] = field(default_factory=dict)
    undeliverable_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def online_share(self) -> float | None:
        return _ratio(self.online_visits, self.all_visits)

    @property
    def no_show_rate(self) -> float | None:
        return _ratio(self.no_shows, self.due)

    def no_show_rate_of(self, group: str) -> float | None:
        return _ratio(self.no_shows_by_group.get(group, 0), self.due_by_group.get(group, 0))

    @property
    def bookings(self) -> int:
        return sum(self.bookings_by_channel.values())

    @property
    def booked_share(self) -> float | None:
        return _ratio(self.conversations_booked, self.conversations)

    @property
    def not_understood_rate(self) -> float | None:
        return _ratio(self.not_understood, self.user_messages)

    @property
    def handoff_rate(self) -> float | None:
        return _ratio(self.handoffs, self.conversations)


@dataclass
class Figures:
    hospital_ids: list[int] | None  # None: the province
    first: dt.date
    last: dt.date
    grouping: str
    periods: list[PeriodFigures]
    total: PeriodFigures
    visits_source: str

    @property
    def visits_source_vi(self) -> str:
        return VISITS_SOURCE_VI[self.visits_source]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def check_range(first: dt.date, last: dt.date, grouping: str) -> None:
    if grouping not in GROUPINGS:
        raise InvalidInput(f"unknown grouping {grouping!r}", "Cách nhóm số liệu không hợp lệ.")
    if last < first:
        raise InvalidInput("the range ends before it starts", "Ngày kết thúc phải sau ngày bắt đầu.")
    if (last - first).days > MAX_DAYS:
        raise InvalidInput("the range is too long", "Khoảng thời gian tối đa là 2 năm.")


def period_label(start: dt.date, grouping: str) -> str:
    if grouping == "month":
        return f"{start.month:02d}/{start.year}"
    if grouping == "week":
        return f"Tuần từ {start.day:02d}/{start.month:02d}/{start.year}"
    return f"{start.day:02d}/{start.month:02d}/{start.year}"


def figures(
    uow: UnitOfWork, hospital_ids: Sequence[int] | None, first: dt.date, last: dt.date, grouping: str = "day"
) -> Figures:
    """The figures of ``hospital_ids`` (None: every hospital, the province) from ``first`` to ``last``
    inclusive, by ``grouping``. A unit of work confined to a hospital may ask for that hospital only."""
    check_range(first, last, grouping)
    if hospital_ids is None:
        if uow.hospital_id is not None:
            raise tenancy.OtherHospital("hospital")
    else:
        for hospital_id in hospital_ids:
            tenancy.ensure_same_hospital(uow, hospital_id, "hospital")
    f = DAILY_FIGURES
    province = hospital_ids is None
    period = {"day": f.c.day, "week": f.c.week, "month": f.c.month}[grouping]
    where = _pieces(first, last, grouping)
    reception_by: list[tuple] = []
    if province:
        # The province: counts per hospital (each has its own denominator), histograms summed over hospitals per
        # period, and each hospital's reception histogram over the whole range (its row in the table): a few
        # thousand rows, where one row per hospital, period and bucket would be tens of thousands.
        counts = (
            select(period, f.c.hospital_id, f.c.metric, f.c.dim, f.c.bucket, func.sum(f.c.value))
            .where(where, f.c.metric.not_in((FINAL, "reception_s", *HISTOGRAMS)))
            .group_by(period, f.c.hospital_id, f.c.metric, f.c.dim, f.c.bucket)
        )
        histograms = (
            select(period, literal(0), f.c.metric, literal(""), f.c.bucket, func.sum(f.c.value))
            .where(where, f.c.metric.in_(HISTOGRAMS))
            .group_by(period, f.c.metric, f.c.bucket)
        )
        rows = _grouped(uow, counts) + _grouped(uow, histograms)
        per_hospital = (
            select(f.c.hospital_id, f.c.bucket, func.sum(f.c.value))
            .where(where, f.c.metric == "reception_all")
            .group_by(f.c.hospital_id, f.c.bucket)
        )
        reception_by = _grouped(uow, per_hospital)
    else:
        query = (
            select(period, f.c.hospital_id, f.c.metric, f.c.dim, f.c.bucket, func.sum(f.c.value))
            .where(where, f.c.hospital_id.in_(list(hospital_ids)), f.c.metric.not_in((FINAL, "reception_all")))
            .group_by(period, f.c.hospital_id, f.c.metric, f.c.dim, f.c.bucket)
        )
        rows = _grouped(uow, query)
    names = _names(uow, rows + [(None, h, "", "", 0, 0) for h, _, _ in reception_by], province)
    his_hospitals = {h for _, h, metric, _, _, value in rows if metric == "his_visits" and value}
    arrival_hospitals = {h for _, h, metric, _, _, value in rows if metric == "arrivals" and value}
    by_period: dict[dt.date, list[tuple]] = defaultdict(list)
    for row in rows:
        by_period[row[0]].append(row)
    periods = [
        _fold(start, period_label(start, grouping), by_period[start], his_hospitals, names, province)
        for start in sorted(by_period)
    ]
    total = _fold(first, "Cả khoảng", rows, his_hospitals, names, province)
    if province:
        by_hospital: dict[str, Counter[int]] = defaultdict(Counter)
        for hospital_id, bucket, value in reception_by:
            by_hospital[_reception_label("", hospital_id, names, province)][bucket] += int(value)
        total.reception_by = {key: Distribution.of(c) for key, c in sorted(by_hospital.items())}
    if not his_hospitals and not arrival_hospitals:
        source = "none"
    elif not his_hospitals:
        source = "checkins"
    elif arrival_hospitals - his_hospitals:
        source = "mixed"
    else:
        source = "his"
    return Figures(
        hospital_ids=None if province else list(hospital_ids or []),
        first=first,
        last=last,
        grouping=grouping,
        periods=periods,
        total=total,
        visits_source=source,
    )


def _pieces(first: dt.date, last: dt.date, grouping: str) -> Any:
    """Which rows make up the range: for weeks and months, the period's own sum where the period lies wholly
    inside the range, its day rows where the range cuts it (at the edges); for days, the day rows."""
    f = DAILY_FIGURES
    if grouping == DAY:
        return and_(f.c.grain == DAY, f.c.day >= first, f.c.day <= last)
    pieces = []
    whole = []
    start = week_of(first) if grouping == WEEK else month_of(first)
    while start <= last:
        end = period_end(grouping, start)
        if start >= first and end <= last:
            whole.append(start)
        else:
            pieces.append(and_(f.c.grain == DAY, f.c.day >= max(first, start), f.c.day <= min(last, end)))
        start = end + dt.timedelta(days=1)
    if whole:
        pieces.append(and_(f.c.grain == grouping, f.c.day.in_(whole)))
    return or_(*pieces)


HISTOGRAMS = ("reception_all", "lead_days", "first_reply_s")  # what the province sums over its hospitals
AGGREGATE_WORK_MEM = "64MB"  # a province's year groups ~500,000 rows: in memory, not an external sort


def _grouped(uow: UnitOfWork, query) -> list[tuple]:
    """The grouped rows; on PostgreSQL with enough work memory for a hash aggregate (reset after)."""
    session = uow.session
    if session.get_bind().dialect.name != "postgresql":
        return [tuple(row) for row in session.execute(query)]
    session.execute(text(f"SET work_mem = '{AGGREGATE_WORK_MEM}'"))
    try:
        return [tuple(row) for row in session.execute(query)]
    finally:
        session.execute(text("RESET work_mem"))


@dataclass(frozen=True)
class _Names:
    staff: dict[int, str]
    departments: dict[int, str]
    hospitals: dict[int, str]


def _names(uow: UnitOfWork, rows: Iterable[tuple], province: bool) -> _Names:
    staff_ids: set[int] = set()
    department_ids: set[int] = set()
    hospital_ids: set[int] = set()
    for _, hospital_id, metric, dim, _, _ in rows:
        hospital_ids.add(hospital_id)
        if metric == "reception_s":
            staff = dim.partition("|")[0]
            if staff.isdigit():
                staff_ids.add(int(staff))
        elif metric == "bookings_dept" and dim.isdigit():
            department_ids.add(int(dim))
    session = uow.session
    staff = (
        dict(
            session.execute(select(StaffAccount.id, StaffAccount.full_name).where(StaffAccount.id.in_(staff_ids))).all()
        )
        if staff_ids
        else {}
    )
    departments: dict[int, str] = {}
    if department_ids:
        query = select(DEPARTMENTS.c.id, DEPARTMENTS.c.name, HOSPITALS.c.name).join(
            HOSPITALS, HOSPITALS.c.id == DEPARTMENTS.c.hospital_id
        )
        for department_id, name, hospital in session.execute(query.where(DEPARTMENTS.c.id.in_(department_ids))):
            departments[department_id] = f"{hospital} · {name}" if province else name
    hospitals = (
        dict(session.execute(select(HOSPITALS.c.id, HOSPITALS.c.name).where(HOSPITALS.c.id.in_(hospital_ids))).all())
        if hospital_ids
        else {}
    )
    return _Names(staff=staff, departments=departments, hospitals=hospitals)


def _reception_label(dim: str, hospital_id: int, names: _Names, province: bool) -> str:
    if province:
        return names.hospitals.get(hospital_id, str(hospital_id))
    staff, _, desk = dim.partition("|")
    who = names.staff.get(int(staff), f"#{staff}") if staff.isdigit() else "Không rõ"
    return f"{who} · {desk}" if desk else who


def _fold(
    start: dt.date, label: str, rows: Iterable[tuple], his_hospitals: set[int], names: _Names, province: bool
) -> PeriodFigures:
    out = PeriodFigures(start=start, label=label)
    plain: Counter[str] = Counter()
    by: dict[str, Counter[str]] = defaultdict(Counter)
    histograms: dict[str, Counter[int]] = defaultdict(Counter)
    reception_by: dict[str, Counter[int]] = defaultdict(Counter)
    arrivals_of: Counter[int] = Counter()
    his_of: Counter[int] = Counter()
    for _, hospital_id, metric, dim, bucket, value in rows:
        value = int(value)
        if metric in ("reception_s", "reception_all"):
            histograms["reception"][bucket] += value
            if hospital_id:  # (0: the province's sum over its hospitals)
                reception_by[_reception_label(dim, hospital_id, names, province)][bucket] += value
            continue
        if metric in ("lead_days", "first_reply_s"):
            histograms[metric][bucket] += value
            continue
        if metric == "arrivals":
            arrivals_of[hospital_id] += value
            if dim in ONLINE_CHANNELS:
                out.online_visits += value
        elif metric == "his_visits":
            his_of[hospital_id] += value
        elif metric == "bookings_dept":
            dim = names.departments.get(int(dim), dim) if dim.isdigit() else dim
        plain[metric] += value
        by[metric][dim] += value
    out.all_visits = sum(his_of[h] if h in his_hospitals else arrivals_of[h] for h in set(arrivals_of) | set(his_of))
    out.arrivals_by_channel = dict(by["arrivals"])
    out.reception = Distribution.of(histograms["reception"])
    out.reception_by = {key: Distribution.of(counts) for key, counts in sorted(reception_by.items())}
    out.due, out.no_shows = plain["due"], plain["no_show"]
    out.due_by_group, out.no_shows_by_group = dict(by["due"]), dict(by["no_show"])
    out.bookings_by_channel = dict(by["bookings"].most_common())
    out.bookings_by_department = dict(by["bookings_dept"].most_common())
    out.lead_days = Distribution.of(histograms["lead_days"])
    out.conversations = plain["conversations"]
    out.conversations_booked = plain["conversations_booked"]
    out.user_messages = plain["user_messages"]
    out.not_understood = plain["not_understood"]
    out.handoffs = plain["handoffs"]
    out.first_reply = Distribution.of(histograms["first_reply_s"])
    out.reminders_by_channel = dict(by["reminders"].most_common())
    out.undeliverable_reasons = dict(by["undeliverable"].most_common())
    return out


# --- as text --------------------------------------------------------------------------------------------------
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}".replace(".", ",") + " %"


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds} giây"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} phút {rest} giây" if rest else f"{minutes} phút"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} giờ {minutes} phút"


def days(value: int | None) -> str:
    return "—" if value is None else f"{value} ngày"


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES_VI.get(channel, channel or "Không rõ")


def lines(p: PeriodFigures) -> list[tuple[str, str, str]]:
    """Every number of a period as (figure, breakdown, value): the CSV's rows (and the page's detail)."""
    out = [
        ("Tỷ lệ đặt lịch trực tuyến", "", _number(p.online_share)),
        ("Lượt khám đặt lịch trực tuyến", "", str(p.online_visits)),
        ("Tổng lượt khám", "", str(p.all_visits)),
        ("Thời gian tiếp đón trung vị (giây)", "", _number(p.reception.median)),
        ("Thời gian tiếp đón p90 (giây)", "", _number(p.reception.p90)),
        ("Lượt tiếp đón", "", str(p.reception.count)),
    ]
    for who, d in p.reception_by.items():
        out += [
            ("Thời gian tiếp đón trung vị (giây)", who, _number(d.median)),
            ("Thời gian tiếp đón p90 (giây)", who, _number(d.p90)),
            ("Lượt tiếp đón", who, str(d.count)),
        ]
    out.append(("Tỷ lệ không đến", "", _number(p.no_show_rate)))
    for group, name in NO_SHOW_GROUPS_VI.items():
        out.append(("Tỷ lệ không đến", name, _number(p.no_show_rate_of(group))))
    out.append(("Lượt đặt lịch", "", str(p.bookings)))
    out += [("Lượt đặt lịch theo kênh", channel_name(c), str(n)) for c, n in p.bookings_by_channel.items()]
    out += [("Lượt đặt lịch theo khoa", d, str(n)) for d, n in p.bookings_by_department.items()]
    out += [
        ("Thời gian từ đặt đến khám, trung vị (ngày)", "", _number(p.lead_days.median)),
        ("Tỷ lệ hội thoại có đặt lịch", "", _number(p.booked_share)),
        ("Tỷ lệ tin nhắn trợ lý chưa hiểu", "", _number(p.not_understood_rate)),
        ("Tỷ lệ chuyển nhân viên", "", _number(p.handoff_rate)),
        ("Thời gian nhân viên phản hồi đầu tiên, trung vị (giây)", "", _number(p.first_reply.median)),
        ("Hội thoại", "", str(p.conversations)),
    ]
    out += [("Nhắc lịch theo kênh", REMINDER_CHANNELS_VI.get(c, c), str(n)) for c, n in p.reminders_by_channel.items()]
    out += [("Nhắc lịch không gửi được", r or "Không rõ", str(n)) for r, n in p.undeliverable_reasons.items()]
    return out


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (a desk named "=1+1" stays text)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(result: Figures) -> str:
    """The figures as CSV (UTF-8 with a BOM, for spreadsheets): one row per period, figure and breakdown."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Kỳ", "Từ ngày", "Chỉ số", "Phân loại", "Giá trị"])
    for p in [*result.periods, result.total]:
        for figure, breakdown, value in lines(p):
            writer.writerow([p.label, p.start.isoformat(), figure, _cell(breakdown), value])
    return "\ufeff" + buffer.getvalue()
