"""The REST API as its clients see it: status codes, bodies, and the exact error JSON of every refusal.

The API runs on the real clock, so the world starts today and bookings take slots from the slot search.
Check-in needs an appointment on the current local day; such appointments are booked through the service
with ``now=`` at local midnight (a slot later today is then always bookable), and checked in through the API.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, update

from core import access
from core.booking.models import Appointment, Department, Doctor, Hospital, Slot
from core.timeutil import local_to_utc
from henkham.web import create_app
from tests import factories
from tests.factories import add_hospital, new_patient, slot_at, today_local
from tests.identity_helpers import TOKEN_HEADER, with_fake_graph
from tests.identity_helpers import bearer as auth

API = "/api/v1"
SLOTS = f"{API}/hospitals/test/departments/{{department}}/slots"
CODE = re.compile(r"^[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{6}$")

VI_UNAUTHORIZED = "Dạ, ứng dụng chưa được cấp quyền truy cập ạ."
VI_FORBIDDEN = "Dạ, ứng dụng không có quyền thực hiện thao tác này ạ."
VI_INVALID = "Dạ, thông tin gửi lên chưa đúng. Anh/chị kiểm tra lại giúp em ạ."
VI_NO_APPOINTMENT = "Dạ, em không tìm thấy lịch hẹn với mã này. Anh/chị kiểm tra lại mã đặt lịch giúp em ạ."
VI_NO_PATIENT = "Dạ, em không tìm thấy hồ sơ người khám này. Anh/chị chọn lại hồ sơ giúp em ạ."
VI_SLOT_FULL = "Dạ, khung giờ này vừa hết chỗ. Anh/chị chọn khung giờ khác giúp em ạ."
NOT_VALID = "the request is not valid; see details"
VI_OTHER_HOSPITAL = "Dạ, thông tin này thuộc bệnh viện khác nên ứng dụng không truy cập được ạ."


def error(code: str, message: str, message_vi: str, /, **details: object) -> dict:
    return {"error": {"code": code, "message": message, "message_vi": message_vi, "details": details}}


def other_hospital(kind: str) -> dict:
    return error("forbidden", f"this {kind} belongs to another hospital than this client's", VI_OTHER_HOSPITAL)


OTHER_HOSPITAL = other_hospital("appointment")
NO_DEPARTMENT_TIM = error(
    "not_found",
    "test has no department 'tim'",
    "Dạ, Bệnh viện Thử nghiệm chưa có khoa này để đặt lịch. Anh/chị chọn khoa khác giúp em ạ.",
    hospital="test",
    department="tim",
)


class Refused:
    """A field's messages in a validation refusal. Pydantic writes the wording, so only that the field is
    refused is pinned, plus ``part`` of a message we wrote ourselves."""

    def __init__(self, part: str = "") -> None:
        self.part = part

    def __eq__(self, other: object) -> bool:
        return isinstance(other, list) and len(other) == 1 and isinstance(other[0], str) and self.part in other[0]

    def __repr__(self) -> str:
        return f"Refused({self.part!r})"


REFUSED = Refused()


def invalid(location: str, **fields: Refused) -> dict:
    """The body of a request refused by schema validation (422)."""
    return error("invalid_input", NOT_VALID, VI_INVALID, **{location: fields})


def assert_refused(response, status: int, expected: dict) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    assert response.get_json() == expected
    return expected["error"]


# --- fixtures and helpers ---------------------------------------------------------------------------------


@pytest.fixture
def client(db, world):
    return with_fake_graph(create_app(database=db)).test_client()


@pytest.fixture
def keys(db, world) -> dict[str, str]:
    made = {}
    with db.uow() as uow:
        made["mini_app"] = access.create_api_key(uow, name="mini-app", kind="mini_app")
        made["kiosk"] = access.create_api_key(uow, name="kiosk-test", kind="kiosk", hospital_slug="test")
        made["his"] = access.create_api_key(uow, name="his-test", kind="his", hospital_slug="test")
        made["admin"] = access.create_api_key(uow, name="admin", kind="admin")
    return made


def tomorrow() -> dt.date:
    return today_local() + dt.timedelta(days=1)


def search(client, department: str = "nhi", **query) -> list[dict]:
    query.setdefault("limit", 50)
    response = client.get(SLOTS.format(department=department), query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["slots"]


def free_of(client, slot: dict) -> int:
    """The free seats the slot search shows for this slot (0 when it is no longer offered)."""
    for found in search(client, slot["department"], date=slot["day"]):
        if found["id"] == slot["id"]:
            return found["free"]
    return 0


def slots_tomorrow(client, department: str = "nhi", **query) -> list[dict]:
    found = search(client, department, date=tomorrow().isoformat(), **query)
    assert found, "the world has slots every day"
    return found


PATIENT = {"full_name": "Nguyễn Thị Lan", "date_of_birth": "1990-05-17", "sex": "female", "phone": "0912345678"}


def create_patient(client, key: str, account: str, **overrides) -> dict:
    response = client.post(f"{API}/patients", json={**PATIENT, **overrides}, headers=auth(key, account))
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.get_json()


def zalo_patient(client, keys) -> tuple[str, dict[str, str], dict]:
    """The Mini App's key, the headers of its Zalo user "zalo-1", and a new patient profile of that user."""
    mini = keys["mini_app"]
    return mini, auth(mini, "zalo-1"), create_patient(client, mini, "zalo-1")


def book(client, key: str, account: str | None, slot_id: int, patient_id: int, key_header: str | None = None, **body):
    extra = {"Idempotency-Key": key_header} if key_header else {}
    return client.post(
        f"{API}/appointments",
        json={"slot_id": slot_id, "patient_id": patient_id, **body},
        headers=auth(key, account, **extra),
    )


def booked(client, key: str, account: str | None, slot_id: int, patient_id: int, **body) -> dict:
    response = book(client, key, account, slot_id, patient_id, **body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def book_today(db, world, patient_id: int, department: str = "nhi", hhmm: str = "07:00", **kw) -> dict:
    """An appointment on the current local day, booked as if it were local midnight."""
    today = today_local()
    slot_id = slot_at(db, department, today, hhmm)
    view = factories.book(db, world, slot_id, patient_id, now=local_to_utc(today, dt.time(0, 0)), **kw)
    return view.model_dump(mode="json")


def appointment_count(db) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Appointment))


# --- public catalogue -------------------------------------------------------------------------------------


def test_hospitals_and_departments_are_public(client):
    response = client.get(f"{API}/hospitals")
    assert response.status_code == 200
    hospitals = response.get_json()["hospitals"]
    assert [h["slug"] for h in hospitals] == ["test"]
    assert hospitals[0]["name"] == "Bệnh viện Thử nghiệm"
    assert hospitals[0]["booking_horizon_days"] == 30 and hospitals[0]["min_lead_minutes"] == 60

    response = client.get(f"{API}/hospitals/test")
    assert response.status_code == 200
    assert response.get_json()["emergency_phone"] == "02900000115"

    response = client.get(f"{API}/hospitals/test/departments")
    assert response.status_code == 200
    assert response.get_json() == {
        "departments": [
            {"slug": "nhi", "name": "Nhi", "location": "Khu A", "what_to_bring": "CCCD"},
            {"slug": "mat", "name": "Mắt", "location": "Khu A", "what_to_bring": "CCCD"},
        ]
    }


@pytest.mark.parametrize("path", ["", "/departments", "/doctors", "/visit-types", "/departments/nhi/slots"])
def test_unknown_hospital_is_404(client, path):
    assert_refused(
        client.get(f"{API}/hospitals/nope{path}"),
        404,
        error(
            "not_found",
            "no hospital 'nope'",
            "Dạ, em không tìm thấy bệnh viện này. Anh/chị chọn lại bệnh viện giúp em ạ.",
            hospital="nope",
        ),
    )


def test_doctors_and_visit_types(client, db):
    with db.uow() as uow:
        hospital_id = uow.session.scalar(select(Hospital.id).where(Hospital.slug == "test"))
        nhi = uow.session.scalar(select(Department.id).where(Department.slug == "nhi"))
        uow.session.add(Doctor(hospital_id=hospital_id, department_id=nhi, full_name="Trần Văn Bác Sĩ", title="BSCKI"))
        uow.session.add(Doctor(hospital_id=hospital_id, department_id=nhi, full_name="Nghỉ Hưu", active=False))
        uow.commit()

    response = client.get(f"{API}/hospitals/test/doctors")
    assert response.status_code == 200
    doctors = response.get_json()["doctors"]
    assert [(d["full_name"], d["title"], d["department"]) for d in doctors] == [("Trần Văn Bác Sĩ", "BSCKI", "nhi")]
    assert client.get(f"{API}/hospitals/test/doctors?department=nhi").get_json()["doctors"] == doctors
    assert client.get(f"{API}/hospitals/test/doctors?department=mat").get_json() == {"doctors": []}
    assert_refused(client.get(f"{API}/hospitals/test/doctors?department=tim"), 404, NO_DEPARTMENT_TIM)

    response = client.get(f"{API}/hospitals/test/visit-types")
    assert response.status_code == 200
    assert response.get_json() == {
        "visit_types": [
            {"code": "bhyt", "name": "Khám BHYT", "kind": "insurance", "price_vnd": 0},
            {"code": "dich_vu", "name": "Khám dịch vụ", "kind": "service", "price_vnd": 150000},
        ]
    }


def test_slot_search_by_date_and_part_of_day(client):
    day = tomorrow()
    default = client.get(SLOTS.format(department="nhi"))
    assert default.status_code == 200
    assert len(default.get_json()["slots"]) == 5, "five slots unless a limit is given"

    whole_day = search(client, "nhi", date=day.isoformat())
    assert len(whole_day) == 8 + 6  # 07:00-11:00 and 13:30-16:30 in 30-minute slots
    assert all(s["day"] == day.isoformat() and s["department"] == "nhi" and s["free"] == 2 for s in whole_day)
    starts = [s["start"] for s in whole_day]
    assert starts == sorted(starts)
    assert whole_day[0]["start"] == f"{day.isoformat()}T07:00:00+07:00"
    assert whole_day[0]["end"] == f"{day.isoformat()}T07:30:00+07:00"
    assert whole_day[0]["room"] == "Phòng Nhi" and whole_day[0]["department_name"] == "Nhi"

    afternoon = search(client, "mat", date=day.isoformat(), part_of_day="afternoon")
    assert [s["start"][11:16] for s in afternoon] == ["13:30", "14:00", "14:30", "15:00", "15:30", "16:00"]
    assert {s["part_of_day"] for s in afternoon} == {"afternoon"}
    assert {s["department"] for s in afternoon} == {"mat"}

    assert search(client, "nhi", date=day.isoformat(), part_of_day="evening") == []
    beyond = today_local() + dt.timedelta(days=20)  # no slots were generated that far
    assert search(client, "nhi", date=beyond.isoformat()) == []


@pytest.mark.parametrize(
    ("query", "details"),
    [
        ({"date": "27/11/2026"}, {"date": Refused("a date written YYYY-MM-DD")}),
        ({"part_of_day": "night"}, {"part_of_day": REFUSED}),
        ({"limit": "0"}, {"limit": REFUSED}),
        ({"limit": "51"}, {"limit": REFUSED}),
        ({"doctor_id": "x"}, {"doctor_id": REFUSED}),
        ({"colour": "red"}, {"colour": REFUSED}),
    ],
)
def test_slot_search_refuses_an_invalid_query(client, query, details):
    assert_refused(client.get(SLOTS.format(department="nhi"), query_string=query), 422, invalid("query", **details))


def test_slot_search_of_unknown_department_is_404(client):
    assert_refused(client.get(SLOTS.format(department="tim")), 404, NO_DEPARTMENT_TIM)


def test_openapi_document_lists_the_booking_paths(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["info"]["title"] == "henkham API"
    paths = spec["paths"]
    for path, method in [
        ("/api/v1/hospitals", "get"),
        ("/api/v1/hospitals/{slug}/departments/{department}/slots", "get"),
        ("/api/v1/patients", "post"),
        ("/api/v1/appointments", "post"),
        ("/api/v1/appointments/{code}", "get"),
        ("/api/v1/appointments/{code}/cancel", "post"),
        ("/api/v1/appointments/{code}/reschedule", "post"),
        ("/api/v1/check-in", "post"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} is documented"
    assert "/healthz" not in paths


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


# --- authentication and authorisation ---------------------------------------------------------------------


UNAUTHORIZED = error("unauthorized", "Unauthorized", VI_UNAUTHORIZED)
FORBIDDEN = error("forbidden", "Forbidden", VI_FORBIDDEN)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer hk_not-a-key"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["missing", "unknown", "empty", "basic"],
)
def test_missing_or_bad_key_is_401(client, keys, headers):
    headers = {**headers, "X-Henkham-Account": "zalo-1"}
    assert_refused(client.get(f"{API}/patients", headers=headers), 401, UNAUTHORIZED)
    assert_refused(client.post(f"{API}/appointments", json={}, headers=headers), 401, UNAUTHORIZED)


def test_revoked_key_is_401(client, db, keys):
    assert client.get(f"{API}/patients", headers=auth(keys["mini_app"], "zalo-1")).status_code == 200
    with db.uow() as uow:
        uow.session.execute(
            update(access.ApiKey).where(access.ApiKey.name == "mini-app").values(revoked_at=dt.datetime.now(dt.UTC))
        )
        uow.commit()
    assert_refused(client.get(f"{API}/patients", headers=auth(keys["mini_app"], "zalo-1")), 401, UNAUTHORIZED)


def test_kiosk_key_cannot_book(client, db, world, keys):
    patient = new_patient(db, world.account_id)
    slot = slots_tomorrow(client)[0]
    assert_refused(book(client, keys["kiosk"], None, slot["id"], patient), 403, FORBIDDEN)
    assert_refused(book(client, keys["kiosk"], "zalo-1", slot["id"], patient), 403, FORBIDDEN)
    assert_refused(client.post(f"{API}/patients", json=PATIENT, headers=auth(keys["kiosk"])), 403, FORBIDDEN)
    assert appointment_count(db) == 0


def test_mini_app_must_name_the_account(client, db, world, keys):
    expected = error(
        "account_required",
        "this client acts for end users: send the user's X-Zalo-Access-Token",
        "Dạ, ứng dụng cần cho biết tài khoản người dùng ạ.",
    )
    patient = new_patient(db, world.account_id)
    slot = slots_tomorrow(client)[0]
    headers = auth(keys["mini_app"])
    assert_refused(client.post(f"{API}/patients", json=PATIENT, headers=headers), 400, expected)
    assert_refused(client.get(f"{API}/patients", headers=headers), 400, expected)
    assert_refused(book(client, keys["mini_app"], None, slot["id"], patient), 400, expected)
    blank = {**auth(keys["mini_app"]), "X-Henkham-Account": "   ", TOKEN_HEADER: "  "}
    assert_refused(client.get(f"{API}/patients", headers=blank), 400, expected)
    assert appointment_count(db) == 0


def test_account_header_too_long_is_422(client, keys):
    assert_refused(
        client.get(f"{API}/patients", headers=auth(keys["mini_app"], "x" * 121)),
        422,
        error("invalid_input", "X-Henkham-Account is too long", "Dạ, mã tài khoản không hợp lệ ạ."),
    )


def test_an_account_cannot_see_or_change_another_accounts_data(client, db, keys):
    mini = keys["mini_app"]
    patient = create_patient(client, mini, "zalo-1")
    slots = slots_tomorrow(client)
    code = booked(client, mini, "zalo-1", slots[0]["id"], patient["id"])["code"]
    not_found = error("not_found", f"no appointment with code {code!r}", VI_NO_APPOINTMENT, code=code)
    no_patient = error(
        "not_found", f"no patient {patient['id']} for this account", VI_NO_PATIENT, patient_id=patient["id"]
    )

    other = auth(mini, "zalo-2")
    assert_refused(client.get(f"{API}/appointments/{code}", headers=other), 404, not_found)
    assert_refused(client.post(f"{API}/appointments/{code}/cancel", json={}, headers=other), 404, not_found)
    assert_refused(
        client.post(f"{API}/appointments/{code}/reschedule", json={"slot_id": slots[3]["id"]}, headers=other),
        404,
        not_found,
    )
    assert_refused(client.get(f"{API}/patients/{patient['id']}/appointments", headers=other), 404, no_patient)
    assert_refused(book(client, mini, "zalo-2", slots[5]["id"], patient["id"]), 404, no_patient)
    assert client.get(f"{API}/patients", headers=other).get_json() == {"patients": []}

    # The same end-user id sent by another API client is another account.
    with db.uow() as uow:
        second_app = access.create_api_key(uow, name="second-app", kind="mini_app")
    assert_refused(client.get(f"{API}/appointments/{code}", headers=auth(second_app, "zalo-1")), 404, not_found)

    mine = client.get(f"{API}/appointments/{code}", headers=auth(mini, "zalo-1")).get_json()
    assert mine["status"] == "booked" and mine["start"] == slots[0]["start"]
    assert appointment_count(db) == 1


# --- patients ---------------------------------------------------------------------------------------------


def test_create_patient_then_the_same_again_returns_it(client, keys):
    headers = auth(keys["mini_app"], "zalo-1")
    first = client.post(f"{API}/patients", json=PATIENT, headers=headers)
    assert first.status_code == 201
    created = first.get_json()
    assert created == {
        "id": created["id"],
        "relation": "self",
        "full_name": "Nguyễn Thị Lan",
        "date_of_birth": "1990-05-17",
        "sex": "female",
        "phone_masked": "091****678",
        "has_cccd": False,
        "has_insurance_number": False,
    }

    again = client.post(
        f"{API}/patients", json={**PATIENT, "full_name": "  Nguyễn  Thị Lan ", "phone": "84912345678"}, headers=headers
    )
    assert again.status_code == 200
    assert again.get_json()["id"] == created["id"]

    child = client.post(
        f"{API}/patients",
        json={
            **PATIENT,
            "full_name": "Trần Minh Khôi",
            "date_of_birth": "2019-03-02",
            "sex": "male",
            "relation": "child",
            "cccd": "001219012345",
            "insurance_number": "TE1791234567890",
        },
        headers=headers,
    )
    assert child.status_code == 201
    assert child.get_json()["has_cccd"] and child.get_json()["has_insurance_number"]
    listed = client.get(f"{API}/patients", headers=headers).get_json()["patients"]
    assert [p["full_name"] for p in listed] == ["Nguyễn Thị Lan", "Trần Minh Khôi"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"phone": "0212345678"},
            error(
                "invalid_input",
                "phone must be a Vietnamese mobile number such as 0912345678",
                "Dạ, số điện thoại chưa đúng. Anh/chị vui lòng nhập số di động 10 số, ví dụ 0912345678 ạ.",
                field="phone",
            ),
        ),
        (
            {"phone": "091234567a"},
            error(
                "invalid_input",
                "phone must be a Vietnamese mobile number such as 0912345678",
                "Dạ, số điện thoại chưa đúng. Anh/chị vui lòng nhập số di động 10 số, ví dụ 0912345678 ạ.",
                field="phone",
            ),
        ),
        (
            {"cccd": "12345"},
            error(
                "invalid_input",
                "CCCD must be 12 digits",
                "Dạ, số CCCD gồm 12 chữ số. Anh/chị kiểm tra lại giúp em ạ.",
                field="cccd",
            ),
        ),
        (
            {"cccd": "001185012345"},  # born 1985 according to the CCCD, 1990 according to the profile
            error(
                "invalid_input",
                "CCCD does not match the date of birth (4th to 6th digits encode the year of birth)",
                "Dạ, số CCCD không khớp với năm sinh. Anh/chị kiểm tra lại số CCCD hoặc ngày sinh giúp em ạ.",
                field="cccd",
            ),
        ),
        (
            {"cccd": "001090012345"},  # 4th digit 0: a man, but the profile says female
            error(
                "invalid_input",
                "CCCD does not match the sex (4th digit: even for male, odd for female)",
                "Dạ, số CCCD không khớp với giới tính đã khai. Anh/chị kiểm tra lại giúp em ạ.",
                field="cccd",
            ),
        ),
        (
            {"insurance_number": "XX12345"},
            error(
                "invalid_input",
                "insurance number must be a 15-character BHYT card (e.g. DN4791234567890), "
                "a 10-digit social-insurance number or a 12-digit CCCD",
                "Dạ, mã thẻ BHYT chưa đúng. Anh/chị nhập mã 15 ký tự trên thẻ (ví dụ DN4791234567890), "
                "mã số BHXH 10 số hoặc số CCCD 12 số ạ.",
                field="insurance_number",
            ),
        ),
        (
            {"date_of_birth": "2999-01-01"},
            error(
                "invalid_input",
                "date_of_birth is in the future or implausibly old",
                "Dạ, ngày sinh chưa đúng. Anh/chị kiểm tra lại giúp em ạ.",
                field="date_of_birth",
            ),
        ),
        ({"nickname": "Lan"}, invalid("json", nickname=REFUSED)),
        ({"sex": "other"}, invalid("json", sex=REFUSED)),
        ({"full_name": "L"}, invalid("json", full_name=REFUSED)),
    ],
    ids=[
        "landline",
        "letter-in-phone",
        "short-cccd",
        "cccd-year",
        "cccd-sex",
        "insurance",
        "future-birth",
        "unknown-field",
        "sex",
        "short-name",
    ],
)
def test_create_patient_refuses_invalid_data(client, keys, overrides, expected):
    response = client.post(f"{API}/patients", json={**PATIENT, **overrides}, headers=auth(keys["mini_app"], "zalo-1"))
    refused = assert_refused(response, 422, expected)
    assert refused["message_vi"].startswith("Dạ") and refused["message_vi"].endswith("ạ.")
    assert client.get(f"{API}/patients", headers=auth(keys["mini_app"], "zalo-1")).get_json() == {"patients": []}


def test_create_patient_with_a_future_birth_date_tomorrow(client, keys):
    response = client.post(
        f"{API}/patients",
        json={**PATIENT, "date_of_birth": tomorrow().isoformat()},
        headers=auth(keys["mini_app"], "zalo-1"),
    )
    assert_refused(
        response,
        422,
        error(
            "invalid_input",
            "date_of_birth is in the future or implausibly old",
            "Dạ, ngày sinh chưa đúng. Anh/chị kiểm tra lại giúp em ạ.",
            field="date_of_birth",
        ),
    )


# --- booking ----------------------------------------------------------------------------------------------


def test_book_a_slot(client, keys):
    mini = keys["mini_app"]
    patient = create_patient(client, mini, "zalo-1")
    slot = slots_tomorrow(client)[2]
    response = book(client, mini, "zalo-1", slot["id"], patient["id"], visit_type="dich_vu", reason="Sốt hai ngày")
    assert response.status_code == 201
    appointment = response.get_json()
    assert CODE.match(appointment["code"]), appointment["code"]
    assert appointment == {
        **appointment,
        "status": "booked",
        "hospital": "test",
        "hospital_name": "Bệnh viện Thử nghiệm",
        "department": "nhi",
        "department_name": "Nhi",
        "location": "Khu A",
        "room": "Phòng Nhi",
        "patient_id": patient["id"],
        "patient_name": "Nguyễn Thị Lan",
        "day": slot["day"],
        "part_of_day": "morning",
        "start": slot["start"],
        "queue_number": 5,  # the third 2-seat slot of the session: numbers 5 and 6
        "visit_type": "dich_vu",
        "channel": "mini_app",
        "what_to_bring": "CCCD",
        "cancelled_by": None,
        "checked_in_at": None,
    }
    second = booked(client, mini, "zalo-2", slot["id"], create_patient(client, mini, "zalo-2")["id"])
    assert second["queue_number"] == 6 and second["code"] != appointment["code"]
    assert free_of(client, slot) == 0


def test_booking_with_an_unknown_visit_type_is_422(client, keys):
    patient = create_patient(client, keys["mini_app"], "zalo-1")
    slot = slots_tomorrow(client)[0]
    assert_refused(
        book(client, keys["mini_app"], "zalo-1", slot["id"], patient["id"], visit_type="vip"),
        422,
        error(
            "invalid_input",
            "test has no visit type 'vip'",
            "Dạ, anh/chị chọn khám BHYT hoặc khám dịch vụ giúp em ạ.",
            field="visit_type",
        ),
    )


def test_booking_an_unknown_slot_is_404(client, keys):
    patient = create_patient(client, keys["mini_app"], "zalo-1")
    assert_refused(
        book(client, keys["mini_app"], "zalo-1", 999999, patient["id"]),
        404,
        error(
            "not_found",
            "no slot 999999",
            "Dạ, khung giờ này không còn. Anh/chị chọn khung giờ khác giúp em ạ.",
            slot_id=999999,
        ),
    )


def test_repeated_booking_with_the_same_idempotency_key(client, db, keys):
    mini = keys["mini_app"]
    patient = create_patient(client, mini, "zalo-1")
    slot = slots_tomorrow(client)[0]
    first = book(client, mini, "zalo-1", slot["id"], patient["id"], key_header="req-42")
    assert first.status_code == 201
    again = book(client, mini, "zalo-1", slot["id"], patient["id"], key_header="req-42")
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert appointment_count(db) == 1
    assert free_of(client, slot) == 1, "the repeated request took no second seat"

    # Another account may use the same key for its own request.
    other = create_patient(client, mini, "zalo-2")
    assert book(client, mini, "zalo-2", slot["id"], other["id"], key_header="req-42").status_code == 201
    assert appointment_count(db) == 2


def test_idempotency_key_reused_for_another_patient_is_409(client, db, keys):
    mini = keys["mini_app"]
    mother = create_patient(client, mini, "zalo-1")
    child = create_patient(client, mini, "zalo-1", full_name="Trần Minh Khôi", date_of_birth="2019-03-02")
    slots = slots_tomorrow(client)
    assert book(client, mini, "zalo-1", slots[0]["id"], mother["id"], key_header="req-7").status_code == 201
    assert_refused(
        book(client, mini, "zalo-1", slots[1]["id"], child["id"], key_header="req-7"),
        409,
        error(
            "conflict",
            "this idempotency key was already used for another patient",
            "Dạ, yêu cầu này trùng với một yêu cầu trước. Anh/chị thử đặt lại giúp em ạ.",
            field="idempotency_key",
        ),
    )
    assert appointment_count(db) == 1


def test_blank_idempotency_key_is_422(client, keys):
    patient = create_patient(client, keys["mini_app"], "zalo-1")
    slot = slots_tomorrow(client)[0]
    response = book(client, keys["mini_app"], "zalo-1", slot["id"], patient["id"], key_header="   ")
    assert_refused(
        response,
        422,
        error("invalid_input", "Idempotency-Key must be 1 to 120 characters", "Dạ, yêu cầu không hợp lệ ạ."),
    )


def test_full_slot_is_409(client, db, keys):
    mini = keys["mini_app"]
    slot = slots_tomorrow(client)[0]
    for n in range(2):
        account = f"zalo-{n}"
        booked(client, mini, account, slot["id"], create_patient(client, mini, account)["id"])
    assert free_of(client, slot) == 0, "a full slot is no longer offered"

    late = create_patient(client, mini, "zalo-late")
    assert_refused(
        book(client, mini, "zalo-late", slot["id"], late["id"]),
        409,
        error("slot_full", "this slot is fully booked", VI_SLOT_FULL, slot_id=slot["id"]),
    )
    assert appointment_count(db) == 2


def test_get_appointment_by_code(client, keys):
    mini = keys["mini_app"]
    patient = create_patient(client, mini, "zalo-1")
    appointment = booked(client, mini, "zalo-1", slots_tomorrow(client)[0]["id"], patient["id"])
    code = appointment["code"]
    for spelling in (code, code.lower(), f"{code[:3]}-{code[3:]}", f"{code[:3].lower()}-{code[3:]}"):
        response = client.get(f"{API}/appointments/{spelling}", headers=auth(mini, "zalo-1"))
        assert response.status_code == 200, spelling
        assert response.get_json() == appointment
    # Hospital-side clients read any appointment without naming an account.
    for kind in ("kiosk", "his", "admin"):
        assert client.get(f"{API}/appointments/{code}", headers=auth(keys[kind])).get_json() == appointment

    for unknown in ("ZZZZZZ", "ABC", "O0I1O0"):
        assert_refused(
            client.get(f"{API}/appointments/{unknown}", headers=auth(mini, "zalo-1")),
            404,
            error("not_found", f"no appointment with code {unknown!r}", VI_NO_APPOINTMENT, code=unknown),
        )


def test_patient_appointments_and_upcoming_only(client, keys):
    mini, headers, patient = zalo_patient(client, keys)
    morning = slots_tomorrow(client, part_of_day="morning")[0]
    afternoon = slots_tomorrow(client, part_of_day="afternoon")[0]
    later = search(client, "mat", date=(today_local() + dt.timedelta(days=2)).isoformat())[0]
    first = booked(client, mini, "zalo-1", afternoon["id"], patient["id"])
    second = booked(client, mini, "zalo-1", morning["id"], patient["id"])
    third = booked(client, mini, "zalo-1", later["id"], patient["id"])
    assert client.post(f"{API}/appointments/{first['code']}/cancel", json={}, headers=headers).status_code == 200

    everything = client.get(f"{API}/patients/{patient['id']}/appointments", headers=headers)
    assert everything.status_code == 200
    assert [a["code"] for a in everything.get_json()["appointments"]] == [third["code"], first["code"], second["code"]]

    upcoming = client.get(f"{API}/patients/{patient['id']}/appointments?upcoming=true", headers=headers)
    assert upcoming.status_code == 200
    listed = upcoming.get_json()["appointments"]
    assert [a["code"] for a in listed] == [second["code"], third["code"]], "booked only, soonest first"
    assert {a["status"] for a in listed} == {"booked"}

    assert_refused(
        client.get(f"{API}/patients/{patient['id']}/appointments?upcoming=perhaps", headers=headers),
        422,
        invalid("query", upcoming=REFUSED),
    )


# --- cancel -----------------------------------------------------------------------------------------------


def test_patient_cancels_and_the_seat_is_free_again(client, db, keys):
    mini, headers, patient = zalo_patient(client, keys)
    slot = slots_tomorrow(client)[0]
    assert slot["free"] == 2
    code = booked(client, mini, "zalo-1", slot["id"], patient["id"])["code"]
    assert free_of(client, slot) == 1

    response = client.post(f"{API}/appointments/{code.lower()}/cancel", json={"reason": "Hết sốt rồi"}, headers=headers)
    assert response.status_code == 200
    cancelled = response.get_json()
    assert cancelled["code"] == code
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_by"] == "patient" and cancelled["cancel_reason"] == "Hết sốt rồi"
    assert free_of(client, slot) == 2

    again = client.post(f"{API}/appointments/{code}/cancel", json={}, headers=headers)
    assert again.status_code == 200 and again.get_json()["status"] == "cancelled"
    assert free_of(client, slot) == 2, "cancelling twice frees the seat once"
    assert client.get(f"{API}/appointments/{code}", headers=headers).get_json()["status"] == "cancelled"

    # The freed seat and the same session can be booked again.
    rebooked = booked(client, mini, "zalo-1", slot["id"], patient["id"])
    assert rebooked["queue_number"] == 1 and rebooked["code"] != code
    assert appointment_count(db) == 2


def test_cancel_by_hospital_needs_staff_scope_and_a_reason(client, keys):
    mini = keys["mini_app"]
    patient = create_patient(client, mini, "zalo-1")
    slot = slots_tomorrow(client)[0]
    code = booked(client, mini, "zalo-1", slot["id"], patient["id"])["code"]
    url = f"{API}/appointments/{code}/cancel"

    assert_refused(
        client.post(url, json={"by": "hospital", "reason": "Bác sĩ nghỉ"}, headers=auth(mini, "zalo-1")),
        403,
        error("forbidden", "this needs the 'staff' scope", VI_FORBIDDEN),
    )
    assert_refused(client.post(url, json={"by": "hospital"}, headers=auth(keys["kiosk"])), 403, FORBIDDEN)
    needs_reason = error(
        "invalid_input",
        "a hospital cancellation needs a reason for the patient",
        "Dạ, bệnh viện cần ghi lý do hủy để báo cho người bệnh ạ.",
        field="reason",
    )
    assert_refused(
        client.post(url, json={"by": "hospital", "reason": ""}, headers=auth(keys["his"])), 422, needs_reason
    )
    assert_refused(
        client.post(url, json={"by": "hospital", "reason": "   "}, headers=auth(keys["admin"])), 422, needs_reason
    )
    assert_refused(
        client.post(url, json={"by": "doctor", "reason": "x"}, headers=auth(keys["his"])),
        422,
        invalid("json", by=REFUSED),
    )
    assert client.get(f"{API}/appointments/{code}", headers=auth(keys["his"])).get_json()["status"] == "booked"
    assert free_of(client, slot) == 1

    response = client.post(url, json={"by": "hospital", "reason": "Bác sĩ đi công tác"}, headers=auth(keys["his"]))
    assert response.status_code == 200
    cancelled = response.get_json()
    assert (cancelled["status"], cancelled["cancelled_by"], cancelled["cancel_reason"]) == (
        "cancelled",
        "hospital",
        "Bác sĩ đi công tác",
    )
    assert free_of(client, slot) == 2


# --- reschedule -------------------------------------------------------------------------------------------


def test_reschedule_keeps_the_code_and_takes_the_new_slots_queue_number(client, keys):
    mini, headers, patient = zalo_patient(client, keys)
    slots = slots_tomorrow(client)
    old, new = slots[0], slots[3]  # 07:00 and 08:30: the fourth slot numbers its seats 7 and 8
    original = booked(client, mini, "zalo-1", old["id"], patient["id"])
    assert original["queue_number"] == 1

    response = client.post(
        f"{API}/appointments/{original['code']}/reschedule", json={"slot_id": new["id"]}, headers=headers
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    moved = response.get_json()
    assert moved["code"] == original["code"]
    assert moved["start"] == new["start"] and moved["start"] != original["start"]
    assert moved["queue_number"] == 7
    assert moved["status"] == "booked"
    assert free_of(client, old) == 2 and free_of(client, new) == 1
    assert client.get(f"{API}/appointments/{original['code']}", headers=headers).get_json() == moved

    assert_refused(
        client.post(f"{API}/appointments/{original['code']}/reschedule", json={"slot_id": new["id"]}, headers=headers),
        422,
        error(
            "invalid_input",
            "the appointment is already in this slot",
            "Dạ, lịch hẹn đang ở đúng khung giờ này rồi ạ.",
            field="slot_id",
        ),
    )


def test_reschedule_reports_the_new_slots_room(client, db, keys):
    mini = keys["mini_app"]
    patient = create_patient(client, mini, "zalo-1")
    slots = slots_tomorrow(client)
    with db.uow() as uow:
        hospital_id = uow.session.scalar(select(Hospital.id).where(Hospital.slug == "test"))
        nhi = uow.session.scalar(select(Department.id).where(Department.slug == "nhi"))
        doctor = Doctor(hospital_id=hospital_id, department_id=nhi, full_name="Phạm Thị Bác Sĩ", title="ThS.BS")
        uow.session.add(doctor)
        uow.session.flush()
        uow.session.execute(
            update(Slot).where(Slot.id == slots[4]["id"]).values(room="Phòng Nhi 2", doctor_id=doctor.id)
        )
        uow.commit()
    code = booked(client, mini, "zalo-1", slots[0]["id"], patient["id"])["code"]
    headers = auth(mini, "zalo-1")
    response = client.post(f"{API}/appointments/{code}/reschedule", json={"slot_id": slots[4]["id"]}, headers=headers)
    assert response.status_code == 200
    stored = client.get(f"{API}/appointments/{code}", headers=headers).get_json()
    assert (stored["room"], stored["doctor"]) == ("Phòng Nhi 2", "Phạm Thị Bác Sĩ")
    moved = response.get_json()
    assert (moved["room"], moved["doctor"]) == ("Phòng Nhi 2", "Phạm Thị Bác Sĩ"), "the answer tells the new room"
    assert moved == stored


def test_reschedule_to_a_full_slot_changes_nothing(client, keys):
    mini = keys["mini_app"]
    headers = auth(mini, "zalo-1")
    slots = slots_tomorrow(client)
    old, full = slots[0], slots[1]
    patient = create_patient(client, mini, "zalo-1")
    original = booked(client, mini, "zalo-1", old["id"], patient["id"])
    for n in range(2):
        account = f"zalo-full-{n}"
        booked(client, mini, account, full["id"], create_patient(client, mini, account)["id"])

    assert_refused(
        client.post(f"{API}/appointments/{original['code']}/reschedule", json={"slot_id": full["id"]}, headers=headers),
        409,
        error("slot_full", "this slot is fully booked", VI_SLOT_FULL, slot_id=full["id"]),
    )
    assert client.get(f"{API}/appointments/{original['code']}", headers=headers).get_json() == original
    assert free_of(client, old) == 1, "the old seat is still held"


def test_reschedule_to_another_department_is_422(client, keys):
    mini, headers, patient = zalo_patient(client, keys)
    original = booked(client, mini, "zalo-1", slots_tomorrow(client, "nhi")[0]["id"], patient["id"])
    eye = slots_tomorrow(client, "mat")[2]
    assert_refused(
        client.post(f"{API}/appointments/{original['code']}/reschedule", json={"slot_id": eye["id"]}, headers=headers),
        422,
        error(
            "invalid_input",
            "a reschedule keeps the department; cancel and book to change department",
            "Dạ, đổi lịch chỉ đổi ngày giờ trong cùng khoa. Muốn khám khoa khác, anh/chị hủy lịch này "
            "và đặt lịch mới giúp em ạ.",
            field="slot_id",
        ),
    )
    assert client.get(f"{API}/appointments/{original['code']}", headers=headers).get_json() == original
    assert free_of(client, eye) == 2


def test_a_cancelled_appointment_cannot_be_rescheduled(client, keys):
    mini, headers, patient = zalo_patient(client, keys)
    slots = slots_tomorrow(client)
    code = booked(client, mini, "zalo-1", slots[0]["id"], patient["id"])["code"]
    client.post(f"{API}/appointments/{code}/cancel", json={}, headers=headers)
    assert_refused(
        client.post(f"{API}/appointments/{code}/reschedule", json={"slot_id": slots[2]["id"]}, headers=headers),
        409,
        error(
            "not_changeable",
            "an appointment in status cancelled cannot be changed",
            f"Dạ, lịch hẹn {code} không còn hiệu lực nên không đổi được nữa ạ.",
            status="cancelled",
        ),
    )
    assert free_of(client, slots[2]) == 2


# --- check-in ---------------------------------------------------------------------------------------------


def test_check_in_by_code(client, db, world, keys):
    patient = new_patient(db, world.account_id)
    appointment = book_today(db, world, patient, visit_type="dich_vu")
    code = appointment["code"]
    kiosk = auth(keys["kiosk"])

    response = client.post(f"{API}/check-in", json={"code": f"{code[:3].lower()}-{code[3:].lower()}"}, headers=kiosk)
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()
    assert result["already_checked_in"] is False
    assert result["queue_number"] == appointment["queue_number"] == 1
    assert result["room"] == "Phòng Nhi" and result["location"] == "Khu A"
    assert result["still_needed"] == [
        "Đóng phí khám dịch vụ: 150.000 đ tại quầy thu ngân",
        "Cung cấp số CCCD của người bệnh (hồ sơ chưa có)",
    ]
    assert result["appointment"]["code"] == code
    assert result["appointment"]["status"] == "checked_in"
    assert result["appointment"]["checked_in_at"] is not None

    again = client.post(f"{API}/check-in", json={"code": code}, headers=kiosk)
    assert again.status_code == 200
    assert again.get_json()["already_checked_in"] is True
    assert again.get_json()["queue_number"] == 1
    assert client.get(f"{API}/appointments/{code}", headers=kiosk).get_json()["status"] == "checked_in"

    # A checked-in appointment can no longer be cancelled; the HIS then completes it.
    his = auth(keys["his"])
    assert_refused(
        client.post(f"{API}/appointments/{code}/cancel", json={"by": "hospital", "reason": "x"}, headers=his),
        409,
        error(
            "not_changeable",
            "an appointment in status checked_in cannot be changed",
            f"Dạ, lịch hẹn {code} đã được tiếp đón nên không hủy được nữa ạ.",
            status="checked_in",
        ),
    )
    assert_refused(client.post(f"{API}/appointments/{code}/complete", headers=kiosk), 403, FORBIDDEN)
    completed = client.post(f"{API}/appointments/{code}/complete", headers=his)
    assert completed.status_code == 200 and completed.get_json()["status"] == "completed"


def test_check_in_with_an_insurance_visit_lists_what_is_still_needed(client, db, world, keys):
    patient = new_patient(db, world.account_id, insurance_number="DN4791234567890", cccd="001090012345")
    code = book_today(db, world, patient, visit_type="bhyt")["code"]
    response = client.post(f"{API}/check-in", json={"code": code}, headers=auth(keys["kiosk"]))
    assert response.status_code == 200
    assert response.get_json()["still_needed"] == ["Xuất trình thẻ BHYT hoặc CCCD gắn chip / VNeID để đối chiếu"]


def test_check_in_on_another_day_is_409(client, keys):
    mini = keys["mini_app"]
    patient = create_patient(client, mini, "zalo-1")
    appointment = booked(client, mini, "zalo-1", slots_tomorrow(client)[0]["id"], patient["id"])
    code, day = appointment["code"], dt.date.fromisoformat(appointment["day"])
    assert_refused(
        client.post(f"{API}/check-in", json={"code": code}, headers=auth(keys["kiosk"])),
        409,
        error(
            "wrong_day",
            f"this appointment is for {day.isoformat()}, not today ({today_local().isoformat()})",
            f"Dạ, lịch hẹn {code} là ngày {day:%d/%m/%Y}, không phải hôm nay ạ.",
            day=day.isoformat(),
        ),
    )
    assert client.get(f"{API}/appointments/{code}", headers=auth(mini, "zalo-1")).get_json()["status"] == "booked"


def test_check_in_of_an_unknown_code_is_404(client, keys):
    assert_refused(
        client.post(f"{API}/check-in", json={"code": "ZZZ-ZZZ"}, headers=auth(keys["kiosk"])),
        404,
        error("not_found", "no appointment with code 'ZZZ-ZZZ'", VI_NO_APPOINTMENT, code="ZZZ-ZZZ"),
    )


def test_check_in_by_phone(client, db, world, keys):
    patient = new_patient(db, world.account_id, phone="0987654321")
    appointment = book_today(db, world, patient, department="mat", hhmm="13:30")
    kiosk = auth(keys["kiosk"])

    response = client.post(
        f"{API}/check-in", json={"phone": "0987 654 321", "date": today_local().isoformat()}, headers=kiosk
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()
    assert result["appointment"]["code"] == appointment["code"]
    assert result["already_checked_in"] is False
    assert result["queue_number"] == 1 and result["room"] == "Phòng Mắt"

    # Without a date it means today; a second check-in is harmless.
    again = client.post(f"{API}/check-in", json={"phone": "84987654321"}, headers=kiosk)
    assert again.status_code == 200
    assert again.get_json()["already_checked_in"] is True

    assert_refused(
        client.post(f"{API}/check-in", json={"phone": "0987654321", "date": tomorrow().isoformat()}, headers=kiosk),
        404,
        error(
            "not_found",
            "no appointment for phone 098****321 on that day",
            "Dạ, em không tìm thấy lịch hẹn nào với số điện thoại này trong ngày. "
            "Anh/chị kiểm tra lại số hoặc đưa mã đặt lịch giúp em ạ.",
        ),
    )


def test_check_in_by_phone_with_two_appointments_that_day_lists_candidates(client, db, world, keys):
    mother = new_patient(db, world.account_id, 1, full_name="Lê Thị Mẹ", phone="0987654321")
    child = new_patient(db, world.account_id, 2, full_name="Lê Văn Con", phone="0987654321", relation="child")
    first = book_today(db, world, child, department="nhi", hhmm="08:00")
    second = book_today(db, world, mother, department="mat", hhmm="09:00")

    assert_refused(
        client.post(f"{API}/check-in", json={"phone": "0987654321"}, headers=auth(keys["kiosk"])),
        409,
        error(
            "conflict",
            "several appointments match; choose one by code",
            "Dạ, số điện thoại này có nhiều lịch hẹn trong ngày. Anh/chị chọn đúng người khám giúp em ạ.",
            candidates=[
                {"code": first["code"], "patient_name": "Lê Văn Con", "department": "Nhi"},
                {"code": second["code"], "patient_name": "Lê Thị Mẹ", "department": "Mắt"},
            ],
        ),
    )
    for code in (first["code"], second["code"]):
        assert client.get(f"{API}/appointments/{code}", headers=auth(keys["his"])).get_json()["status"] == "booked"


def test_kiosk_of_another_hospital_cannot_check_in(client, db, world, keys):
    add_hospital(db, "other")
    with db.uow() as uow:
        other_kiosk = access.create_api_key(uow, name="kiosk-other", kind="kiosk", hospital_slug="other")
    patient = new_patient(db, world.account_id, phone="0987654321")
    code = book_today(db, world, patient)["code"]

    # By code: 403, and nothing of the appointment (not even its hospital) in the answer. By phone the desk
    # searches its own hospital only: "none found", as for a phone never seen.
    assert_refused(client.post(f"{API}/check-in", json={"code": code}, headers=auth(other_kiosk)), 403, OTHER_HOSPITAL)
    by_phone = client.post(f"{API}/check-in", json={"phone": "0987654321"}, headers=auth(other_kiosk))
    assert by_phone.status_code == 404 and by_phone.get_json()["error"]["code"] == "not_found"
    assert client.get(f"{API}/appointments/{code}", headers=auth(keys["his"])).get_json()["status"] == "booked"


@pytest.mark.parametrize(
    "body",
    [{}, {"code": "ABCDEF", "phone": "0912345678"}, {"date": "2026-01-01"}],
    ids=["nothing", "both", "date-only"],
)
def test_check_in_needs_a_code_or_a_phone(client, keys, body):
    assert_refused(
        client.post(f"{API}/check-in", json=body, headers=auth(keys["kiosk"])),
        422,
        invalid("json", _schema=Refused("give either code, or phone (with an optional date)")),
    )


def test_mini_app_cannot_check_in(client, keys):
    assert_refused(
        client.post(f"{API}/check-in", json={"code": "ABCDEF"}, headers=auth(keys["mini_app"], "zalo-1")),
        403,
        FORBIDDEN,
    )


# --- malformed requests -----------------------------------------------------------------------------------


def test_malformed_json_is_400_bad_request(client, keys):
    response = client.post(
        f"{API}/patients",
        data='{"full_name": "Lan",',
        headers={**auth(keys["mini_app"], "zalo-1"), "Content-Type": "application/json"},
    )
    assert_refused(
        response, 400, error("bad_request", "the body is not valid JSON", "Dạ, yêu cầu gửi lên chưa đúng định dạng ạ.")
    )


def test_body_over_64_kib_is_413(client, keys):
    body = '{"full_name": "' + "a" * (64 * 1024) + '"}'
    response = client.post(
        f"{API}/patients",
        data=body,
        headers={**auth(keys["mini_app"], "zalo-1"), "Content-Type": "application/json"},
    )
    assert_refused(response, 413, error("too_large", "Request Entity Too Large", "Dạ, dữ liệu gửi lên quá lớn ạ."))


def test_unknown_route_and_wrong_method(client):
    assert_refused(
        client.get(f"{API}/nothing-here"),
        404,
        error("not_found", "Not Found", "Dạ, em không tìm thấy thông tin này ạ."),
    )
    response = client.delete(f"{API}/hospitals")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


# --- odd but well-formed input: refused or answered, never a server error ----------------------------------
# PostgreSQL ids are 32-bit integers and its text cannot hold NUL characters; SQLite accepts both, so these
# show differences a client meets only in production.

BIG = 2**31


@pytest.mark.parametrize(
    "case",
    [
        "book-slot-id",
        "book-patient-id",
        "patient-appointments-id",
        "slot-search-doctor-id",
        "nul-in-name",
        "nul-in-account",
        "nul-in-slug",
    ],
)
def test_odd_input_is_never_a_server_error(client, db, world, keys, case):
    mini, headers, patient = zalo_patient(client, keys)
    slot = slots_tomorrow(client)[0]
    if case == "book-slot-id":
        response = book(client, mini, "zalo-1", BIG, patient["id"])
    elif case == "book-patient-id":
        response = book(client, mini, "zalo-1", slot["id"], BIG)
    elif case == "patient-appointments-id":
        response = client.get(f"{API}/patients/{BIG}/appointments", headers=headers)
    elif case == "slot-search-doctor-id":
        response = client.get(SLOTS.format(department="nhi"), query_string={"doctor_id": BIG})
    elif case == "nul-in-name":
        response = client.post(f"{API}/patients", json={**PATIENT, "full_name": "Lan\x00Anh"}, headers=headers)
    elif case == "nul-in-account":
        response = client.get(f"{API}/patients", headers=auth(mini, "zalo\x001"))
    else:
        response = client.get(f"{API}/hospitals/te%00st")
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.get_json()["error"]["code"] in {"not_found", "invalid_input"}


def test_clients_bound_to_another_hospital_cannot_read_or_change_its_appointments(client, db, world, keys):
    add_hospital(db, "other")
    with db.uow() as uow:
        other_kiosk = access.create_api_key(uow, name="kiosk-other-2", kind="kiosk", hospital_slug="other")
        other_his = access.create_api_key(uow, name="his-other", kind="his", hospital_slug="other")
    code = booked(
        client,
        keys["mini_app"],
        "u1",
        slots_tomorrow(client)[0]["id"],
        create_patient(client, keys["mini_app"], "u1")["id"],
    )["code"]
    for key in (other_kiosk, other_his):
        response = client.get(f"{API}/appointments/{code}", headers=auth(key))
        assert_refused(response, 403, OTHER_HOSPITAL)
    response = client.post(
        f"{API}/appointments/{code}/cancel", json={"by": "hospital", "reason": "Nghỉ"}, headers=auth(other_his)
    )
    assert_refused(response, 403, OTHER_HOSPITAL)
    assert_refused(client.post(f"{API}/appointments/{code}/complete", headers=auth(other_his)), 403, OTHER_HOSPITAL)
    # The hospital's own HIS sees it, untouched.
    assert client.get(f"{API}/appointments/{code}", headers=auth(keys["his"])).get_json()["status"] == "booked"
