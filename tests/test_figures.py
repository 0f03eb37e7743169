"""The figures' roll-up and report (core/figures): seeded appointments, receptions, reminders and HIS visits give
the exact expected numbers; weeks and months are read from the summed daily histograms (so a month's median is
the median of its samples, not a mean of daily medians); re-running a day replaces it; the province is the sum
of its hospitals; a unit of work confined to one hospital reads no other's."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.audit import Actor
from core.figures import report
from core.figures.channel import AssistantDay, Delivery
from core.figures.models import DailyFigure
from core.figures.rollup import roll_up, roll_up_range, roll_up_settled_days, roll_up_today
from core.staff.models import StaffAccount
from core.tenancy import OtherHospital
from tests.console_support import make_staff
from tests.factories import add_department, add_hospital
from tests.figures_seed import DAY, FakeChannel, appointment, at, his_visits, place, reception, reminder


def staff_id_of(db, username: str) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(StaffAccount.id).where(StaffAccount.username == username))


@pytest.fixture
def seeded(db, world):
    """Hospital "test" on DAY, every number known (see the comments)."""
    here = place(db)
    s1 = staff_id_of(db, make_staff(db, "receptionist")[0])
    s2 = staff_id_of(db, make_staff(db, "receptionist")[0])
    first = appointment(db, here, channel="zalo", created=at(DAY - dt.timedelta(days=3)))  # lead 3
    appointment(
        db, here, channel="mini_app", status="completed", created=at(DAY - dt.timedelta(days=1)), confirmed=True
    )
    reminded = appointment(db, here, channel="kiosk", created=at(DAY, "07:30"))  # lead 0
    appointment(db, here, channel="staff", created=at(DAY - dt.timedelta(days=2)))  # lead 2, not online
    appointment(db, here, channel="zalo", status="no_show", created=at(DAY - dt.timedelta(days=5)))
    appointment(db, here, channel="zalo", status="no_show", confirmed=True)
    appointment(db, here, channel="zalo", status="cancelled", created=at(DAY, "08:00"))  # booked on DAY
    appointment(db, here, channel="zalo", status="booked")  # not settled: not due
    appointment(
        db,
        here,
        day=DAY + dt.timedelta(days=7),
        status="booked",
        channel="mini_app",
        created=at(DAY, "10:00"),
        department="mat",
    )
    reminder(db, here, reminded, message_key="k-chat")
    reminder(db, here, None, message_key="k-zns")
    reminder(db, here, None, message_key="k-pending")
    reminder(db, here, None, outcome="undeliverable", reason="no phone and not a follower")
    reminder(db, here, None, outcome="skipped", reason="cancelled")
    for seconds in (10, 20, 30):
        reception(db, here, first, s1, "Quầy 1", seconds)
    reception(db, here, first, s2, "Quầy 2", 95)
    reception(db, here, first, s2, "Quầy 2", -1)  # looked up, never checked in
    channel = FakeChannel(
        days={
            here.hospital_id: AssistantDay(
                conversations=10, booked=4, user_messages=50, not_understood=5, handoffs=2, first_reply_seconds=(30, 90)
            )
        },
        sent={"k-chat": Delivery("sent", "chat"), "k-zns": Delivery("sent", "zns"), "k-pending": Delivery("pending")},
    )
    return here, channel, (s1, s2)


def test_the_roll_up_of_a_day_gives_the_exact_numbers(db, seeded):
    here, channel, (_s1, _s2) = seeded
    with db.uow() as uow:
        roll_up(uow, DAY, channel)
        uow.commit()
    with db.reader() as uow:
        result = report.figures(uow, [here.hospital_id], DAY, DAY, "day")
    [day] = result.periods
    assert result.visits_source == "checkins"
    assert (day.online_visits, day.all_visits) == (3, 4)  # zalo, mini app, kiosk of 4 check-ins
    assert day.online_share == pytest.approx(0.75)
    assert day.arrivals_by_channel == {"zalo": 1, "mini_app": 1, "kiosk": 1, "staff": 1}
    assert (day.reception.count, day.reception.median, day.reception.p90) == (4, 20, 95)
    names = {who.split(" · ")[1]: d for who, d in day.reception_by.items()}
    assert (names["Quầy 1"].median, names["Quầy 1"].p90, names["Quầy 1"].count) == (20, 30, 3)
    assert (names["Quầy 2"].median, names["Quầy 2"].count) == (95, 1)
    assert (day.due, day.no_shows) == (6, 2)
    assert day.no_show_rate_of("confirmed") == pytest.approx(0.5)
    assert day.no_show_rate_of("reminded") == 0
    assert day.no_show_rate_of("none") == pytest.approx(1 / 3)
    assert day.bookings_by_channel == {"kiosk": 1, "zalo": 1, "mini_app": 1}
    assert day.bookings_by_department == {"Nhi": 2, "Mắt": 1}
    assert day.lead_days.median == 1  # leads 3, 1, 0, 2
    assert (day.conversations, day.booked_share, day.not_understood_rate, day.handoff_rate) == (10, 0.4, 0.1, 0.2)
    assert day.first_reply.median == 30
    assert day.reminders_by_channel == {"chat": 1, "zns": 1, "pending": 1, "undeliverable": 1}
    assert day.undeliverable_reasons == {"no phone and not a follower": 1}


def test_weeks_and_months_take_percentiles_over_every_sample_of_the_period(db, seeded):
    here, channel, (s1, _) = seeded
    nxt = DAY + dt.timedelta(days=1)
    other = appointment(db, here, day=nxt, channel="zalo")
    for seconds in (40, 50):
        reception(db, here, other, s1, "Quầy 1", seconds, day=nxt)
    list(roll_up_range(db, DAY, nxt, channel))
    with db.reader() as uow:
        daily = report.figures(uow, [here.hospital_id], DAY, nxt, "day")
        weekly = report.figures(uow, [here.hospital_id], DAY, nxt, "week")
        monthly = report.figures(
            uow, [here.hospital_id], DAY - dt.timedelta(days=9), nxt + dt.timedelta(days=30), "month"
        )
    assert [p.reception.median for p in daily.periods] == [20, 40]  # nearest rank
    [week] = weekly.periods
    assert week.start == dt.date(2026, 11, 9) and week.label == "Tuần từ 09/11/2026"
    # all samples: 10, 20, 30, 95, 40, 50 -> nearest-rank median 30, p90 95 (a mean of daily medians would be 32.5)
    assert (week.reception.count, week.reception.median, week.reception.p90) == (6, 30, 95)
    assert (week.online_visits, week.all_visits) == (4, 5)
    with db.reader() as uow:  # the whole week: read from its own sums, the same numbers
        whole = report.figures(uow, [here.hospital_id], dt.date(2026, 11, 9), dt.date(2026, 11, 15), "week")
        grains = set(uow.session.scalars(select(DailyFigure.grain)))
    assert grains == {"day", "week", "month"}
    [same] = whole.periods
    assert (same.reception.median, same.reception.p90, same.all_visits, same.due) == (30, 95, 5, 7)
    [month] = monthly.periods
    assert month.label == "11/2026" and month.reception.median == 30 and month.due == 7
    assert monthly.total.reception.median == 30


def test_rolling_a_day_up_again_replaces_it(db, seeded):
    here, channel, _ = seeded

    def stored():
        with db.reader() as uow:
            return sorted(
                (f.hospital_id, f.grain, f.day, f.metric, f.dim, f.bucket, f.value)
                for f in uow.session.scalars(select(DailyFigure))
            )

    with db.uow() as uow:
        roll_up(uow, DAY, channel)
        uow.commit()
    once = stored()
    with db.uow() as uow:
        roll_up(uow, DAY, channel)
        uow.commit()
    assert stored() == once and once
    appointment(db, here, channel="kiosk")  # a late check-in: the next run counts it
    with db.uow() as uow:
        roll_up(uow, DAY, None)  # without the channel the assistant's rows are kept
        uow.commit()
    with db.reader() as uow:
        [day] = report.figures(uow, [here.hospital_id], DAY, DAY).periods
    assert (day.online_visits, day.all_visits, day.conversations) == (4, 5, 10)


def test_the_province_is_the_sum_of_its_hospitals_and_his_visits_count_where_imported(db, seeded):
    _here, channel, _ = seeded
    add_hospital(db, "other")
    add_department(db, "noi", "Nội", hospital="other")
    there = place(db, "other")
    for _ in range(2):
        appointment(db, there, channel="zalo")
    his_visits(db, there, 8, cancelled=1)  # the other hospital sends its HIS visits: 8 visits (one withdrawn)
    with db.uow() as uow:
        roll_up(uow, DAY, channel)
        uow.commit()
    with db.reader() as uow:
        province = report.figures(uow, None, DAY, DAY, "month")
        other = report.figures(uow, [there.hospital_id], DAY, DAY, "month")
    assert other.visits_source == "his" and (other.total.online_visits, other.total.all_visits) == (2, 8)
    assert province.visits_source == "mixed"
    assert (province.total.online_visits, province.total.all_visits) == (3 + 2, 4 + 8)
    assert province.total.bookings == 3 and province.total.due == 6 + 2
    assert set(province.total.reception_by) == {"Bệnh viện Thử nghiệm"}  # per hospital in the province view
    csv = report.to_csv(province)
    assert csv.startswith("\ufeffKỳ,Từ ngày,Chỉ số,Phân loại,Giá trị")
    assert "11/2026,2026-11-01,Tổng lượt khám,,12" in csv


def test_a_unit_of_work_confined_to_a_hospital_reads_no_other_nor_the_province(db, seeded):
    here, _channel, _ = seeded
    add_hospital(db, "other")
    with db.reader() as uow:
        uow.actor = Actor(kind="staff", client_id=1, client_name="x", hospital_id=here.hospital_id)
        assert report.figures(uow, [here.hospital_id], DAY, DAY).hospital_ids == [here.hospital_id]
        with pytest.raises(OtherHospital):
            report.figures(uow, [here.hospital_id + 1], DAY, DAY)
        with pytest.raises(OtherHospital):
            report.figures(uow, None, DAY, DAY)


def test_a_bad_range_or_grouping_is_refused_in_vietnamese(db, world):
    with db.reader() as uow:
        for first, last, grouping in ((DAY, DAY, "year"), (DAY, DAY - dt.timedelta(days=1), "day")):
            with pytest.raises(Exception) as refused:
                report.figures(uow, None, first, last, grouping)
            assert refused.value.message_vi


def test_the_scheduler_rolls_today_up_and_each_settled_day_once(db, seeded):
    here, channel, _ = seeded
    now = at(DAY + dt.timedelta(days=1), "01:00")  # 60 minutes after DAY ended: not settled at 120
    assert roll_up_settled_days(db, channel, settle_minutes=120, back_days=1, now=now) == []
    later = at(DAY + dt.timedelta(days=1), "03:00")
    [done] = roll_up_settled_days(db, channel, settle_minutes=120, back_days=1, now=later)
    assert done.day == DAY and done.rows > 0
    assert roll_up_settled_days(db, channel, settle_minutes=120, back_days=1, now=later) == []  # once
    today = roll_up_today(db, channel, now=at(DAY, "15:00"))
    assert today.day == DAY
    with db.reader() as uow:
        [day] = report.figures(uow, [here.hospital_id], DAY, DAY).periods
    assert day.all_visits == 4


def test_the_scheduler_has_the_figures_jobs(db, database_url):
    from core.config import Settings
    from henkham import bootstrap

    names = {job.name for job in bootstrap.jobs(Settings(database_url=database_url), db)}
    assert {"figures_today", "figures_settled"} <= names
