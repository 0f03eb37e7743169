"""The EMR routes of the REST API (acceptance 6): POST /api/v1/emr/imports and GET /api/v1/emr/persons/<id>/fhir.

A key without the ``his`` scope can neither import nor read; a key bound to another hospital can neither import
this hospital's file nor read its patient; every read leaves an audit row; a bad body is a JSON 400/413/415/422,
never a 500.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from sqlalchemy import func, select

from core import access
from core.audit import AccessAudit
from core.config import Settings
from core.emr.models import Import, Person, Visit
from core.timeutil import local_to_utc
from henkham.web import create_app
from tests import factories
from tests.emr_entry_files import file_of, one_visit_file, refused_visit, visit
from tests.factories import add_hospital, new_patient, slot_at, today_local

pytestmark = pytest.mark.world(days=1)

IMPORTS = "/api/v1/emr/imports"
XML = "application/xml"
MAX_BYTES = 200_000
TEST, OTHER = "99999", "88888"  # facility codes of hospital "test" (tests/factories) and of "other"


@pytest.fixture
def client(db, database_url, world):
    add_hospital(db, "other")
    settings = Settings(database_url=database_url, emr_import_max_bytes=MAX_BYTES)
    return create_app(settings, database=db).test_client()


@pytest.fixture
def keys(db, client) -> dict[str, str]:
    with db.uow() as uow:
        return {
            "his": access.create_api_key(uow, name="his-test", kind="his", hospital_slug="test"),
            "his_other": access.create_api_key(uow, name="his-other", kind="his", hospital_slug="other"),
            "province": access.create_api_key(uow, name="his-province", kind="his"),
            "kiosk": access.create_api_key(uow, name="kiosk-test", kind="kiosk", hospital_slug="test"),
            "staff": access.create_api_key(uow, name="staff-test", kind="his", scopes=["staff", "read"]),
        }


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post_xml(client, key: str, data: bytes):
    return client.post(IMPORTS, data=data, content_type=XML, headers=auth(key))


def count(db, model) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


def person_id(db, cccd: str = "096190000111") -> int:
    with db.reader() as uow:
        found = uow.session.scalar(select(Person.id).where(Person.cccd == cccd))
    assert found is not None, "the import made the person"
    return found


def fhir_reads(db, client_name: str) -> list[AccessAudit]:
    with db.reader() as uow:
        return list(uow.session.scalars(select(AccessAudit).where(AccessAudit.actor_name == client_name)))


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()["error"]
    assert body["code"] == code and body["message"] and body["message_vi"]
    return body


# --- scope and hospital -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["kiosk", "staff"])
def test_a_key_without_the_his_scope_can_neither_import_nor_read(client, db, keys, kind):
    assert_error(post_xml(client, keys[kind], one_visit_file(TEST)), 403, "forbidden")
    assert_error(client.get("/api/v1/emr/persons/1/fhir", headers=auth(keys[kind])), 403, "forbidden")
    assert count(db, Import) == 0 and count(db, Visit) == 0


def test_no_key_is_401(client):
    assert_error(client.post(IMPORTS, data=one_visit_file(TEST), content_type=XML), 401, "unauthorized")
    assert_error(client.get("/api/v1/emr/persons/1/fhir"), 401, "unauthorized")


def test_a_key_of_another_hospital_cannot_import_this_hospitals_file(client, db, keys):
    assert_error(post_xml(client, keys["his_other"], one_visit_file(TEST)), 403, "forbidden")
    assert count(db, Visit) == 0, "refused whole: nothing imported"


def test_a_file_naming_another_facility_anywhere_is_refused_whole(client, db, keys):
    mixed = file_of(TEST, visit(TEST, "LK-1"), visit(OTHER, "LK-2", cccd="096190000222"))
    assert_error(post_xml(client, keys["his"], mixed), 403, "forbidden")
    assert count(db, Visit) == 0


def test_a_key_of_another_hospital_cannot_read_its_patient_and_every_read_is_audited(client, db, keys):
    assert post_xml(client, keys["his"], one_visit_file(TEST)).status_code == 201
    url = f"/api/v1/emr/persons/{person_id(db)}/fhir"

    assert_error(client.get(url, headers=auth(keys["his_other"])), 403, "forbidden")

    before = len(fhir_reads(db, "his-test"))
    response = client.get(url, headers=auth(keys["his"]))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/fhir+json"
    bundle = response.get_json()
    assert bundle["resourceType"] == "Bundle"
    types = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    assert {"Patient", "Encounter", "Condition"} <= types
    reads = fhir_reads(db, "his-test")
    assert len(reads) > before, "the read left an audit row"
    assert any("/fhir" in row.purpose for row in reads[before:]), [row.purpose for row in reads]

    province_before = len(fhir_reads(db, "his-province"))
    assert client.get(url, headers=auth(keys["province"])).status_code == 200, "an unbound key reads anyone"
    assert len(fhir_reads(db, "his-province")) > province_before


def test_the_bundle_carries_the_appointments_of_the_linked_booking_profile(client, db, world, keys):
    patient = new_patient(
        db,
        world.account_id,
        full_name="Nguyễn Thị Thử",
        date_of_birth=dt.date(1990, 1, 15),
        sex="female",
        cccd="096190000111",
    )
    today = today_local()
    booked = factories.book(db, world, slot_at(db, "nhi", today, "07:00"), patient, now=local_to_utc(today, dt.time()))
    post_xml(client, keys["his"], one_visit_file(TEST))  # the import links the profile of the same CCCD

    bundle = client.get(f"/api/v1/emr/persons/{person_id(db)}/fhir", headers=auth(keys["his"])).get_json()
    appointments = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Appointment"]
    assert [a["identifier"][0]["value"] for a in appointments] == [booked.code]
    assert appointments[0]["status"] == "booked"


def test_the_patient_summary_is_an_ips_document(client, db, keys):
    post_xml(client, keys["his"], one_visit_file(TEST))
    response = client.get(f"/api/v1/emr/persons/{person_id(db)}/fhir?summary=ips", headers=auth(keys["his"]))
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    document = response.get_json()
    assert document["resourceType"] == "Bundle" and document["type"] == "document"
    assert document["entry"][0]["resource"]["resourceType"] == "Composition"


def test_an_unknown_person_is_404_and_a_bad_summary_422(client, keys):
    assert_error(client.get("/api/v1/emr/persons/424242/fhir", headers=auth(keys["province"])), 404, "not_found")
    assert_error(client.get("/api/v1/emr/persons/1/fhir?summary=all", headers=auth(keys["his"])), 422, "invalid_input")


# --- the import and its report ------------------------------------------------------------------------------
def test_an_import_answers_its_report_and_the_same_file_again_is_200_unchanged(client, db, keys):
    data = one_visit_file(TEST)
    first = post_xml(client, keys["his"], data)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["imported"] == 1
    again = post_xml(client, keys["his"], data)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["unchanged"] == 1 and again.get_json()["imported"] == 0
    assert count(db, Visit) == 1


def test_one_refused_visit_leaves_the_rest_imported_with_the_reason(client, db, keys):
    response = post_xml(client, keys["his"], file_of(TEST, visit(TEST, "LK-1"), refused_visit(TEST, "LK-2")))
    assert response.status_code == 201
    report = response.get_json()
    assert report["imported"] == 1 and report["refused"] == 1
    assert count(db, Visit) == 1


def test_a_file_whose_every_visit_is_refused_is_422_with_the_report(client, db, keys):
    body = assert_error(
        post_xml(client, keys["his"], file_of(TEST, refused_visit(TEST, "LK-9"))), 422, "import_refused"
    )
    assert body["details"]["report"]["refused"] == 1
    assert count(db, Visit) == 0


def test_the_gateways_base64_form_is_imported(client, db, keys):
    encoded = base64.b64encode(one_visit_file(TEST)).decode()
    response = client.post(IMPORTS, json={"fileHSBase64": encoded}, headers=auth(keys["his"]))
    assert response.status_code == 201, response.get_json()
    assert count(db, Visit) == 1


def test_a_file_larger_than_the_apps_64_kb_is_taken_up_to_the_setting(client, keys):
    padded = one_visit_file(TEST).replace(b"<CHUKYDONVI />", b"<CHUKYDONVI>" + b"A" * 100_000 + b"</CHUKYDONVI>")
    assert len(padded) > 64 * 1024
    assert post_xml(client, keys["his"], padded).status_code == 201


# --- bad bodies: JSON errors, never a 500 ---------------------------------------------------------------------
def test_a_body_over_the_setting_is_413(client, db, keys):
    assert_error(post_xml(client, keys["his"], b"<" + b"x" * (MAX_BYTES + 1)), 413, "too_large")
    assert count(db, Import) == 0


def test_a_body_of_another_media_type_is_415(client, keys):
    response = client.post(IMPORTS, data=one_visit_file(TEST), content_type="text/plain", headers=auth(keys["his"]))
    assert_error(response, 415, "unsupported_media_type")


def test_xml_bodies_are_refused_on_every_other_route(client, keys):
    response = client.post("/api/v1/re-exams", data=b"<a/>", content_type=XML, headers=auth(keys["his"]))
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"", XML, 422, "invalid_input"),
        (b'{"fileHSBase64": ', "application/json", 400, "bad_request"),
        (b'{"fileHSBase64": "***not base64***"}', "application/json", 422, "invalid_input"),
        (b'{"fileHSBase64": 12}', "application/json", 422, "invalid_input"),
        (b'{"fileHSBase64": "PGEvPg==", "x": 1}', "application/json", 422, "invalid_input"),
    ],
)
def test_bad_bodies_are_json_errors_before_any_import(client, db, keys, body, content_type, status, code):
    assert_error(client.post(IMPORTS, data=body, content_type=content_type, headers=auth(keys["his"])), status, code)
    assert count(db, Import) == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<not-a-submission/>", XML),
        (b"<GIAMDINHHS><THONGTINHOSO>", XML),
        (b"\xff\xfe<\x00", XML),
        (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><GIAMDINHHS>&a;</GIAMDINHHS>', XML),
        (b'{"resourceType": "Patient"}', "application/fhir+json"),
        (b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": 1}]}', "application/json"),
        (base64.b64encode(b"<GIAMDINHHS/>"), XML),
    ],
)
def test_files_that_are_not_submissions_are_422_never_500(client, db, keys, body, content_type):
    response = client.post(IMPORTS, data=body, content_type=content_type, headers=auth(keys["his"]))
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json" and "error" in response.get_json()
    assert count(db, Visit) == 0


def test_both_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    imports = paths[IMPORTS]["post"]
    assert {"application/xml", "application/json", "application/fhir+json"} <= set(imports["requestBody"]["content"])
    assert {"201", "200", "403", "413", "415", "422"} <= set(imports["responses"])
    read = paths["/api/v1/emr/persons/{person_id}/fhir"]["get"]
    assert "application/fhir+json" in read["responses"]["200"]["content"]
    assert {"summary"} <= {p["name"] for p in read["parameters"] if p["in"] == "query"}


def test_reads_of_other_hospitals_persons_are_rate_limited(db, database_url, world, keys):
    settings = Settings(database_url=database_url, rate_limit_failed_lookups_per_key="3 per minute")
    limited = create_app(settings, database=db).test_client()
    post_xml(limited, keys["his"], one_visit_file(TEST))
    url = f"/api/v1/emr/persons/{person_id(db)}/fhir"
    statuses = [limited.get(url, headers=auth(keys["his_other"])).status_code for _ in range(4)]
    assert statuses == [403, 403, 403, 429]


def test_a_fhir_bundle_is_imported_through_the_same_route(client, db, keys):
    post_xml(client, keys["his"], one_visit_file(TEST))
    bundle = client.get(f"/api/v1/emr/persons/{person_id(db)}/fhir", headers=auth(keys["his"])).get_data()
    response = client.post(IMPORTS, data=bundle, content_type="application/fhir+json", headers=auth(keys["province"]))
    assert response.status_code in (200, 201), response.get_json()
    report = response.get_json()
    assert report["format"] == "fhir" and report["refused"] == 0
    assert report["imported"] == 0, "the same visit (facility and MA_LK) is not a new one"
    assert count(db, Person) == 1
