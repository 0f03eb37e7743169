"""API clients: keys listed, revoked and expiring at once, last use recorded cheaply; kiosks bound to a hospital;
idempotency keys per client key; caps on profiles and live bookings; reads audited with who, what and when."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, update

from core import access
from core.audit import AccessAudit
from core.booking import patients
from core.booking.models import Appointment
from core.config import Settings
from core.errors import InvalidInput
from core.timeutil import local_to_utc, utcnow
from henkham.cli import cli
from henkham.web import create_app
from tests import factories
from tests.factories import new_patient, slot_at, today_local
from tests.identity_helpers import bearer as as_user
from tests.identity_helpers import with_fake_graph
from tests.test_cli import assert_one_error_line

API = "/api/v1"
PATIENT = {"full_name": "Nguyễn Thị Lan", "date_of_birth": "1990-05-17", "sex": "female", "phone": "0912345678"}


@pytest.fixture
def run(database_url: str) -> Iterator:
    runner = CliRunner(env={"HENKHAM_DATABASE_URL": database_url})

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args))

    yield invoke


def app_client(db, **settings: object):
    return with_fake_graph(create_app(Settings(database_url=db.url, **settings), database=db)).test_client()


def key_of(db, name: str, kind: str = "his", **kw: object) -> str:
    with db.uow() as uow:
        return access.create_api_key(uow, name=name, kind=kind, **kw)


def tomorrow_slots(client, department: str = "nhi") -> list[dict]:
    day = (today_local() + dt.timedelta(days=1)).isoformat()
    response = client.get(
        f"{API}/hospitals/test/departments/{department}/slots", query_string={"date": day, "limit": 50}
    )
    return response.get_json()["slots"]


def new_profile(client, key: str, user: str, name: str = PATIENT["full_name"]) -> int:
    response = client.post(f"{API}/patients", json={**PATIENT, "full_name": name}, headers=as_user(key, user))
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.get_json()["id"]


# --- keys: kiosks, revoke, expiry, last use, list ---------------------------------------------------------------


def test_a_kiosk_key_must_name_its_hospital(db, world, run) -> None:
    with db.uow() as uow, pytest.raises(InvalidInput):
        access.create_api_key(uow, name="kiosk-anywhere", kind="kiosk")
    assert_one_error_line(
        run("apikey", "create", "--name", "kiosk-anywhere", "--kind", "kiosk"),
        "error: a kiosk key must name its hospital (--hospital)",
    )
    assert "kiosk-anywhere" not in run("apikey", "list").stdout


def test_an_old_kiosk_key_without_hospital_no_longer_authenticates(db, world) -> None:
    key = key_of(db, "kiosk-old", "kiosk", hospital_slug="test")
    with db.uow() as uow:
        uow.session.execute(update(access.ApiKey).values(hospital_id=None))
        uow.commit()
    response = app_client(db).post(f"{API}/check-in", json={"code": "ABCDEF"}, headers=as_user(key))
    assert response.status_code == 401


def test_a_revoked_key_is_refused_at_once(db, world, run) -> None:
    key = key_of(db, "his-1", hospital_slug="test")
    client = app_client(db)
    assert client.get(f"{API}/conversations", headers=as_user(key)).status_code == 200
    revoked = run("apikey", "revoke", "his-1")
    assert revoked.exit_code == 0 and revoked.stdout == "his-1: revoked\n"
    assert client.get(f"{API}/conversations", headers=as_user(key)).status_code == 401  # same app: no cache
    assert run("apikey", "revoke", "his-1").stdout == "his-1: was already revoked\n"
    assert_one_error_line(run("apikey", "revoke", "nobody"), "error: no API client named 'nobody'")


def test_an_expired_key_is_refused(db, world, run) -> None:
    key = key_of(db, "his-short", hospital_slug="test", expires_at=utcnow() + dt.timedelta(hours=1))
    client = app_client(db)
    assert client.get(f"{API}/conversations", headers=as_user(key)).status_code == 200
    with db.uow() as uow:
        uow.session.execute(update(access.ApiKey).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        uow.commit()
    response = client.get(f"{API}/conversations", headers=as_user(key))
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    assert "expired" in run("apikey", "list").stdout


def test_apikey_create_with_expiry_and_the_trusted_header_flag(db, world, run) -> None:
    tomorrow = (today_local() + dt.timedelta(days=1)).isoformat()
    made = run(
        "apikey", "create", "--name", "partner", "--kind", "his", "--expires", tomorrow, "--trust-account-header"
    )
    assert made.exit_code == 0, made.output
    with db.reader() as uow:
        row = uow.session.scalar(select(access.ApiKey).where(access.ApiKey.name == "partner"))
    assert row.trusted_account_header and row.expires_at > utcnow()
    assert_one_error_line(
        run("apikey", "create", "--name", "past", "--kind", "his", "--expires", "2020-01-01"),
        "error: the expiry must be in the future",
    )
    refused = run("apikey", "create", "--name", "m", "--kind", "mini_app", "--trust-account-header")
    assert refused.exit_code == 1 and len(refused.stderr.splitlines()) == 1
    usage = run("apikey", "create", "--name", "x", "--kind", "his", "--expires", "mai")
    assert usage.exit_code == 2 and len(usage.stderr.splitlines()) == 1


def test_last_use_is_written_at_most_once_a_minute(db, world, run) -> None:
    key = key_of(db, "his-busy", hospital_slug="test")
    client = app_client(db)
    assert run("apikey", "list").stdout.splitlines()[1].split("\t")[6] == "-", "never used yet"
    for _ in range(3):
        assert client.get(f"{API}/conversations", headers=as_user(key)).status_code == 200
    with db.reader() as uow:
        first = uow.session.scalar(select(access.ApiKey.last_used_at))
    assert first is not None and utcnow() - first < dt.timedelta(minutes=1)
    for _ in range(3):
        client.get(f"{API}/conversations", headers=as_user(key))
    with db.reader() as uow:
        assert uow.session.scalar(select(access.ApiKey.last_used_at)) == first, "not rewritten within the minute"
    with db.uow() as uow:  # a minute later
        uow.session.execute(update(access.ApiKey).values(last_used_at=first - dt.timedelta(seconds=61)))
        uow.commit()
    client.get(f"{API}/conversations", headers=as_user(key))
    with db.reader() as uow:
        assert uow.session.scalar(select(access.ApiKey.last_used_at)) > first - dt.timedelta(seconds=61)


def test_apikey_list_shows_each_client_never_a_key(db, world, run) -> None:
    key = key_of(db, "his-listed", hospital_slug="test")
    key_of(db, "admin-listed", "admin")
    app_client(db).get(f"{API}/conversations", headers=as_user(key))
    listed = run("apikey", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].split("\t")[:5] == ["name", "kind", "hospital", "scopes", "state"]
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert rows["his-listed"][1:5] == ["his", "test", "checkin,his,read,staff", "active"]
    assert rows["his-listed"][6] != "-", "last used"
    assert rows["admin-listed"][6] == "-"
    assert key not in listed.stdout and key[10:20] not in listed.stdout


# --- idempotency per key ------------------------------------------------------------------------------------


def test_two_his_keys_with_the_same_idempotency_key_get_their_own_appointments(db, world) -> None:
    partner_a = key_of(db, "his-a", scopes=["book"], trusted_account_header=True)
    partner_b = key_of(db, "his-b", scopes=["book"], trusted_account_header=True)
    client = app_client(db)
    slot = tomorrow_slots(client)[0]["id"]
    codes = []
    for key in (partner_a, partner_b):
        user = {"X-Henkham-Account": "same-user-id", "Idempotency-Key": "order-1"}
        patient = client.post(f"{API}/patients", json=PATIENT, headers=as_user(key, **user)).get_json()["id"]
        response = client.post(
            f"{API}/appointments", json={"slot_id": slot, "patient_id": patient}, headers=as_user(key, **user)
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        codes.append(response.get_json()["code"])
    assert codes[0] != codes[1], "the second client did not receive the first one's appointment"
    # Each key still gets its own booking back on a retry.
    with db.reader() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Appointment)) == 2


def test_two_staff_keys_of_one_kind_with_the_same_idempotency_key(db, world) -> None:
    his_a = key_of(db, "his-staff-a", hospital_slug="test")
    his_b = key_of(db, "his-staff-b", hospital_slug="test")
    mini = key_of(db, "mini", "mini_app")
    client = app_client(db)
    slots = tomorrow_slots(client)
    patients = [new_profile(client, mini, "u1", "Nguyễn Văn An"), new_profile(client, mini, "u2", "Lê Thị Bích")]
    first = client.post(
        f"{API}/appointments", json={"slot_id": slots[0]["id"], "patient_id": patients[0]}, headers=as_user(mini, "u1")
    )
    assert first.status_code == 201  # the patients are known to the hospital from here on
    second = client.post(
        f"{API}/appointments", json={"slot_id": slots[3]["id"], "patient_id": patients[1]}, headers=as_user(mini, "u2")
    )
    assert second.status_code == 201
    afternoon = tomorrow_slots(client, "mat")
    results = []
    for key, patient in ((his_a, patients[0]), (his_b, patients[1])):
        response = client.post(
            f"{API}/appointments",
            json={"slot_id": afternoon[0]["id"], "patient_id": patient},
            headers=as_user(key, **{"Idempotency-Key": "his-42"}),
        )
        results.append((response.status_code, response.get_json().get("patient_id")))
    assert results == [(201, patients[0]), (201, patients[1])], "no 409 'used for another patient', no leak"


# --- caps ---------------------------------------------------------------------------------------------------------


def test_the_n_plus_first_profile_of_an_account_is_refused(db, world) -> None:
    client = app_client(db, api_max_profiles_per_account=2)
    mini = key_of(db, "mini", "mini_app")
    for name in ("Nguyễn Văn An", "Lê Thị Bích"):
        new_profile(client, mini, "u1", name)
    response = client.post(
        f"{API}/patients", json={**PATIENT, "full_name": "Trần Văn Cường"}, headers=as_user(mini, "u1")
    )
    assert response.status_code == 409, response.get_data(as_text=True)
    refusal = response.get_json()["error"]
    assert refusal["code"] == "too_many_profiles" and refusal["details"] == {"limit": 2}
    assert refusal["message_vi"] == "Dạ, mỗi tài khoản chỉ tạo được tối đa 2 hồ sơ người khám ạ."
    assert new_profile(client, mini, "u1", "Nguyễn Văn An"), "an existing profile is still returned"
    assert new_profile(client, mini, "u2", "Trần Văn Cường"), "another account is not affected"


def test_the_n_plus_first_profile_of_a_client_is_refused(db, world) -> None:
    client = app_client(db, api_max_profiles_per_client=2)
    mini = key_of(db, "mini", "mini_app")
    new_profile(client, mini, "u1")
    new_profile(client, mini, "u2")
    response = client.post(f"{API}/patients", json=PATIENT, headers=as_user(mini, "u3"))
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "client_profile_limit"
    assert response.get_json()["error"]["message_vi"].startswith("Dạ, ")
    other_client = key_of(db, "mini-2", "mini_app")
    assert new_profile(client, other_client, "u3"), "the cap is the client's own"


def test_the_n_plus_first_live_booking_of_an_account_is_refused(db, world) -> None:
    client = app_client(db, api_max_live_bookings_per_account=2)
    mini = key_of(db, "mini", "mini_app")
    patients = [new_profile(client, mini, "u1", n) for n in ("Nguyễn Văn An", "Lê Thị Bích", "Trần Văn Cường")]
    slot = tomorrow_slots(client)[0]["id"]
    other = tomorrow_slots(client, "mat")[0]["id"]
    for patient, slot_id in ((patients[0], slot), (patients[1], slot)):
        response = client.post(
            f"{API}/appointments", json={"slot_id": slot_id, "patient_id": patient}, headers=as_user(mini, "u1")
        )
        assert response.status_code == 201, response.get_data(as_text=True)
    refused = client.post(
        f"{API}/appointments", json={"slot_id": other, "patient_id": patients[2]}, headers=as_user(mini, "u1")
    )
    assert refused.status_code == 409, refused.get_data(as_text=True)
    assert refused.get_json()["error"]["code"] == "too_many_bookings"
    with db.reader() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Appointment)) == 2


def test_the_n_plus_first_live_booking_of_a_client_is_refused(db, world) -> None:
    client = app_client(db, api_max_live_bookings_per_client=1)
    mini = key_of(db, "mini", "mini_app")
    slot = tomorrow_slots(client)[0]["id"]
    first = client.post(
        f"{API}/appointments",
        json={"slot_id": slot, "patient_id": new_profile(client, mini, "u1")},
        headers=as_user(mini, "u1"),
    )
    assert first.status_code == 201
    refused = client.post(
        f"{API}/appointments",
        json={"slot_id": slot, "patient_id": new_profile(client, mini, "u2")},
        headers=as_user(mini, "u2"),
    )
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "client_booking_limit"
    assert tomorrow_slots(client)[0]["free"] == 1, "the seat was not taken"


# --- audit ----------------------------------------------------------------------------------------------------


def audit_rows(db) -> list[tuple]:
    with db.reader() as uow:
        rows = uow.session.scalars(select(AccessAudit).order_by(AccessAudit.id)).all()
        return [(r.actor_name, r.account_id is not None, r.record_kind, r.record_id, r.purpose, r.at) for r in rows]


def test_reading_an_appointment_and_a_patient_list_is_audited(db, world) -> None:
    client = app_client(db)
    mini = key_of(db, "mini-audited", "mini_app")
    his = key_of(db, "his-audited", hospital_slug="test")
    patient = new_profile(client, mini, "u1")
    slot = tomorrow_slots(client)[0]["id"]
    code = client.post(
        f"{API}/appointments", json={"slot_id": slot, "patient_id": patient}, headers=as_user(mini, "u1")
    ).get_json()["code"]
    with db.reader() as uow:
        appointment_id = str(uow.session.scalar(select(Appointment.id)))
    assert audit_rows(db) == [], "writes are not reads"
    before = utcnow()

    assert client.get(f"{API}/patients", headers=as_user(mini, "u1")).status_code == 200
    assert client.get(f"{API}/appointments/{code}", headers=as_user(his)).status_code == 200
    assert client.get(f"{API}/patients/{patient}/appointments", headers=as_user(his)).status_code == 200
    rows = audit_rows(db)
    assert [row[:5] for row in rows] == [
        ("mini-audited", True, "patient", str(patient), "GET /api/v1/patients"),
        ("his-audited", False, "appointment", appointment_id, "GET /api/v1/appointments/<code>"),
        ("his-audited", False, "patient", str(patient), "GET /api/v1/patients/<id:patient_id>/appointments"),
        ("his-audited", False, "appointment", appointment_id, "GET /api/v1/patients/<id:patient_id>/appointments"),
    ]
    assert all(before - dt.timedelta(seconds=1) <= row[5] <= utcnow() for row in rows)
    stored = " ".join(str(value) for row in rows for value in row)
    assert "Lan" not in stored and "0912" not in stored and code not in stored, "ids only"


def test_a_check_in_at_the_desk_is_audited(db, world) -> None:
    client = app_client(db)
    kiosk = key_of(db, "kiosk-desk", "kiosk", hospital_slug="test")
    patient = new_patient(db, world.account_id)
    today = today_local()
    view = factories.book(db, world, slot_at(db, "nhi", today, "07:00"), patient, now=local_to_utc(today, dt.time()))
    response = client.post(f"{API}/check-in", json={"code": view.code}, headers=as_user(kiosk))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [row[:5] for row in audit_rows(db)] == [
        ("kiosk-desk", False, "appointment", str(_appointment_id(db, view.code)), "POST /api/v1/check-in")
    ]


def _appointment_id(db, code: str) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(Appointment.id).where(Appointment.code == code))


def test_a_refused_read_writes_no_audit_row(db, world) -> None:
    client = app_client(db)
    his = key_of(db, "his-audited", hospital_slug="test")
    assert client.get(f"{API}/appointments/ZZZZZZ", headers=as_user(his)).status_code == 404
    assert audit_rows(db) == []


@pytest.mark.parametrize("name", ["", " padded", "x" * 61, "tab\there", "x" * 78])
def test_a_key_name_that_cannot_name_its_accounts_is_refused(db, name):
    with db.uow() as uow, pytest.raises(InvalidInput):
        access.create_api_key(uow, name=name, kind="his")
    with db.uow() as uow:  # the longest allowed name still names its users' accounts on both databases
        key = access.create_api_key(uow, name="n" * access.MAX_NAME, kind="his")
    with db.uow() as uow:
        client = access.authenticate(uow, key)
        assert patients.get_or_create_account(uow, client.account_provider, "zalo-user-1") > 0
        uow.commit()


def test_answers_that_show_a_patient_are_audited_even_when_they_change_something(db, world) -> None:
    # cancel, complete and a repeated profile all answer with the patient's data: each is a read too
    client = app_client(db)
    mini = key_of(db, "mini-changes", "mini_app")
    his = key_of(db, "his-changes", hospital_slug="test")
    patient = new_profile(client, mini, "u1")
    again = new_profile(client, mini, "u1")  # the same name and birth date: the stored profile comes back
    assert again == patient
    slot = tomorrow_slots(client)[0]["id"]
    code = client.post(
        f"{API}/appointments", json={"slot_id": slot, "patient_id": patient}, headers=as_user(mini, "u1")
    ).get_json()["code"]
    cancelled = client.post(f"{API}/appointments/{code}/cancel", json={"reason": "bận"}, headers=as_user(mini, "u1"))
    assert cancelled.status_code == 200
    assert client.get(f"{API}/appointments/{code}", headers=as_user(his)).status_code == 200
    refused = client.post(f"{API}/appointments/{code}/complete", headers=as_user(his))
    assert refused.status_code == 409, "a cancelled visit cannot be completed"
    kinds = [(row[0], row[2], row[4]) for row in audit_rows(db)]
    assert ("mini-changes", "patient", "POST /api/v1/patients") in kinds
    assert ("mini-changes", "appointment", "POST /api/v1/appointments/<code>/cancel") in kinds
    assert ("his-changes", "appointment", "GET /api/v1/appointments/<code>") in kinds
    assert ("his-changes", "appointment", "POST /api/v1/appointments/<code>/complete") not in kinds, "refused"
