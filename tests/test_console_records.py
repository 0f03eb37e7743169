"""Records staff's console pages (/staff/records/...), through Flask's test client: each page shows the seeded
data of the hospital in force (match conflicts side by side, import reports and their items, the record access
audit, data-subject requests by deadline); confirming or rejecting a match changes it; another hospital's match,
import or request is refused (403) and never shown; every action is in the staff action log; other roles get 403.
The browser path (confirming a match) is tests/test_console_records_browser.py."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from core.audit import AccessAudit, Actor
from core.booking.models import Hospital
from core.emr import subject_requests
from core.emr.importing import create_import, store_parsed
from core.emr.models import MatchStatus, Person, PersonMatch
from core.emr.reading import person_record
from core.emr.records import ParsedFile, ParsedVisit, Problem
from core.staff.models import StaffAction
from core.timeutil import to_local
from tests.console_support import PASSWORD, make_staff
from tests.emr_people import CCCD, NOW, OTHER, TEST, mai, store_visit
from tests.emr_records import visits
from tests.factories import add_hospital
from tests.test_console_access import csrf_of, make_app

# --- helpers ---------------------------------------------------------------------------------------------------


def logged_in(db, role: str = "records", hospital: str = "test"):
    username, _ = make_staff(db, role, hospital)
    client = make_app(db).test_client()
    token = csrf_of(client.get("/staff/login").get_data(as_text=True))
    response = client.post("/staff/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client, username


def post(client, path: str, **form: str):
    token = csrf_of(client.get("/staff/records/matches").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **form})


def hospital_id(db, slug: str) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(Hospital.id).where(Hospital.slug == slug))


def staff_actions(db) -> list[tuple[str, str, str]]:
    with db.reader() as uow:
        rows = uow.session.scalars(
            select(StaffAction).where(StaffAction.target_kind != "staff").order_by(StaffAction.id)
        )
        return [(a.action, a.target_kind, a.target_id) for a in rows]


@pytest.fixture
def province(db, world):
    """Hospitals "test" (99999) and "other" (88888)."""
    add_hospital(db, "other")
    return world


def cccd_conflict(db) -> int:
    """Mai at "test", then at "other" with day and month swapped: a match "test" sees (its id)."""
    store_visit(db, mai(), facility=TEST)
    store_visit(db, mai(birth_month=12, birth_day=3, insurance_cards=(), his_patient_code="X9"), facility=OTHER)
    with db.reader() as uow:
        return uow.session.scalar(select(PersonMatch.id).order_by(PersonMatch.id.desc()))


def others_match(db) -> int:
    """Two namesakes, both only at "other": a candidate "test" must not see."""
    binh = {"full_name": "Lê Văn Bình", "sex": "male", "cccd": None, "insurance_cards": (), "birth_year": 1970}
    store_visit(db, mai(**binh, his_patient_code="Z1"), facility=OTHER)
    store_visit(db, mai(**binh, his_patient_code="Z2"), facility=OTHER)
    with db.reader() as uow:
        return uow.session.scalar(select(PersonMatch.id).order_by(PersonMatch.id.desc()))


def match_status(db, match_id: int) -> str:
    with db.reader() as uow:
        return uow.session.get(PersonMatch, match_id).status


# --- matches ---------------------------------------------------------------------------------------------------


def test_the_matches_page_shows_the_conflict_side_by_side_masked_and_not_another_hospitals(db, province):
    mine, theirs = cccd_conflict(db), others_match(db)
    client, _ = logged_in(db)
    html = client.get("/staff/records/matches").get_data(as_text=True)
    assert f'id="match-{mine}"' in html and f'id="match-{theirs}"' not in html
    assert "Cùng CCCD, khác ngày sinh hoặc giới tính" in html
    assert "Trần Thị Mai" in html and "Lê Văn Bình" not in html
    assert "1985-03-12" in html and "1985-12-03" in html
    assert "********1234" in html and CCCD not in html  # masked, never the whole number
    assert '<tr class="differs">\n        <th scope="row">Ngày sinh</th>' in html
    assert "Hồ sơ bệnh án" in html  # the menu entry


def test_confirming_keeps_the_chosen_demographics_merges_and_is_audited(db, province):
    match_id = cccd_conflict(db)
    client, username = logged_in(db)
    response = post(client, f"/staff/records/matches/{match_id}/confirm", keep="other")
    assert response.status_code == 302
    assert match_status(db, match_id) == MatchStatus.CONFIRMED.value
    with db.reader() as uow:
        match = uow.session.get(PersonMatch, match_id)
        survivor = uow.session.get(Person, match.person_id)
        merged = uow.session.get(Person, match.other_person_id)
        assert (survivor.birth_month, survivor.birth_day) == (12, 3)  # the other's birth date was the right one
        assert merged.merged_into_id == survivor.id and match.decided_by == f"staff:{username}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Đã xác nhận: hai hồ sơ đã được gộp." in page and "Không có đề xuất nào đang chờ." in page
    assert ("match_confirm", "emr_person_match", str(match_id)) in staff_actions(db)
    again = post(client, f"/staff/records/matches/{match_id}/confirm", keep="person")
    assert again.status_code == 409 and "đã được xử lý" in again.get_data(as_text=True)


def test_rejecting_keeps_the_two_apart_and_is_audited(db, province):
    match_id = cccd_conflict(db)
    client, _ = logged_in(db)
    assert post(client, f"/staff/records/matches/{match_id}/reject").status_code == 302
    assert match_status(db, match_id) == MatchStatus.REJECTED.value
    assert ("match_reject", "emr_person_match", str(match_id)) in staff_actions(db)
    bad = post(client, f"/staff/records/matches/{match_id}/confirm", keep="nobody")
    assert bad.status_code == 422 and "Cần chọn" in bad.get_data(as_text=True)


def test_another_hospitals_match_is_refused_and_left_open(db, province):
    theirs = others_match(db)
    client, _ = logged_in(db)
    for action in ("confirm", "reject"):
        response = post(client, f"/staff/records/matches/{theirs}/{action}", keep="person")
        assert response.status_code == 403
        assert "Lê Văn Bình" not in response.get_data(as_text=True)
    assert post(client, "/staff/records/matches/99999/reject").status_code == 404
    assert match_status(db, theirs) == MatchStatus.OPEN.value
    assert staff_actions(db) == []


@pytest.mark.parametrize("role", ["receptionist", "communications", "hospital_admin"])
def test_other_roles_may_not_open_the_records_pages(db, province, role):
    match_id = cccd_conflict(db)
    client, _ = logged_in(db, role)
    for path in (
        "/staff/records/matches",
        "/staff/records/imports",
        "/staff/records/access",
        "/staff/records/requests",
    ):
        assert client.get(path).status_code == 403, path
    token = csrf_of(client.get("/staff/").get_data(as_text=True))
    response = client.post(f"/staff/records/matches/{match_id}/reject", data={"csrf_token": token})
    assert response.status_code == 403
    assert match_status(db, match_id) == MatchStatus.OPEN.value


# --- import reports --------------------------------------------------------------------------------------------


def seeded_import(db, facility: str = TEST, filename: str = "kcb-2026-12-07.xml", hospital: int | None = None) -> int:
    """Four good visits (one with a warning) and one the parser refused."""
    good = visits(4, facility_code=facility, start=0 if facility == TEST else 50)
    skipped = Problem("unknown table XML99 skipped", "XML99", "", None)
    parsed = ParsedFile(
        facility,
        (
            ParsedVisit(facility, good[0].visit_key, good[0], warnings=(skipped,)),
            ParsedVisit(
                facility, "LK-BAD", None, (Problem("NGAY_VAO is not a date: '2024-13-45'", "XML1", "NGAY_VAO", 1),)
            ),
            *(ParsedVisit(facility, v.visit_key, v) for v in good[1:]),
        ),
    )
    import_id = create_import(
        db, "xml130", b"<GIAMDINHHS/>", channel="api", filename=filename, hospital_id=hospital, now=NOW
    )
    store_parsed(db, parsed, import_id=import_id, hospital_id=hospital, now=NOW)
    return import_id


def test_the_imports_page_lists_the_hospitals_imports_with_their_counts(db, province):
    mine = seeded_import(db, hospital=hospital_id(db, "test"))
    theirs = seeded_import(db, OTHER, filename="other-hospital.xml", hospital=hospital_id(db, "other"))
    client, _ = logged_in(db)
    html = client.get("/staff/records/imports").get_data(as_text=True)
    assert f'data-import="{mine}"' in html and f'data-import="{theirs}"' not in html
    assert "kcb-2026-12-07.xml" in html and "other-hospital.xml" not in html
    row = html.split(f'data-import="{mine}"')[1].split("</tr>")[0]
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert cells[3:5] == ["4", "0"]  # stored, updated
    assert '<span class="badge bad">1</span>' in row and '<span class="badge warn">1</span>' in row  # refused, warned


def test_an_imports_items_show_their_problems_page_by_page_and_another_hospitals_is_refused(db, province):
    mine = seeded_import(db, hospital=hospital_id(db, "test"))
    theirs = seeded_import(db, OTHER, filename="other-hospital.xml", hospital=hospital_id(db, "other"))
    client, username = logged_in(db)
    html = client.get(f"/staff/records/imports/{mine}").get_data(as_text=True)
    assert "LK-BAD" in html and "Bị từ chối" in html
    assert "Lỗi · XML1 NGAY_VAO (dòng 1): NGAY_VAO is not a date: &#39;2024-13-45&#39;" in html
    assert "Cảnh báo · XML99: unknown table XML99 skipped" in html
    only = client.get(f"/staff/records/imports/{mine}?problems=1").get_data(as_text=True)
    assert only.count('data-position="') == 2
    assert client.get(f"/staff/records/imports/{mine}?page=7").status_code == 200  # clamped to the last page
    refused = client.get(f"/staff/records/imports/{theirs}")
    assert refused.status_code == 403 and "other-hospital.xml" not in refused.get_data(as_text=True)
    assert client.get("/staff/records/imports/999999").status_code == 404
    with db.reader() as uow:
        audited = uow.session.scalars(select(AccessAudit).where(AccessAudit.record_kind == "emr_import")).all()
    assert {(a.actor_kind, a.actor_name, a.record_id) for a in audited} == {("staff", username, str(mine))}


def test_imports_are_paginated(db, province):
    from core.emr import import_reports

    test = hospital_id(db, "test")
    ids = [
        create_import(db, "xml130", b"x", channel="cli", filename=f"f{i}.xml", hospital_id=test, now=NOW)
        for i in range(23)
    ]
    client, _ = logged_in(db)
    first = client.get("/staff/records/imports").get_data(as_text=True)
    second = client.get("/staff/records/imports?page=2").get_data(as_text=True)
    assert first.count("data-import=") == import_reports.IMPORTS_PER_PAGE and second.count("data-import=") == 3
    assert "Trang 1 / 2" in first and f'data-import="{ids[0]}"' in second  # newest first: the first made is last


# --- the record access audit -----------------------------------------------------------------------------------


def test_the_access_audit_shows_who_read_a_person_searched_by_cccd_or_masked_number(db, province):
    person_id = store_visit(db, mai(), facility=TEST)
    reader = Actor(kind="api_client", client_id=7, client_name="his-gateway", purpose="GET /api/v1/emr/persons")
    with db.reader() as uow:
        person_record(uow, person_id, reader=reader, purpose="his export")
    client, username = logged_in(db)
    for query in (CCCD, "********1234", f"#{person_id}"):
        html = post(client, "/staff/records/access", q=query).get_data(as_text=True)
        assert f"Ai đã xem hồ sơ #{person_id} · Trần Thị Mai" in html, query
        assert "Khóa API: his-gateway" in html and "API" in html and "Hồ sơ bệnh án" in html
    latest = client.get("/staff/records/access").get_data(as_text=True)
    assert "Các lượt xem hồ sơ gần đây" in latest and f"#{person_id} · Trần Thị Mai" in latest
    bad = post(client, "/staff/records/access", q="abc")
    assert bad.status_code == 422 and "Nhập số CCCD" in bad.get_data(as_text=True)
    with db.reader() as uow:
        looked = uow.session.scalars(select(AccessAudit).where(AccessAudit.record_kind == "emr_access_log")).all()
    assert {(a.actor_kind, a.actor_name, a.record_id) for a in looked} == {("staff", username, str(person_id))}


def test_another_hospitals_person_is_not_found_in_the_access_audit(db, province):
    theirs = store_visit(db, mai(cccd="079185009999", insurance_cards=(), his_patient_code="O1"), facility=OTHER)
    client, _ = logged_in(db)
    searched = post(client, "/staff/records/access", q="079185009999")
    opened = client.get("/staff/records/access", query_string={"person": str(theirs)})
    for response in (searched, opened):
        assert response.status_code == 404 and "Trần Thị Mai" not in response.get_data(as_text=True)


# --- data-subject requests -------------------------------------------------------------------------------------


def seed_request(
    db, hospital: int | None, received: dt.datetime, kind: str = "withdraw", user: str = "zu-100001"
) -> int:
    with db.uow() as uow:
        row = subject_requests.record_request(
            uow, kind=kind, oa_id="oa", user_id=user, hospital_id=hospital, now=received
        )
        uow.commit()
        return row.id


def test_the_requests_page_shows_overdue_first_and_done_refused_record_who(db, province):
    test, other = hospital_id(db, "test"), hospital_id(db, "other")
    now = dt.datetime.now(dt.UTC)
    late = seed_request(db, test, now - dt.timedelta(days=10), user="zu-late01")
    fresh = seed_request(db, test, now, kind="consent_withdrawal", user="zu-new001")
    theirs = seed_request(db, other, now - dt.timedelta(days=20), user="zu-theirs")
    client, username = logged_in(db)
    html = client.get("/staff/records/requests").get_data(as_text=True)
    assert html.index(f'id="request-{late}"') < html.index(f'id="request-{fresh}"')
    assert f'id="request-{theirs}"' not in html and "zu-theirs"[-6:] not in html
    late_block = html.split(f'id="request-{late}"')[1].split("</article>")[0]
    assert "Quá hạn" in late_block and "Rút dữ liệu khỏi OA (Zalo)" in late_block
    due = to_local(subject_requests.due_at(now)) - dt.timedelta(seconds=1)  # 23:59:59 of the last day
    assert "Rút lại đồng ý xử lý dữ liệu" in html and f"Hạn: hết ngày {due:%d/%m/%Y}" in html

    assert post(client, f"/staff/records/requests/{theirs}/done").status_code == 403
    no_reason = post(client, f"/staff/records/requests/{fresh}/refuse", reason=" ")
    assert no_reason.status_code == 422 and "Cần ghi lý do từ chối." in no_reason.get_data(as_text=True)
    assert post(client, f"/staff/records/requests/{late}/done", reason="Đã gọi lại").status_code == 302
    assert post(client, f"/staff/records/requests/{fresh}/refuse", reason="Không xác minh được").status_code == 302
    assert post(client, f"/staff/records/requests/{late}/done").status_code == 409
    page = client.get("/staff/records/requests").get_data(as_text=True)
    assert "Không có yêu cầu nào đang chờ." in page
    closed = page.split('id="closed-requests"')[1]
    assert "Đã từ chối" in closed and "Không xác minh được" in closed and f"{username} · " in closed
    assert [a for a in staff_actions(db) if a[1] == "data_subject_request"] == [
        ("request_done", "data_subject_request", str(late)),
        ("request_refuse", "data_subject_request", str(fresh)),
    ]
    with db.reader() as uow:
        assert uow.session.get(subject_requests.DataSubjectRequest, theirs).status == "open"


def test_a_province_admin_works_in_the_hospital_chosen_and_a_province_wide_request_is_every_hospitals(db, province):
    others = others_match(db)
    province_wide = seed_request(db, None, dt.datetime.now(dt.UTC), user="zu-prov01")
    client, _ = logged_in(db, "province_admin", None)
    with client.session_transaction("/staff/") as session:  # the hospital chosen (the menu's choice, auth_pages.py)
        session["hospital_id"] = hospital_id(db, "other")
    assert f'id="match-{others}"' in client.get("/staff/records/matches").get_data(as_text=True)
    page = client.get("/staff/records/requests").get_data(as_text=True)
    assert f'id="request-{province_wide}"' in page and "OA chung của tỉnh" in page
    assert post(client, f"/staff/records/requests/{province_wide}/done").status_code == 302
    test_staff, _ = logged_in(db)
    assert f'id="request-{province_wide}"' not in test_staff.get("/staff/records/requests").get_data(as_text=True)
    assert f'id="match-{others}"' not in test_staff.get("/staff/records/matches").get_data(as_text=True)
