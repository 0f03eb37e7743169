"""Mini App identity: the user is who Zalo's Graph API says holds the access token (the simulator's /v2.0/me),
never a header anyone can set; server-to-server clients keep X-Henkham-Account only when trusted with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select

from core import access
from core.booking.models import Account
from core.config import Settings
from henkham.web import create_app
from tests.factories import build_world, today_local
from tests.harness import free_port, wait_until
from tests.zalo_sim import Simulator, running_simulator

API = "/api/v1"
PATIENT = {"full_name": "Nguyễn Thị Lan", "date_of_birth": "1990-05-17", "sex": "female", "phone": "0912345678"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with running_simulator() as simulator:
        yield simulator


def user_token(sim: Simulator, user_id: str, **extra: object) -> str:
    response = sim.http.post(f"{sim.base}/_sim/graph/tokens", json={"user_id": user_id, **extra})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def graph_calls(sim: Simulator) -> int:
    return sim.stats()["requests"].get("/v2.0/me", 0)


@pytest.fixture
def api(db, sim):
    build_world(db, start=today_local())
    sim.http.delete(f"{sim.base}/_sim/faults")
    with db.uow() as uow:
        keys = {
            "mini_app": access.create_api_key(uow, name="mini-app", kind="mini_app"),
            "his": access.create_api_key(uow, name="his", kind="his", scopes=["book", "staff"]),
            "partner": access.create_api_key(
                uow, name="partner", kind="his", scopes=["book"], trusted_account_header=True
            ),
        }
    settings = Settings(database_url=db.url, zalo_graph_base=sim.base, zalo_graph_timeout_seconds=2)
    return create_app(settings, database=db).test_client(), keys


def headers(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def accounts(db) -> list[tuple[str, str]]:
    with db.reader() as uow:
        query = select(Account).where(Account.provider.like("api:%")).order_by(Account.id)
        return [(a.provider, a.external_id) for a in uow.session.scalars(query)]


def test_the_simulator_answers_me_in_zalos_shape(sim) -> None:
    token = user_token(sim, "5830000000000000001", name="Lan")
    me = requests.get(f"{sim.base}/v2.0/me", params={"fields": "id,name,picture"}, headers={"access_token": token})
    assert me.status_code == 200
    body = me.json()
    assert (body["id"], body["name"]) == ("5830000000000000001", "Lan") and body["picture"]["data"]["url"]
    forged = requests.get(f"{sim.base}/v2.0/me", params={"fields": "id"}, headers={"access_token": "forged"})
    assert forged.status_code == 200 and forged.json()["error"] == 452 and forged.json()["message"]


def test_a_valid_token_is_the_account_of_that_zalo_user(db, sim, api) -> None:
    client, keys = api
    token = user_token(sim, "5830000000000000002")
    created = client.post(
        f"{API}/patients", json=PATIENT, headers=headers(keys["mini_app"], **{"X-Zalo-Access-Token": token})
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    assert accounts(db) == [("api:mini-app", "5830000000000000002")]
    listed = client.get(f"{API}/patients", headers=headers(keys["mini_app"], **{"X-Zalo-Access-Token": token}))
    assert [p["id"] for p in listed.get_json()["patients"]] == [created.get_json()["id"]]
    # Another user's token sees nothing of it.
    other = user_token(sim, "5830000000000000003")
    theirs = client.get(f"{API}/patients", headers=headers(keys["mini_app"], **{"X-Zalo-Access-Token": other}))
    assert theirs.status_code == 200 and theirs.get_json() == {"patients": []}


def test_a_verified_token_is_cached_not_asked_per_request(db, sim, api) -> None:
    client, keys = api
    token = user_token(sim, "5830000000000000004")
    before = graph_calls(sim)
    for _ in range(5):
        response = client.get(f"{API}/patients", headers=headers(keys["mini_app"], **{"X-Zalo-Access-Token": token}))
        assert response.status_code == 200
    assert graph_calls(sim) - before == 1


@pytest.mark.parametrize("token", ["forged-token", "usr-" + "x" * 32, "x" * 3000], ids=["forged", "unknown", "huge"])
def test_a_forged_token_is_401_and_nothing_is_stored(db, sim, api, token) -> None:
    client, keys = api
    response = client.post(
        f"{API}/patients", json=PATIENT, headers=headers(keys["mini_app"], **{"X-Zalo-Access-Token": token})
    )
    assert response.status_code == 401, response.get_data(as_text=True)
    refusal = response.get_json()["error"]
    assert refusal["code"] == "invalid_zalo_token" and refusal["message_vi"].startswith("Dạ, ")
    assert accounts(db) == []


def test_an_expired_or_revoked_token_is_401(db, sim, api) -> None:
    client, keys = api
    expiring = user_token(sim, "5830000000000000005", expires_in=0.3)

    def expired() -> bool:
        me = requests.get(f"{sim.base}/v2.0/me", headers={"access_token": expiring}, timeout=5)
        return me.json().get("error") == 452

    wait_until(expired, timeout=30, what="the simulated token to expire")
    revoked = user_token(sim, "5830000000000000005")
    assert sim.http.delete(f"{sim.base}/_sim/graph/tokens", json={"access_token": revoked}).json() == {"revoked": True}
    for token in (expiring, revoked):
        response = client.get(f"{API}/patients", headers=headers(keys["mini_app"], **{"X-Zalo-Access-Token": token}))
        assert response.status_code == 401, response.get_data(as_text=True)


def test_a_mini_app_cannot_name_its_user_in_a_bare_header(db, sim, api) -> None:
    client, keys = api
    response = client.post(
        f"{API}/patients", json=PATIENT, headers=headers(keys["mini_app"], **{"X-Henkham-Account": "victim"})
    )
    assert response.status_code == 401, response.get_data(as_text=True)
    assert accounts(db) == []


def test_an_untrusted_server_client_cannot_use_the_header_a_trusted_one_can(db, sim, api) -> None:
    client, keys = api
    refused = client.post(f"{API}/patients", json=PATIENT, headers=headers(keys["his"], **{"X-Henkham-Account": "u1"}))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    allowed = client.post(
        f"{API}/patients", json=PATIENT, headers=headers(keys["partner"], **{"X-Henkham-Account": "u1"})
    )
    assert allowed.status_code == 201, allowed.get_data(as_text=True)
    assert accounts(db) == [("api:partner", "u1")]


def test_a_mini_app_key_cannot_be_trusted_with_the_header(db) -> None:
    build_world(db, start=today_local())
    with db.uow() as uow, pytest.raises(access.InvalidInput):
        access.create_api_key(uow, name="sneaky", kind="mini_app", trusted_account_header=True)


@pytest.mark.parametrize(
    "fault",
    [{"kind": "http_503"}, {"kind": "timeout", "delay_seconds": 3}, {"kind": "zalo_-32"}],
    ids=["5xx", "slow", "rate-limited"],
)
def test_graph_down_is_503_json_not_500(db, sim, api, fault) -> None:
    client, keys = api
    token = user_token(sim, "5830000000000000006")
    sim.fault(path="/v2.0/me", count=1, **fault)  # the next /v2.0/me fails once
    response = client.get(f"{API}/patients", headers=headers(keys["mini_app"], **{"X-Zalo-Access-Token": token}))
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "zalo_unavailable"
    again = client.get(f"{API}/patients", headers=headers(keys["mini_app"], **{"X-Zalo-Access-Token": token}))
    assert again.status_code == 200, "a failure is not cached: the next request asks again"


def test_graph_unreachable_is_503(db) -> None:
    build_world(db, start=today_local())
    with db.uow() as uow:
        key = access.create_api_key(uow, name="mini-app", kind="mini_app")
    settings = Settings(database_url=db.url, zalo_graph_base=f"http://127.0.0.1:{free_port()}")
    client = create_app(settings, database=db).test_client()
    response = client.get(f"{API}/patients", headers=headers(key, **{"X-Zalo-Access-Token": "any"}))
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "zalo_unavailable"
