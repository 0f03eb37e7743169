"""The desk and the record-link page of the staff console.

Through Flask's test client: the desk path as htmx posts it (look-up → check-in → slip with a QR), refusals as
Vietnamese panels (422/404/409, never a 500), tenancy (a booking of hospital "test" is not found by the desk of
hospital "other"), roles, the staff-action log, today's list, and the record link. In Chromium (Playwright): the
desk by keyboard alone (code, Enter, Enter → the slip), the phone fallback, today's list, the record link.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.booking import appointments, patients
from core.emr import record_access
from core.emr.models import ReaderLink
from core.staff.models import ReceptionTiming, StaffAction
from henkham.web.console.desk import qr_svg
from tests.console_support import browser, console_page, console_stack, login, make_staff  # noqa: F401
from tests.desk_support import book_today
from tests.emr_people import CCCD, mai, store_visit
from tests.factories import add_hospital, today_local
from tests.test_console_access import csrf_of, log_in, make_app

HTMX = {"HX-Request": "true"}


def actions(db) -> list[tuple[str, str, str | None]]:
    with db.reader() as uow:
        rows = uow.session.execute(
            select(StaffAction.action, StaffAction.target_id, StaffAction.detail).order_by(StaffAction.id)
        ).all()
    return [tuple(row) for row in rows if row.action not in ("login", "logout")]


@pytest.fixture
def desk_client(db, world):
    """A logged-in receptionist of "test" and the CSRF token of the desk page."""
    add_hospital(db, "other")
    username, _ = make_staff(db, "receptionist")
    client = make_app(db).test_client()
    assert log_in(client, username).status_code == 302
    page = client.get("/staff/desk")
    assert page.status_code == 200
    client.token = csrf_of(page.get_data(as_text=True))
    return client


def post(client, path: str, data: dict, *, htmx: bool = True):
    return client.post(path, data={**data, "csrf_token": client.token}, headers=HTMX if htmx else {})


def test_the_desk_page_opens_with_one_focused_code_field_and_the_menu_entry(desk_client):
    html = desk_client.get("/staff/desk").get_data(as_text=True)
    assert html.count("autofocus") == 1 and re.search(r'<input id="desk-code" name="code"[^>]*autofocus', html)
    assert ">Tiếp đón</a>" in html and ">Liên kết hồ sơ</a>" in html
    assert "desk.js" in html and "desk.css" in html and "<script>" not in html


def test_look_up_then_check_in_gives_the_slip_with_a_qr_and_the_timing(db, desk_client):
    appt = book_today(db, "nhi", "08:00", full_name="Lê Thị <b>Hoa</b>")
    assert post(desk_client, "/staff/desk/name", {"desk_name": "  Quầy   2 "}, htmx=False).status_code == 302
    found = post(desk_client, "/staff/desk/lookup", {"code": f"{appt.code.lower()}\n"})
    html = found.get_data(as_text=True)
    assert found.status_code == 200 and "<html" not in html  # the panel alone
    assert "Lê Thị &lt;b&gt;Hoa&lt;/b&gt;" in html and f">{appt.queue_number}<" in html
    assert "Phòng Nhi" in html and "Khám BHYT" in html and "Cần bổ sung" in html
    assert 'id="desk-check-in"' in html and "autofocus" in html
    appointment_id = re.search(r'name="appointment_id" value="(\d+)"', html).group(1)
    timing_id = re.search(r'name="timing_id" value="(\d+)"', html).group(1)
    slip = post(desk_client, "/staff/desk/check-in", {"appointment_id": appointment_id, "timing_id": timing_id})
    html = slip.get_data(as_text=True)
    assert slip.status_code == 200 and slip.headers["HX-Trigger"] == "desk-checked-in"
    assert "PHIẾU KHÁM BỆNH" in html and "Bệnh viện Thử nghiệm" in html and "data-slip" in html
    assert '<svg viewBox="0 0 ' in html and "data-print" in html and "style=" not in html
    again = post(desk_client, "/staff/desk/check-in", {"appointment_id": appointment_id, "timing_id": timing_id})
    assert again.status_code == 200 and "Đã tiếp đón trước đó" in again.get_data(as_text=True)
    with db.reader() as uow:
        [timing] = uow.session.scalars(select(ReceptionTiming)).all()
        assert appointments.get_appointment(uow, appt.code).status == "checked_in"
    assert timing.desk == "Quầy 2" and timing.staff_id is not None and timing.checked_in_at is not None
    assert actions(db) == [
        ("desk_name", "", "Quầy 2"),
        ("desk_lookup", appointment_id, "code"),
        ("desk_check_in", appointment_id, None),
        ("desk_check_in", appointment_id, "again"),
    ]


def test_without_javascript_the_forms_answer_whole_pages(db, desk_client):
    appt = book_today(db, "mat", "09:00")
    page = post(desk_client, "/staff/desk/lookup", {"code": appt.code}, htmx=False)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and 'id="desk-check-in"' in html
    assert html.count("autofocus") == 1  # the check-in button, not the code field


def test_refusals_are_vietnamese_panels_never_a_500(db, desk_client):
    cancelled = book_today(db, "nhi", "08:30")
    with db.uow() as uow:
        appointments.cancel(uow, cancelled.code, by="hospital", channel="test", reason="Bác sĩ nghỉ")
    tomorrow = book_today(db, "nhi", "08:30", day=today_local() + dt.timedelta(days=1))
    cases = [
        ({"code": "??"}, 422, "6 ký tự"),
        ({"code": "ZZZZZZ"}, 404, "Không tìm thấy lịch hẹn"),
        ({"code": cancelled.code}, 409, "đã bị hủy (bệnh viện hủy)"),
        ({"code": tomorrow.code}, 409, "không phải hôm nay"),
    ]
    for data, status, text in cases:
        answer = post(desk_client, "/staff/desk/lookup", data)
        assert answer.status_code == status and text in answer.get_data(as_text=True), data
        assert "data-desk-error" in answer.get_data(as_text=True)
    assert post(desk_client, "/staff/desk/phone", {"phone": "12"}).status_code == 422
    assert post(desk_client, "/staff/desk/phone", {"phone": "0912345678", "day": "hôm qua"}).status_code == 422
    assert post(desk_client, "/staff/desk/check-in", {"appointment_id": "x"}).status_code == 422
    assert post(desk_client, "/staff/desk/check-in", {"appointment_id": "99999999"}).status_code == 404
    no_token = desk_client.post("/staff/desk/lookup", data={"code": cancelled.code}, headers=HTMX)
    assert no_token.status_code == 400
    assert [a for a, _, _ in actions(db)].count("desk_lookup_refused") == 4


def test_a_booking_of_hospital_test_is_not_found_at_the_desk_of_hospital_other(db, world):
    add_hospital(db, "other")
    appt = book_today(db, "nhi", "08:00", phone="0912000222")
    username, _ = make_staff(db, "receptionist", "other")
    client = make_app(db).test_client()
    log_in(client, username)
    client.token = csrf_of(client.get("/staff/desk").get_data(as_text=True))
    with db.reader() as uow:
        appointment_id = appointments.find_appointment(uow, appt.code).id
    found = post(client, "/staff/desk/lookup", {"code": appt.code})
    assert found.status_code == 404 and "Người Bệnh" not in found.get_data(as_text=True)
    checked = post(client, "/staff/desk/check-in", {"appointment_id": str(appointment_id)})
    assert checked.status_code == 404
    assert post(client, "/staff/desk/phone", {"phone": "0912000222"}).status_code == 404
    listed = post(client, "/staff/desk/today", {"q": appt.code}).get_data(as_text=True)
    assert appt.code not in listed and "Không có lịch hẹn nào" in listed
    with db.reader() as uow:
        assert appointments.get_appointment(uow, appt.code).status == "booked"


def test_phone_fallback_lists_the_bookings_to_pick(db, desk_client):
    first = book_today(db, "nhi", "08:00", phone="0912000333", full_name="Mẹ Lan")
    second = book_today(db, "mat", "10:00", phone="0912000333", full_name="Bé Na")
    answer = post(desk_client, "/staff/desk/phone", {"phone": "091 2000 333", "day": today_local().isoformat()})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "091****333" in html
    assert html.index("Mẹ Lan") < html.index("Bé Na")
    assert f'name="code" value="{first.code}"' in html and f'name="code" value="{second.code}"' in html
    picked = post(desk_client, "/staff/desk/lookup", {"code": second.code, "kind": "phone"})
    assert picked.status_code == 200 and "Bé Na" in picked.get_data(as_text=True)
    with db.reader() as uow:
        assert uow.session.scalar(select(ReceptionTiming.lookup_kind)) == "phone"


def test_todays_list_filters_by_department_state_and_search(db, desk_client):
    lan = book_today(db, "nhi", "08:00", full_name="Trần Thị Lan")
    minh = book_today(db, "mat", "08:00", full_name="Phạm Minh")
    whole = desk_client.get("/staff/desk").get_data(as_text=True)
    assert lan.code in whole and minh.code in whole and "Đã đặt: 2" in whole
    nhi = desk_client.get("/staff/desk/today?department=nhi", headers=HTMX).get_data(as_text=True)
    assert lan.code in nhi and minh.code not in nhi and "<html" not in nhi
    found = post(desk_client, "/staff/desk/today", {"q": "minh"}).get_data(as_text=True)
    assert minh.code in found and lan.code not in found
    checked = desk_client.get("/staff/desk/today?status=checked_in", headers=HTMX).get_data(as_text=True)
    assert "Không có lịch hẹn nào" in checked
    assert desk_client.get("/staff/desk/today?status=<x>&department=%27").status_code == 200
    page = post(desk_client, "/staff/desk/today", {"q": "lan", "status": "booked"}, htmx=False)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and lan.code in html and minh.code not in html


def test_roles_without_the_desk_are_refused_and_the_record_links_page_is_for_reception_and_records(db, world):
    for role, desk_status, links_status in (
        ("records", 403, 200),
        ("communications", 403, 403),
        ("hospital_admin", 403, 403),
        ("receptionist", 200, 200),
    ):
        username, _ = make_staff(db, role)
        client = make_app(db).test_client()
        log_in(client, username)
        assert client.get("/staff/desk").status_code == desk_status, role
        assert client.get("/staff/desk/today").status_code == desk_status, role
        assert client.get("/staff/record-links").status_code == links_status, role
        token = csrf_of(client.get("/staff/").get_data(as_text=True))
        for path in ("/staff/desk/lookup", "/staff/desk/check-in", "/staff/desk/phone", "/staff/desk/name"):
            answer = client.post(path, data={"csrf_token": token, "code": "ZZZZZZ"}, headers=HTMX)
            assert (answer.status_code == 403) == (desk_status == 403), (role, path)
        linked = client.post("/staff/record-links", data={"csrf_token": token, "code": "ZZZZZZZZ", "cccd": CCCD})
        assert (linked.status_code == 403) == (links_status == 403), role


def test_the_qr_is_made_of_booking_codes_only():
    assert str(qr_svg("K7M2QX")).startswith('<svg viewBox="0 0 ') and "style" not in str(qr_svg("K7M2QX"))
    for text in ("<script>", "k7m2qx", "K7M2QX<"):
        with pytest.raises(ValueError):
            qr_svg(text)


# --- the record link ------------------------------------------------------------------------------------------


@pytest.fixture
def linking(db, world):
    """A person with a visit at "test" (CCCD known), a Zalo account with a desk code, a records clerk."""
    add_hospital(db, "other")
    person = store_visit(db, mai())
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "zalo", "oa-1:user-123456789")
    with db.uow() as uow:
        code, _ = record_access.issue_desk_code(uow, account_id)
    return person, account_id, code


def links(db, account_id):
    with db.reader() as uow:
        return [
            (link.person_id, link.relation, link.verified_by)
            for link in uow.session.scalars(select(ReaderLink).where(ReaderLink.account_id == account_id))
        ]


def clerk(db, role="records", hospital="test"):
    username, _ = make_staff(db, role, hospital)
    client = make_app(db).test_client()
    log_in(client, username)
    client.token = csrf_of(client.get("/staff/record-links").get_data(as_text=True))
    return client


def test_the_record_link_page_links_the_zalo_user_after_the_cccd(db, linking):
    person, account_id, code = linking
    client = clerk(db)
    wrong = client.post("/staff/record-links", data={"code": "ZZZZZZZZ", "cccd": CCCD, "csrf_token": client.token})
    assert wrong.status_code == 404 and "Mã liên kết không đúng" in wrong.get_data(as_text=True)
    bad = client.post("/staff/record-links", data={"code": code, "cccd": "123", "csrf_token": client.token})
    assert bad.status_code == 422 and "12 chữ số" in bad.get_data(as_text=True)
    adult = client.post(
        "/staff/record-links", data={"code": code, "cccd": CCCD, "relation": "guardian", "csrf_token": client.token}
    )
    assert adult.status_code == 409 and "dưới 16 tuổi" in adult.get_data(as_text=True)
    done = client.post(
        "/staff/record-links", data={"code": code.lower(), "cccd": CCCD, "relation": "self", "csrf_token": client.token}
    )
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "Đã liên kết" in html and "Trần Thị Mai" in html
    assert "********1234" in html and CCCD not in html and "user-123456789" not in html
    assert links(db, account_id) == [(person, "self", "desk")]
    assert [a for a, _, _ in actions(db)] == ["record_link_refused"] * 3 + ["record_link"]


def test_a_clerk_of_another_hospital_cannot_link_a_person_without_a_visit_there(db, linking):
    _, account_id, code = linking
    client = clerk(db, "receptionist", "other")
    refused = client.post("/staff/record-links", data={"code": code, "cccd": CCCD, "csrf_token": client.token})
    unknown = client.post(
        "/staff/record-links", data={"code": code, "cccd": "001099000000", "csrf_token": client.token}
    )
    # the same answer as for a CCCD nobody holds: the desk learns nothing of other hospitals' patients
    for answer in (refused, unknown):
        assert answer.status_code == 404
        assert "Không tìm thấy hồ sơ có số CCCD này tại bệnh viện." in answer.get_data(as_text=True)
    assert links(db, account_id) == []


# --- in the browser -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with console_stack(tmp_path_factory.mktemp("desk")) as running:
        yield running


def test_the_desk_path_by_keyboard_alone(stack, browser):  # noqa: F811
    appt = book_today(stack.db, "nhi", "08:00", full_name="Võ Thị Kim")
    nxt = book_today(stack.db, "mat", "08:30", full_name="Đặng Văn Tư")
    username, _ = make_staff(stack.db, "receptionist")
    with console_page(browser) as page:
        login(page, stack, username)
        page.goto(f"{stack.console_url}/desk")
        code = page.locator("#desk-code")
        expect(code).to_be_focused()
        page.keyboard.type(appt.code.lower())
        page.keyboard.press("Enter")
        expect(page.locator("#desk-booking")).to_contain_text("Võ Thị Kim")
        expect(page.locator("#desk-check-in")).to_be_focused()
        page.keyboard.press("Enter")
        slip = page.locator("#desk-slip")
        expect(slip).to_contain_text("Võ Thị Kim")
        expect(page.locator("#slip-queue")).to_have_text(str(appt.queue_number))
        expect(slip.locator("svg.qr")).to_be_visible()
        expect(slip).to_contain_text("Phòng Nhi")
        expect(code).to_be_focused()
        expect(code).to_have_value("")
        expect(page.locator(f"#today tr[data-code='{appt.code}']")).to_contain_text("Đã tiếp đón")
        # the next patient, straight away
        page.keyboard.type(nxt.code)
        page.keyboard.press("Enter")
        expect(page.locator("#desk-check-in")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#desk-slip")).to_contain_text("Đặng Văn Tư")
        # a code unknown here: the refusal, the field focused and selected for the next scan
        page.keyboard.type("ZZZZZZ")
        page.keyboard.press("Enter")
        expect(page.locator("[data-desk-error]")).to_contain_text("Không tìm thấy lịch hẹn")
        expect(code).to_be_focused()


def test_the_phone_fallback_and_todays_list_in_the_browser(stack, browser):  # noqa: F811
    appt = book_today(stack.db, "mat", "10:00", full_name="Hồ Văn Sơn", phone="0912000444")
    username, _ = make_staff(stack.db, "receptionist")
    with console_page(browser) as page:
        login(page, stack, username)
        page.goto(f"{stack.console_url}/desk")
        page.fill("#desk-phone", "0912 000 444")
        page.keyboard.press("Enter")
        results = page.locator(".desk-phone-results")
        expect(results).to_contain_text("Hồ Văn Sơn")
        expect(results.get_by_role("button", name="Chọn")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#desk-check-in")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#desk-slip")).to_contain_text("Hồ Văn Sơn")
        page.fill("#today-q", "hồ văn")
        row = page.locator(f"#today tr[data-code='{appt.code}']")
        expect(row).to_contain_text("Đã tiếp đón")
        expect(page.locator("#today tbody tr")).to_have_count(1)


def test_the_record_link_page_in_the_browser(stack, browser):  # noqa: F811
    person = store_visit(stack.db, mai(cccd="079185007777", full_name="Ngô Thị Bình", his_patient_code="BN777"))
    with stack.db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "zalo", "oa-1:user-777777777")
    with stack.db.uow() as uow:
        code, _ = record_access.issue_desk_code(uow, account_id)
    username, _ = make_staff(stack.db, "records")
    with console_page(browser) as page:
        login(page, stack, username)
        page.get_by_role("link", name="Liên kết hồ sơ").first.click()
        page.fill("#link-code", code)
        page.fill("#link-cccd", "079185007777")
        page.get_by_role("button", name="Liên kết").click()
        expect(page.locator("#link-done")).to_contain_text("Ngô Thị Bình")
        expect(page.locator("#link-done")).to_contain_text("********7777")
    assert links(stack.db, account_id) == [(person, "self", "desk")]
