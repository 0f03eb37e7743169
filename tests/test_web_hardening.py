"""The web app as an attacker or an offline hospital meets it: security headers on every response, the docs
page served from the package, input limits that hold on PostgreSQL, bodies that cannot break storage, and an
OpenAPI document that lists every refusal."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from core import access
from core.booking.models import Appointment, Patient
from core.config import Settings
from henkham.web import create_app
from tests.factories import new_patient
from tests.identity_helpers import bearer, with_fake_graph

API = "/api/v1"
PATIENT = {"full_name": "Nguyễn Thị Lan", "date_of_birth": "1990-05-17", "sex": "female", "phone": "0912345678"}


pytestmark = pytest.mark.world(days=3)


@pytest.fixture
def app(db, world):
    return with_fake_graph(create_app(Settings(database_url=db.url), database=db))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def keys(db, world) -> dict[str, str]:
    with db.uow() as uow:
        return {
            kind: access.create_api_key(
                uow, name=f"k-{kind}", kind=kind, hospital_slug="test" if kind == "kiosk" else None
            )
            for kind in ("mini_app", "kiosk", "his", "admin")
        }


def count(db, model) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


# --- security headers -------------------------------------------------------------------------------------


REQUESTS = {
    "api json": ("GET", f"{API}/hospitals", None),
    "openapi": ("GET", f"{API}/openapi.json", None),
    "unknown path": ("GET", "/nothing-here", None),
    "wrong method": ("DELETE", f"{API}/hospitals", None),
    "no key": ("GET", f"{API}/patients", None),
    "validation error": ("GET", f"{API}/hospitals/test/departments/nhi/slots?limit=0", None),
    "webhook refusal": ("POST", "/zalo/webhook", b"not an event"),
    "home page": ("GET", "/", None),
    "health": ("GET", "/healthz", None),
    "docs page": ("GET", f"{API}/docs", None),
    "docs asset": ("GET", f"{API}/docs/assets/swagger-ui.css", None),
}


@pytest.mark.parametrize("name", REQUESTS)
def test_every_response_carries_the_security_headers(client, name):
    method, path, data = REQUESTS[name]
    response = client.open(path, method=method, data=data)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in ("no-referrer", "same-origin")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    if "/docs" in path:
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert not re.search(r"https?:|//", csp), "the docs page may load from its own origin only"
    else:
        assert "default-src 'none'" in csp


def test_answers_to_a_key_are_not_cached(client, keys):
    response = client.get(f"{API}/patients", headers=bearer(keys["mini_app"], "zalo-1"))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_a_server_error_is_json_and_has_the_headers_too(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail of the crash")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "secret detail" not in response.get_data(as_text=True)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


# --- the docs page ----------------------------------------------------------------------------------------


def test_the_docs_page_loads_everything_from_the_app(client):
    response = client.get(f"{API}/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert not re.search(r"https?://|//[a-z]", page), "no CDN or other external address"
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts and all("src=" in attributes for attributes in scripts), "no inline script (CSP script-src 'self')"
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page) + re.findall(r'data-spec="([^"]+)"', page)
    expected_types = {".css": "text/css", ".js": "text/javascript", ".png": "image/png", ".json": "application/json"}
    assert {path.rsplit(".", 1)[-1] for path in referenced} == {"css", "js", "png", "json"}
    for path in referenced:
        asset = client.get(path)
        assert asset.status_code == 200, path
        assert asset.mimetype == expected_types["." + path.rsplit(".", 1)[-1]], (path, asset.mimetype)
        assert len(asset.get_data()) > 0
    assert b"SwaggerUIBundle" in client.get(f"{API}/docs/assets/swagger-ui-bundle.js").get_data()


def test_only_the_docs_assets_are_served(client):
    assert client.get(f"{API}/docs/assets/index.html").status_code == 404
    assert client.get(f"{API}/docs/assets/..%2f..%2fpyproject.toml").status_code == 404


# --- input limits (they matter on PostgreSQL: varchar(n), no NUL, no lone surrogates) ---------------------


def test_a_41_character_user_id_is_refused_not_a_server_error(client, keys):
    response = client.post(f"{API}/conversations/123/{'u' * 41}/handback", headers=bearer(keys["his"]))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]["details"] == {"path": {"user_id": ["at most 40 characters"]}}


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (f"{API}/appointments/{'A' * 13}", "code"),
        (f"{API}/hospitals/{'h' * 65}", "slug"),
        (f"{API}/hospitals/test/departments/{'d' * 41}/slots", "department"),
        (f"{API}/conversations/{'9' * 41}/u1/handback", "oa_id"),
    ],
)
def test_overlong_path_values_are_422(client, keys, path, name):
    method = "POST" if path.endswith("handback") else "GET"
    response = client.open(path, method=method, headers=bearer(keys["admin"]))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert list(response.get_json()["error"]["details"]["path"]) == [name]


@pytest.mark.parametrize("value", ["0", "20261201", "2026-02-30", "1799-12-31", "1e9"])
def test_a_query_date_must_be_an_iso_date(client, value):
    response = client.get(f"{API}/hospitals/test/departments/nhi/slots", query_string={"date": value})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "date" in response.get_json()["error"]["details"]["query"]


@pytest.mark.parametrize("value", [0, 631152000, "0", True], ids=["int-0", "unix-seconds", "string-0", "true"])
def test_a_birth_date_must_be_an_iso_date_string(client, db, keys, value):
    response = client.post(
        f"{API}/patients", json={**PATIENT, "date_of_birth": value}, headers=bearer(keys["mini_app"], "zalo-1")
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "date_of_birth" in response.get_json()["error"]["details"]["json"]
    assert count(db, Patient) == 0


def test_check_in_date_zero_is_not_1970(client, keys):
    response = client.post(f"{API}/check-in", json={"phone": "0912345678", "date": 0}, headers=bearer(keys["kiosk"]))
    assert response.status_code == 422, response.get_data(as_text=True)


def test_a_deeply_nested_body_is_400(client, db, keys):
    body = "[" * 5000 + "]" * 5000
    response = client.post(
        f"{API}/patients", data=body, content_type="application/json", headers=bearer(keys["mini_app"], "zalo-1")
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "bad_request"


def test_a_utf16_body_is_400(client, db, keys):
    raw = json.dumps(PATIENT, ensure_ascii=False).encode("utf-16")
    response = client.post(
        f"{API}/patients", data=raw, content_type="application/json", headers=bearer(keys["mini_app"], "zalo-1")
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "UTF-8" in response.get_json()["error"]["message"]
    assert count(db, Patient) == 0


@pytest.mark.parametrize("field", ["full_name", "address"])
def test_a_lone_surrogate_is_400_and_nothing_is_stored(client, db, keys, field):
    raw = json.dumps({**PATIENT, field: "Lan \ud800 Anh"})  # ensure_ascii: the JSON text holds "\ud800"
    assert "\\ud800" in raw
    response = client.post(
        f"{API}/patients", data=raw, content_type="application/json", headers=bearer(keys["mini_app"], "zalo-1")
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "surrogate" in response.get_json()["error"]["message"]
    assert count(db, Patient) == 0


def test_a_nul_in_a_cancel_reason_is_422_and_nothing_changes(client, db, world, keys):
    patient = new_patient(db, world.account_id)
    slot = client.get(f"{API}/hospitals/test/departments/nhi/slots").get_json()["slots"][0]
    his = bearer(keys["his"])
    booked = client.post(f"{API}/appointments", json={"slot_id": slot["id"], "patient_id": patient}, headers=his)
    assert booked.status_code == 201, booked.get_data(as_text=True)
    code = booked.get_json()["code"]
    response = client.post(f"{API}/appointments/{code}/cancel", json={"reason": "bận\x00việc"}, headers=his)
    assert response.status_code == 422
    assert client.get(f"{API}/appointments/{code}", headers=his).get_json()["status"] == "booked"


def test_a_body_that_is_not_json_is_415(client, db, keys):
    response = client.post(
        f"{API}/patients",
        data="full_name=Lan",
        content_type="application/x-www-form-urlencoded",
        headers=bearer(keys["mini_app"], "zalo-1"),
    )
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"
    assert count(db, Patient) == 0


def test_a_body_over_64_kb_is_413(client, keys):
    response = client.post(
        f"{API}/patients", json={**PATIENT, "address": "x" * 70_000}, headers=bearer(keys["mini_app"], "zalo-1")
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


def test_nothing_is_booked_by_a_refused_body(client, db, keys):
    for raw in ("[" * 3000, '{"slot_id": 1, "patient_id": 1, "reason": "\\udfff"}'):
        response = client.post(
            f"{API}/appointments", data=raw, content_type="application/json", headers=bearer(keys["his"])
        )
        assert response.status_code == 400
    assert count(db, Appointment) == 0


# --- the OpenAPI document -----------------------------------------------------------------------------------


def test_the_document_lists_every_refusal_with_the_error_schema(client):
    spec = client.get(f"{API}/openapi.json").get_json()
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "message_vi", "details"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            assert {"400", "422"} <= set(responses), where
            if operation.get("security"):
                assert {"401", "403", "429"} <= set(responses), where
                assert "Retry-After" in responses["429"]["headers"], where
            if method == "post":
                assert {"404", "409", "413", "415"} <= set(responses), where
            for status, response in responses.items():
                if status[0] in "45":
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }, (where, status)


def test_the_document_states_the_limits_of_paths_and_headers(client):
    spec = client.get(f"{API}/openapi.json").get_json()
    handback = spec["paths"]["/api/v1/conversations/{oa_id}/{user_id}/handback"]["post"]
    limits = {p["name"]: p["schema"] for p in handback["parameters"]}
    assert limits["user_id"]["maxLength"] == 40 and limits["oa_id"]["maxLength"] == 40
    assert limits["X-Henkham-Account"]["maxLength"] == 120
    appointments = spec["paths"]["/api/v1/patients/{patient_id}/appointments"]["get"]
    patient_id = next(p for p in appointments["parameters"] if p["name"] == "patient_id")
    assert patient_id["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    booking = spec["paths"]["/api/v1/appointments"]["post"]
    idempotency = next(p for p in booking["parameters"] if p["name"] == "Idempotency-Key")
    assert idempotency["schema"]["maxLength"] == 120
    assert spec["components"]["schemas"]["PatientIn"]["properties"]["date_of_birth"]["format"] == "date"


@pytest.mark.parametrize(
    "raw",
    [b"[" * 5000 + b"]" * 5000, b'{"app_id": "1", "event_name": "\\udc00", "timestamp": "1"}'],
    ids=["deeply-nested", "lone-surrogate"],
)
def test_the_webhook_refuses_unsafe_json_with_400_and_stores_nothing(client, db, raw):
    from bot.zalo_webhook.models import InboundEvent

    response = client.post("/zalo/webhook", data=raw, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "malformed_event"
    assert count(db, InboundEvent) == 0


def test_the_docs_page_gets_the_document_in_the_openapi_version_its_swagger_ui_renders(client):
    canonical = client.get(f"{API}/openapi.json").get_json()
    shown = client.get(f"{API}/docs/openapi-3.0.json").get_json()
    assert canonical["openapi"].startswith("3.1") and shown["openapi"] == "3.0.3"
    assert shown["paths"].keys() == canonical["paths"].keys()
    text = json.dumps(shown)
    assert '{"type": "null"}' not in text and '"const"' not in text
    slot_query = next(
        p
        for p in shown["paths"]["/api/v1/hospitals/{slug}/departments/{department}/slots"]["get"]["parameters"]
        if p["name"] == "doctor_id"
    )
    assert slot_query["schema"].get("nullable") is True


@pytest.mark.parametrize("slot_id", [True, "1", 1.0, "abc"])
def test_a_body_id_must_be_a_json_integer(db, world, client, keys, slot_id):
    # {"slot_id": true} was read as slot 1 and booked it
    patient = new_patient(db, world.account_id)
    response = client.post(
        f"{API}/appointments", json={"slot_id": slot_id, "patient_id": patient}, headers=bearer(keys["his"])
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert count(db, Appointment) == 0
