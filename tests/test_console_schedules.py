"""The schedules area of the console through Flask's test client: who may open it, the sessions table and its
edit form (errors in Vietnamese, 422), stopping a session, the closure's confirmation page (masked bookings) and
its result, every action audited, and another hospital's session or closure not found (404)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from bot.zalo_webhook.models import OutboundMessage
from core.booking.models import Appointment, Closure, Department, Schedule
from core.staff.models import StaffAction
from tests.console_support import make_staff
from tests.factories import add_hospital, slot_at, today_local
from tests.test_console_access import csrf_of, log_in, make_app
from tests.test_schedule_admin import DAY, book, zalo_patient


def admin_client(db, hospital: str = "test"):
    username, _ = make_staff(db, "hospital_admin", hospital)
    client = make_app(db).test_client()
    log_in(client, username)
    return client


def token(client) -> str:
    return csrf_of(client.get("/staff/schedules").get_data(as_text=True))


def a_session(db, department: str = "nhi") -> int:
    with db.reader() as uow:
        return uow.session.scalar(
            select(Schedule.id)
            .join(Department, Department.id == Schedule.department_id)
            .where(Department.slug == department, Schedule.weekday == 0, Schedule.part_of_day == "morning")
        )


def staff_actions(db) -> list[str]:
    with db.reader() as uow:
        return [a.action for a in uow.session.scalars(select(StaffAction).order_by(StaffAction.id))]


SESSION_FORM = {
    "department_id": "",
    "doctor_id": "",
    "weekday": "0",
    "part_of_day": "morning",
    "start_time": "07:00",
    "end_time": "11:00",
    "slot_minutes": "20",
    "capacity_per_slot": "3",
    "room": "Phòng 12",
}


def test_the_hospital_admin_sees_the_weekly_sessions_and_other_roles_are_refused(db, world):
    client = admin_client(db)
    page = client.get("/staff/schedules")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and ">Lịch khám<" in html
    assert html.count("data-session=") == 28  # two departments, mornings and afternoons, seven days
    assert "Thứ Hai" in html and "07:00–11:00" in html and "30 phút" in html
    for role in ("receptionist", "records", "communications"):
        username, _ = make_staff(db, role)
        other = make_app(db).test_client()
        log_in(other, username)
        assert other.get("/staff/schedules").status_code == 403
        assert "Lịch khám" not in other.get("/staff/").get_data(as_text=True)


def test_editing_a_session_saves_it_audited_and_a_bad_one_comes_back_with_the_reason(db, world):
    client = admin_client(db)
    schedule_id = a_session(db)
    with db.reader() as uow:
        nhi = uow.session.scalar(select(Department.id).where(Department.slug == "nhi"))
    form = {**SESSION_FORM, "department_id": str(nhi), "csrf_token": token(client)}
    edit = client.get(f"/staff/schedules/sessions/{schedule_id}").get_data(as_text=True)
    assert 'value="07:00"' in edit and "Sửa buổi khám: Nhi, Thứ Hai sáng" in edit

    bad = client.post(f"/staff/schedules/sessions/{schedule_id}", data={**form, "slot_minutes": "35"})
    assert bad.status_code == 422
    assert "phải chia hết thời gian buổi khám (240 phút)" in bad.get_data(as_text=True)
    for wrong in ("7h", "08:00+07:00", "25:00"):  # a time with a UTC offset is no wall-clock time either
        garbled = client.post(f"/staff/schedules/sessions/{schedule_id}", data={**form, "start_time": wrong})
        assert garbled.status_code == 422 and "Giờ bắt đầu không hợp lệ" in garbled.get_data(as_text=True), wrong

    saved = client.post(f"/staff/schedules/sessions/{schedule_id}", data=form)
    assert saved.status_code == 302
    html = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Đã lưu buổi khám." in html and "20 phút" in html and "Phòng 12" in html
    stopped = client.post(
        f"/staff/schedules/sessions/{schedule_id}/deactivate", data={"csrf_token": form["csrf_token"]}
    )
    assert stopped.status_code == 302 and "Đã dừng" in client.get("/staff/schedules").get_data(as_text=True)
    created = client.post(
        "/staff/schedules/sessions", data={**form, "part_of_day": "evening", "start_time": "17:00", "end_time": "19:00"}
    )
    assert created.status_code == 302
    assert staff_actions(db)[-3:] == ["schedule_update", "schedule_deactivate", "schedule_create"]


def test_another_hospitals_sessions_and_closures_are_not_found(db, world):
    add_hospital(db, "other")
    schedule_id = a_session(db)
    with db.uow() as uow:
        hospital_id = uow.session.scalar(select(Schedule.hospital_id).where(Schedule.id == schedule_id))
        closure = Closure(hospital_id=hospital_id, start_date=DAY, end_date=DAY, reason="Nghỉ lễ")
        uow.session.add(closure)
        uow.commit()
        closure_id = closure.id
    client = admin_client(db, "other")
    csrf = token(client)
    assert client.get(f"/staff/schedules/sessions/{schedule_id}").status_code == 404
    form = {**SESSION_FORM, "department_id": "1", "csrf_token": csrf}
    assert client.post(f"/staff/schedules/sessions/{schedule_id}", data=form).status_code == 404
    assert (
        client.post(f"/staff/schedules/sessions/{schedule_id}/deactivate", data={"csrf_token": csrf}).status_code == 404
    )
    assert client.get(f"/staff/schedules/closures/{closure_id}").status_code == 404
    assert "data-session=" not in client.get("/staff/schedules").get_data(as_text=True)
    with db.reader() as uow:
        assert uow.session.get(Schedule, schedule_id).active


def test_a_closure_lists_the_bookings_it_hits_masked_then_cancels_them_and_tells_each_patient(db, oa_world):
    booked = [
        book(db, slot_at(db, "nhi", DAY, hhmm), *zalo_patient(db, n)[:2]) for n, hhmm in ((1, "09:00"), (2, "14:00"))
    ]
    client = admin_client(db)
    form = {"start": DAY.isoformat(), "end": "", "reason": "holiday", "note": "", "department_id": "", "doctor_id": ""}
    form["csrf_token"] = token(client)

    preview = client.post("/staff/schedules/closures/preview", data=form)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "2 lịch hẹn sẽ bị hủy" in html
    assert all(code in html for code in booked)
    assert "T. T. Lan" in html and "L. V. Minh" in html and "098****001" in html
    assert "Trần Thị Lan" not in html and "0987000001" not in html
    with db.reader() as uow:  # nothing changed yet
        assert uow.session.scalar(select(func.count()).select_from(Closure)) == 0

    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))
    late = book(db, slot_at(db, "nhi", DAY, "10:00"), *zalo_patient(db, 3)[:2])  # booked while the admin reads
    changed = client.post("/staff/schedules/closures", data=hidden)
    html = changed.get_data(as_text=True)
    assert changed.status_code == 409 and "Có lịch hẹn mới được đặt" in html and late in html
    assert "3 lịch hẹn sẽ bị hủy" in html
    with db.reader() as uow:  # nothing cancelled the admin has not seen
        assert uow.session.scalar(select(func.count()).select_from(Closure)) == 0
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))
    done = client.post("/staff/schedules/closures", data=hidden)
    assert done.status_code == 302
    result = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Đã hủy 3 lịch hẹn, đã gửi tin nhắn cho 3 người bệnh." in result and "Toàn bệnh viện" in result
    again = client.post("/staff/schedules/closures", data=hidden)  # a double submit
    assert "Đã hủy 0 lịch hẹn" in client.get(again.headers["Location"]).get_data(as_text=True)
    with db.reader() as uow:
        statuses = uow.session.execute(select(Appointment.status, Appointment.cancelled_by)).all()
        assert sorted(statuses) == [("cancelled", "hospital")] * 3
        assert uow.session.scalar(select(func.count()).select_from(OutboundMessage)) == 3
    assert staff_actions(db)[-2:] == ["closure_add", "closure_add"]
    assert "Nghỉ lễ" in client.get("/staff/schedules").get_data(as_text=True)


def test_a_closure_that_makes_no_sense_comes_back_with_the_reason(db, world):
    client = admin_client(db)
    form = {
        "start": DAY.isoformat(),
        "end": (DAY - dt.timedelta(days=1)).isoformat(),
        "reason": "holiday",
        "csrf_token": token(client),
    }
    refused = client.post("/staff/schedules/closures/preview", data=form)
    assert refused.status_code == 422 and "Ngày kết thúc phải bằng hoặc sau ngày bắt đầu." in refused.get_data(
        as_text=True
    )
    past = client.post("/staff/schedules/closures", data={**form, "start": "2020-01-01", "end": ""})
    assert past.status_code == 422 and "Không thể đóng lịch cho ngày đã qua." in past.get_data(as_text=True)
    garbled = client.post("/staff/schedules/closures/preview", data={**form, "start": "hôm nay"})
    assert garbled.status_code == 422 and "Ngày bắt đầu không hợp lệ." in garbled.get_data(as_text=True)
    assert today_local() < DAY
