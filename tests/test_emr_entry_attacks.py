"""What an attacker sends to the EMR entry points (review of issue 13): always a JSON error, never a 500, and
nothing imported or read that the key may not import or read."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from core.emr.models import Import, Visit
from tests import emr_his_files as his
from tests.test_emr_api import IMPORTS, TEST, XML, assert_error, auth, client, count, keys, post_xml  # noqa: F401

pytestmark = pytest.mark.world(days=1)

NESTED = b"[" * 90_000 + b"]" * 90_000
NESTED_OBJECT = b'{"a":' * 25_000 + b"1" + b"}" * 25_000
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><TONG_HOP><MA_LK>&lol3;</MA_LK></TONG_HOP>'
)
XXE = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><TONG_HOP><HO_TEN>&e;</HO_TEN></TONG_HOP>'


@pytest.mark.parametrize("content_type", ["application/json", "application/fhir+json"])
@pytest.mark.parametrize("body", [NESTED, NESTED_OBJECT], ids=["array", "object"])
def test_deeply_nested_json_is_a_json_error_not_a_500(client, db, keys, body, content_type):  # noqa: F811
    response = client.post(IMPORTS, data=body, content_type=content_type, headers=auth(keys["his"]))
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json" and "error" in response.get_json()
    assert count(db, Visit) == 0


@pytest.mark.parametrize("payload", [BOMB, XXE], ids=["billion-laughs", "xxe"])
def test_entities_inside_a_base64_table_are_refused_and_never_expanded(client, db, keys, payload):  # noqa: F811
    visit = his.outpatient(facility_code=TEST, payloads={"XML1": payload})
    response = post_xml(client, keys["his"], his.submission_bytes([visit], facility_code=TEST))
    body = assert_error(response, 422, "import_refused")
    reasons = [p["reason"] for item in body["details"]["report"]["items"] for p in item["problems"]]
    assert any("DOCTYPE" in reason for reason in reasons), reasons
    assert "root:" not in response.get_data(as_text=True), "/etc/passwd was never read"
    assert count(db, Visit) == 0


def test_entities_in_the_gateways_base64_container_are_refused(client, db, keys):  # noqa: F811
    inner = base64.b64encode(BOMB.replace(b"TONG_HOP", b"GIAMDINHHS")).decode()
    response = client.post(IMPORTS, json={"fileHSBase64": inner}, headers=auth(keys["his"]))
    assert_error(response, 422, "import_refused")
    assert count(db, Visit) == 0


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/emr/persons/-1/fhir",
        "/api/v1/emr/persons/0/fhir",
        "/api/v1/emr/persons/99999999999999999999999/fhir",
        "/api/v1/emr/persons/1e3/fhir",
    ],
)
def test_ids_that_are_no_person_are_a_json_404(client, keys, url):  # noqa: F811
    assert_error(client.get(url, headers=auth(keys["province"])), 404, "not_found")
    assert_error(client.get("/api/v1/emr/persons/%00/fhir", headers=auth(keys["province"])), 422, "invalid_input")


@pytest.mark.parametrize(
    "content_type",
    ["text/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/octet-stream"],
)
def test_other_content_types_are_json_errors(client, db, keys, content_type):  # noqa: F811
    data = his.submission_bytes([his.outpatient(facility_code=TEST)], facility_code=TEST)
    response = client.post(IMPORTS, data=data, content_type=content_type, headers=auth(keys["his"]))
    assert response.status_code < 500 and response.mimetype == "application/json", response.status_code


def test_a_visit_naming_another_facility_inside_this_hospitals_container_is_refused_whole(client, db, keys):  # noqa: F811
    mine = his.outpatient(facility_code=TEST, ma_lk="LK-A")
    theirs = his.outpatient(facility_code="88888", ma_lk="LK-B")
    data = his.submission_bytes([mine, theirs], facility_code=TEST)
    assert_error(post_xml(client, keys["his"], data), 403, "forbidden")
    assert count(db, Visit) == 0


def test_a_base64_table_decoding_to_more_than_the_limit_is_refused_before_decoding(client, db, keys):  # noqa: F811
    visit = his.outpatient(facility_code=TEST, raw={"XML2": "QUFB" * 60_000})  # 180 kB once decoded; the limit 200 kB
    response = post_xml(client, keys["his"], his.submission_bytes([visit], facility_code=TEST))
    assert response.status_code in (201, 413, 422) and response.mimetype == "application/json"
    assert count(db, Import) <= 1


def _registry_bundle(cccd: str, vaccine: str) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "meta": {"source": "https://tiemchung.vncdc.gov.vn"},
        "entry": [
            {
                "fullUrl": "https://tiemchung.example/fhir/Patient/1",
                "resource": {
                    "resourceType": "Patient",
                    "id": "1",
                    "identifier": [{"system": "urn:vn:cccd", "value": cccd}],
                    "name": [{"family": "Lê", "given": ["Văn", "Khác"]}],
                    "gender": "male",
                    "birthDate": "1980-02-02",
                },
            },
            {
                "resource": {
                    "resourceType": "Immunization",
                    "id": "im-1",
                    "identifier": [{"system": "https://tiemchung.vncdc.gov.vn/mui-tiem", "value": "MT-0001"}],
                    "status": "completed",
                    "vaccineCode": {"text": vaccine},
                    "patient": {"reference": "Patient/1"},
                    "occurrenceDateTime": "2023-06-01",
                },
            },
        ],
    }


def test_a_key_of_one_hospital_cannot_write_into_another_hospitals_patient_by_fhir(client, db, keys):  # noqa: F811
    from core.emr.models import Immunization

    other_patient = "096080000222"
    visit = his.outpatient(  # the registry's patient below, seen at hospital "other"
        facility_code="88888",
        ma_lk="LK-O",
        xml1={"SO_CCCD": other_patient, "HO_TEN": "Lê Văn Khác", "NGAY_SINH": "198002020000", "GIOI_TINH": "1"},
    )
    response = client.post(
        IMPORTS,
        data=his.submission_bytes([visit], facility_code="88888"),
        content_type=XML,
        headers=auth(keys["his_other"]),
    )
    assert response.status_code == 201, response.get_json()
    first = client.post(IMPORTS, json=_registry_bundle(other_patient, "BCG"), headers=auth(keys["his_other"]))
    assert first.status_code == 201, first.get_json()

    # The key of hospital "test" (no visit of this person there) rewrites the other hospital's patient's record.
    attack = client.post(IMPORTS, json=_registry_bundle(other_patient, "Giả mạo"), headers=auth(keys["his"]))

    assert attack.status_code == 403, attack.get_json()
    assert count(db, Immunization) == 1
    with db.reader() as uow:
        assert uow.session.query(Immunization.vaccine_name).scalar() == "BCG"


def test_an_immunization_registrys_bundle_without_visits_is_201_not_refused(client, db, keys):  # noqa: F811
    from core.emr.models import Immunization

    response = client.post(IMPORTS, json=_registry_bundle("096080000333", "BCG"), headers=auth(keys["province"]))

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["immunizations"] == 1
    assert count(db, Immunization) == 1


def test_an_immunization_identifier_of_one_person_is_never_moved_to_another(db):
    """Even an unconfined import (the CLI, the province) cannot move a person's immunization to someone else by
    reusing its source identifier: the row stays, and the report says why."""
    import json

    from core.emr.importing import import_bytes
    from core.emr.models import Immunization, Person

    first = import_bytes(db, json.dumps(_registry_bundle("096080000222", "BCG")).encode(), channel="cli")
    assert first.immunizations == 1, first.as_dict()
    hijack = _registry_bundle("001090000333", "Giả mạo")
    hijack["entry"][0]["resource"]["name"] = [{"family": "Trần", "given": ["Thị", "Khác"]}]
    second = import_bytes(db, json.dumps(hijack).encode(), channel="cli")

    assert second.immunizations == 0 and not second.ok
    assert any(p.field == "identifier" and "another person" in p.reason for p in second.problems)
    with db.reader() as uow:
        rows = uow.session.execute(select(Immunization.vaccine_name, Person.cccd).join(Person)).all()
    assert rows == [("BCG", "096080000222")]
