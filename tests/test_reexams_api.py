"""/api/v1/re-exams: the hospital's system records a doctor's re-exam date; JSON errors for bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from core import access
from core.timeutil import local_to_utc
from henkham.web import create_app
from tests.factories import book, build_world, new_patient, slot_at, today_local


@pytest.fixture
def setup(db):
    world = build_world(db, start=today_local())
    with db.uow() as uow:
        his = access.create_api_key(uow, name="his-test", kind="his", hospital_slug="test")
        mini = access.create_api_key(uow, name="mini-app", kind="mini_app")
    patient_id = new_patient(db, world.account_id, 1)
    tomorrow_8 = slot_at(db, "nhi", today_local() + dt.timedelta(days=1), "08:00")
    book(db, world, tomorrow_8, patient_id, now=local_to_utc(today_local(), dt.time(0, 0)))  # known there
    return create_app(database=db).test_client(), {"Authorization": f"Bearer {his}"}, mini, patient_id


def test_the_his_records_lists_and_cancels_a_re_exam_date(setup) -> None:
    client, his, _mini, patient_id = setup
    due = (today_local() + dt.timedelta(days=30)).isoformat()
    body = {"patient_id": patient_id, "due_date": due, "department": "nhi", "note": "Xét nghiệm lại máu"}
    created = client.post("/api/v1/re-exams", json=body, headers=his)
    assert created.status_code == 201, created.get_json()
    view = created.get_json()
    assert (view["hospital"], view["department"], view["due_date"], view["cancelled"]) == ("test", "nhi", due, False)
    again = client.post("/api/v1/re-exams", json=body, headers=his)
    assert again.status_code == 200 and again.get_json()["id"] == view["id"], "recorded once"

    listed = client.get(f"/api/v1/patients/{patient_id}/re-exams", headers=his).get_json()["re_exams"]
    assert [r["id"] for r in listed] == [view["id"]]
    cancelled = client.post(f"/api/v1/re-exams/{view['id']}/cancel", headers=his)
    assert cancelled.status_code == 200 and cancelled.get_json()["cancelled"] is True


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"due_date": "2020-01-01"}, 422, "invalid_input"),
        ({"due_date": "ngày mai"}, 422, "invalid_input"),
        ({"department": "khong-co"}, 404, "not_found"),
        ({"patient_id": 987654}, 404, "not_found"),
        ({"hospital": "other"}, 403, "forbidden"),
        ({"surprise": 1}, 422, "invalid_input"),
    ],
)
def test_bad_re_exam_input_is_a_json_error(setup, change, status, code) -> None:
    client, his, _mini, patient_id = setup
    body = {"patient_id": patient_id, "due_date": (today_local() + dt.timedelta(days=5)).isoformat(), **change}
    reply = client.post("/api/v1/re-exams", json=body, headers=his)
    assert reply.status_code == status and reply.get_json()["error"]["code"] == code
    assert reply.get_json()["error"]["message_vi"]
    listed = client.get(f"/api/v1/patients/{patient_id}/re-exams", headers=his).get_json()["re_exams"]
    assert listed == [], "nothing stored"


def test_a_mini_app_may_not_record_re_exams(setup) -> None:
    client, _his, mini, patient_id = setup
    body = {"patient_id": patient_id, "due_date": (today_local() + dt.timedelta(days=5)).isoformat()}
    reply = client.post("/api/v1/re-exams", json=body, headers={"Authorization": f"Bearer {mini}"})
    assert reply.status_code == 403
