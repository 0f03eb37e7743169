"""The figures page through Flask's test client: a hospital admin of A sees A's numbers only (B's scope is
refused), the CSV carries the numbers, the province admin sees the province and picks any hospital, other
roles are refused, bad input is a Vietnamese 422, and viewing and exporting are in the staff action log."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.figures.rollup import roll_up
from core.staff.models import StaffAction
from tests.console_support import make_staff
from tests.factories import add_department, add_hospital
from tests.figures_seed import DAY, appointment, at, place, reception
from tests.test_console_access import csrf_of, log_in, make_app

RANGE = {"from": (DAY - dt.timedelta(days=6)).isoformat(), "to": DAY.isoformat()}


@pytest.fixture
def two_hospitals(db, world):
    """A ("test"): 3 online check-ins of 4, receptions of 12 s and 18 s. B ("other"): 1 online check-in of 2."""
    add_hospital(db, "other")
    add_department(db, "noi", "Nội", hospital="other")
    a, b = place(db), place(db, "other")
    first = appointment(db, a, channel="zalo")
    appointment(db, a, channel="mini_app")
    appointment(db, a, channel="kiosk")
    appointment(db, a, channel="staff", created=at(DAY, "07:00"))
    appointment(db, b, channel="zalo")
    appointment(db, b, channel="staff")
    reception(db, a, first, None, "Quầy 1", 12)
    reception(db, a, first, None, "Quầy 1", 18)
    with db.uow() as uow:
        roll_up(uow, DAY)
        uow.commit()
    return a, b


def logged_in(db, role: str, hospital: str | None = "test", *, works_in: int | None = None):
    """A client logged in as a new account of ``role``; a province admin first picks ``works_in``."""
    username, _ = make_staff(db, role, hospital)
    client = make_app(db).test_client()
    assert log_in(client, username).status_code == 302
    if works_in is not None:
        token = csrf_of(client.get("/staff/login").get_data(as_text=True) or "")
        chosen = client.post("/staff/hospital", data={"hospital_id": str(works_in), "csrf_token": token})
        assert chosen.status_code == 302
    return client


def test_a_hospital_admin_sees_their_hospital_only(db, two_hospitals):
    _a, b = two_hospitals
    client = logged_in(db, "hospital_admin")
    page = client.get("/staff/figures", query_string={**RANGE, "group": "week"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Số liệu: Bệnh viện Thử nghiệm" in html
    assert 'id="total-online-share">75,0 %<' in html and "3 / 4 lượt khám" in html
    assert "12 giây · 18 giây" in html  # median and p90 of the receptions
    assert "tính theo lượt tiếp đón (check-in)" in html
    assert "Toàn tỉnh" not in html and "Bệnh viện Khác" not in html
    assert 'href="/staff/figures"' in client.get("/staff/").get_data(as_text=True)  # the menu's "Số liệu"
    assert client.get("/staff/figures", query_string={"scope": str(b.hospital_id)}).status_code == 403
    assert client.get("/staff/figures.csv", query_string={"scope": str(b.hospital_id)}).status_code == 403
    assert client.get("/staff/figures/data", query_string={"scope": "province"}).status_code == 403
    data = client.get("/staff/figures/data", query_string={**RANGE, "group": "day"}).get_json()
    assert data["labels"] == ["10/11/2026"] and data["online_share"] == [75.0] and data["reception_p90"] == [18]


def test_the_csv_has_the_numbers_and_the_export_is_logged(db, two_hospitals):
    a, _ = two_hospitals
    client = logged_in(db, "hospital_admin")
    response = client.get("/staff/figures.csv", query_string={**RANGE, "group": "month"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert "11/2026,2026-11-01,Tỷ lệ đặt lịch trực tuyến,,0.7500" in text
    assert "11/2026,2026-11-01,Tổng lượt khám,,4" in text
    assert "Cả khoảng,2026-11-04,Thời gian tiếp đón p90 (giây),,18" in text
    with db.reader() as uow:
        logged = uow.session.execute(select(StaffAction.action, StaffAction.target_id, StaffAction.hospital_id)).all()
    assert ("figures_export", str(a.hospital_id), a.hospital_id) in [tuple(row) for row in logged]


def test_the_province_admin_sees_the_province_and_picks_any_hospital(db, two_hospitals):
    a, b = two_hospitals
    # (the hospital the province admin works in is kept apart from the figures' scope)
    client = logged_in(db, "province_admin", None, works_in=a.hospital_id)
    province = client.get("/staff/figures", query_string=RANGE).get_data(as_text=True)
    assert "Số liệu: Toàn tỉnh" in province
    assert "4 / 6 lượt khám" in province  # 3 + 1 online of 4 + 2
    assert '<option value="province" selected>Toàn tỉnh</option>' in province
    other = client.get("/staff/figures", query_string={**RANGE, "scope": str(b.hospital_id)}).get_data(as_text=True)
    assert "Số liệu: Bệnh viện Khác" in other and "1 / 2 lượt khám" in other
    assert client.get("/staff/figures", query_string={"scope": "999999"}).status_code == 404
    assert client.get("/staff/figures", query_string={"scope": "x"}).status_code == 404
    text = client.get("/staff/figures.csv", query_string=RANGE).get_data(as_text=True)
    assert "Cả khoảng,2026-11-04,Tổng lượt khám,,6" in text


@pytest.mark.parametrize("role", ["receptionist", "records", "communications"])
def test_other_roles_are_refused(db, two_hospitals, role):
    client = logged_in(db, role)
    for path in ("/staff/figures", "/staff/figures.csv", "/staff/figures/data"):
        assert client.get(path).status_code == 403, path
    assert 'href="/staff/figures"' not in client.get("/staff/").get_data(as_text=True)


def test_bad_input_is_a_vietnamese_page_not_a_500(db, two_hospitals):
    client = logged_in(db, "hospital_admin")
    for args, message in (
        ({"from": "hôm qua"}, "Ngày không hợp lệ"),
        ({"group": "year"}, "Cách nhóm số liệu không hợp lệ"),
        ({"from": "2026-11-10", "to": "2026-11-01"}, "Ngày kết thúc phải sau ngày bắt đầu"),
        ({"from": "2020-01-01", "to": "2026-11-01"}, "tối đa là 2 năm"),
        ({"to": "0001-01-05"}, "Ngày nằm ngoài khoảng cho phép"),
        ({"from": "9999-12-01", "to": "9999-12-31", "group": "month"}, "Ngày nằm ngoài khoảng cho phép"),
    ):
        response = client.get("/staff/figures", query_string=args)
        assert response.status_code == 422 and message in response.get_data(as_text=True), args
    assert client.get("/staff/figures/data", query_string={"group": "year"}).status_code == 422
