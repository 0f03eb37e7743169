"""Data-subject requests (core/emr/subject_requests.py): the 2-working-day deadline (weekends, the fixed-date
public holidays, configured days, the hospital's own closures), the order staff see them in (overdue first),
closing one as done or refused, and the Zalo channel writing its requests into core's table."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.zalo_webhook.subject_requests import record_zalo_request
from core.booking.models import Closure, Department, Hospital
from core.emr import subject_requests as sr
from core.errors import Conflict, InvalidInput, NotFound
from core.tenancy import OtherHospital
from core.timeutil import LOCAL_TZ, UTC
from tests.factories import add_hospital


def local(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=LOCAL_TZ).astimezone(UTC)


def end_of(day: str) -> dt.datetime:
    """24:00 local of ``day`` (= 00:00 of the next day), in UTC."""
    return local(*dt.date.fromisoformat(day).timetuple()[:3]) + dt.timedelta(days=1)


# --- the rule ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "due_end_of", "why"),
    [
        (local(2026, 12, 7, 10, 0), "2026-12-09", "Monday: Tuesday and Wednesday"),
        (local(2026, 12, 7, 23, 30), "2026-12-09", "late Monday evening is still Monday (16:30 UTC)"),
        (local(2026, 12, 8, 1, 0), "2026-12-10", "Tuesday 01:00 local is Monday 18:00 UTC: Tuesday counts"),
        (local(2026, 12, 11, 9, 0), "2026-12-15", "Friday: the weekend skipped, Monday and Tuesday"),
        (local(2026, 12, 12, 9, 0), "2026-12-15", "Saturday: Monday and Tuesday"),
        (local(2026, 12, 13, 22, 0), "2026-12-15", "Sunday night: Monday and Tuesday"),
        (local(2026, 12, 31, 15, 0), "2027-01-05", "New Year's Day and the weekend skipped"),
        (local(2027, 4, 29, 8, 0), "2027-05-04", "30/4 (Friday), 1/5 and the weekend skipped"),
        (local(2027, 9, 1, 8, 0), "2027-09-06", "2/9 (Thursday) skipped: Friday and Monday"),
    ],
)
def test_a_request_is_due_at_the_end_of_the_second_working_day_after_it_was_made(received, due_end_of, why):
    assert sr.due_at(received) == end_of(due_end_of), why


def test_configured_holidays_are_not_working_days():
    tet = [dt.date(2027, 2, 5), dt.date(2027, 2, 8), dt.date(2027, 2, 9)]
    assert sr.due_at(local(2027, 2, 4, 9, 0), tet) == end_of("2027-02-11")
    assert not sr.is_working_day(dt.date(2027, 2, 8), tet)
    assert sr.is_working_day(dt.date(2027, 2, 10), tet)
    assert not sr.is_working_day(dt.date(2027, 5, 1))
    assert not sr.is_working_day(dt.date(2026, 12, 12))  # a Saturday


def hospital_id(db, slug: str = "test") -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(Hospital.id).where(Hospital.slug == slug))


def add_request(db, hospital: int | None, received: dt.datetime, kind: str = "withdraw", user: str = "u1") -> int:
    with db.uow() as uow:
        row = sr.record_request(uow, kind=kind, oa_id="oa-1", user_id=user, hospital_id=hospital, now=received)
        uow.commit()
        return row.id


def test_the_hospitals_whole_day_closures_move_the_deadline_but_a_departments_do_not(db, world):
    test = hospital_id(db)
    with db.uow() as uow:
        nhi = uow.session.scalar(select(Department.id).where(Department.slug == "nhi"))
        uow.session.add_all(
            [
                Closure(hospital_id=test, start_date=dt.date(2026, 12, 8), end_date=dt.date(2026, 12, 8), reason="x"),
                Closure(
                    hospital_id=test,
                    department_id=nhi,
                    start_date=dt.date(2026, 12, 9),
                    end_date=dt.date(2026, 12, 10),
                    reason="khoa nghỉ",
                ),
            ]
        )
        uow.commit()
    add_request(db, test, local(2026, 12, 7, 10, 0))
    add_hospital(db, "other")
    other = hospital_id(db, "other")
    with db.reader() as uow:
        [view] = sr.list_requests(uow, test, now=local(2026, 12, 7, 11, 0))
        assert view.due_at == end_of("2026-12-10")  # Tuesday closed: Wednesday and Thursday
        assert sr.list_requests(uow, other) == []  # not the other hospital's


def test_open_requests_come_overdue_first_then_by_deadline_with_the_province_wide_ones(db, world):
    add_hospital(db, "other")
    test, other = hospital_id(db), hospital_id(db, "other")
    now = local(2026, 12, 10, 9, 0)  # Thursday
    late = add_request(db, test, local(2026, 12, 4, 9, 0), user="late")  # Friday before: due end of Tuesday
    newer = add_request(db, test, local(2026, 12, 9, 9, 0), user="newer")  # due end of Friday
    province = add_request(db, None, local(2026, 12, 7, 9, 0), user="prov")  # due end of Wednesday: overdue
    add_request(db, other, local(2026, 12, 1, 9, 0), user="elsewhere")
    with db.reader() as uow:
        views = sr.list_requests(uow, test, now=now)
    assert [v.id for v in views] == [late, province, newer]
    assert [v.overdue for v in views] == [True, True, False]
    assert views[1].province_wide and not views[0].province_wide
    assert views[0].requester == "Zalo …late" and views[0].kind_vi == "Rút dữ liệu khỏi OA (Zalo)"


def test_done_and_refused_record_who_and_when_and_leave_the_open_list(db, world):
    add_hospital(db, "other")
    test, other = hospital_id(db), hospital_id(db, "other")
    first = add_request(db, test, local(2026, 12, 7, 9, 0))
    second = add_request(db, test, local(2026, 12, 7, 10, 0), kind="copy")
    theirs = add_request(db, other, local(2026, 12, 7, 10, 0))
    at = local(2026, 12, 8, 9, 0)
    with db.uow() as uow:
        with pytest.raises(InvalidInput):
            sr.decide_request(uow, second, test, done=False, by="records-1", reason="  ", now=at)
        with pytest.raises(OtherHospital):
            sr.decide_request(uow, theirs, test, done=True, by="records-1", now=at)
        with pytest.raises(NotFound):
            sr.decide_request(uow, 9999, test, done=True, by="records-1", now=at)
        sr.decide_request(uow, first, test, done=True, by="records-1", now=at)
        sr.decide_request(uow, second, test, done=False, by="records-1", reason="Không xác minh được", now=at)
        uow.commit()
    with db.uow() as uow, pytest.raises(Conflict):
        sr.decide_request(uow, first, test, done=True, by="records-2", now=at)
    with db.reader() as uow:
        assert sr.list_requests(uow, test, now=at) == []
        [done] = sr.list_requests(uow, test, status="done", now=at)
        [refused] = sr.list_requests(uow, test, status="refused", now=at)
    assert (done.id, done.decided_by, done.decided_at) == (first, "records-1", at)
    assert (refused.id, refused.decision_reason, refused.overdue) == (second, "Không xác minh được", False)


def test_the_zalo_channel_writes_its_requests_with_the_oas_hospital(db, oa_world):
    from tests.zalo_helpers import SIMULATED_OA

    with db.uow() as uow:
        row = record_zalo_request(uow, SIMULATED_OA.oa_id, "zalo-user-7", "consent_withdrawal")
        uow.commit()
        request_id = row.id
    with db.reader() as uow:
        [view] = sr.list_requests(uow, hospital_id(db))
    assert (view.id, view.kind, view.channel, view.province_wide) == (request_id, "consent_withdrawal", "zalo", False)
    assert view.kind_vi == "Rút lại đồng ý xử lý dữ liệu"


def test_the_migration_gives_earlier_requests_the_hospital_of_their_oa(tmp_path):
    """0019 on a database of 0016 with a request made to the OA of hospital "test": the request gets it."""
    from sqlalchemy import create_engine, text

    from bot.zalo_webhook.models import ZaloOA
    from henkham.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'before.db'}"
    upgrade(url, "0016")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            Hospital.__table__.insert().values(
                slug="test",
                name="BV",
                facility_code="99999",
                address="",
                phone="",
                emergency_phone="",
                opening_hours="",
            )
        )
        conn.execute(ZaloOA.__table__.insert().values(oa_id="oa-1", app_id="a", hospital_id=1))
        conn.execute(
            text(
                "INSERT INTO data_subject_requests (oa_id, user_id, kind, detail, status, received_at) "
                "VALUES ('oa-1', 'u1', 'withdraw', '', 'open', '2026-12-01 00:00:00')"
            )
        )
    upgrade(url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT hospital_id, channel, decision_reason FROM data_subject_requests")).one()
    engine.dispose()
    assert tuple(row) == (1, "zalo", "")
