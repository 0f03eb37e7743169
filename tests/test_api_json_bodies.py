"""API request bodies that are not UTF-8 JSON, or nested deeper than the parser goes: 400, never a 500."""

from __future__ import annotations

import pytest

from core import access
from henkham.web import create_app
from tests.factories import build_world, today_local

BODIES = {
    "nested": b"[" * 30_000 + b"]" * 30_000,
    "utf-16": '{"full_name": "Nguyễn Thị Mai"}'.encode("utf-16"),
    "utf-8 surrogate": '{"full_name": "Mai \ud83d"}'.encode("utf-8", "surrogatepass"),
}


@pytest.fixture
def client_and_key(db):
    build_world(db, start=today_local(), days=1)
    with db.uow() as uow:
        key = access.create_api_key(uow, name="admin", kind="admin")
    return create_app(database=db).test_client(), key


@pytest.mark.parametrize("path", ["/api/v1/patients", "/api/v1/appointments", "/api/v1/check-in"])
@pytest.mark.parametrize("kind", sorted(BODIES))
def test_bodies_that_are_not_plain_utf8_json_get_a_json_400(client_and_key, path, kind):
    client, key = client_and_key
    headers = {"Authorization": f"Bearer {key}", "X-Henkham-Account": "u1", "Content-Type": "application/json"}
    response = client.post(path, data=BODIES[kind], headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and error["message_vi"].startswith("Dạ,")
