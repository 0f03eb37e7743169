"""Rate limits: a guesser of booking codes or keys is slowed to hopeless, a busy desk is not; the budget is
shared by every web process through Redis; a limited client gets 429, Retry-After and the usual error JSON."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from limits import parse_many

from core import access
from core.booking.models import Appointment
from core.config import Settings
from core.timeutil import local_to_utc
from henkham.web import create_app
from tests import factories
from tests.conftest import redis_unavailable
from tests.factories import new_patient, slot_at, today_local
from tests.harness import free_port
from tests.identity_helpers import TOKEN_HEADER, bearer, token_for, with_fake_graph

API = "/api/v1"
REDIS_URL = "redis://127.0.0.1:6379/0"
CODE_ALPHABET = 31  # 0/O/1/I never appear in a booking code
CODE_LENGTH = 6


pytestmark = pytest.mark.world(days=3, capacity=50)


@pytest.fixture
def keys(db, world) -> dict[str, str]:
    with db.uow() as uow:
        return {
            "kiosk": access.create_api_key(uow, name="kiosk", kind="kiosk", hospital_slug="test"),
            "kiosk2": access.create_api_key(uow, name="kiosk-2", kind="kiosk", hospital_slug="test"),
            "mini_app": access.create_api_key(uow, name="mini", kind="mini_app"),
            "his": access.create_api_key(uow, name="his", kind="his"),
        }


def make_app(db, **limits: str):
    return with_fake_graph(create_app(Settings(database_url=db.url, **limits), database=db))


def client_from(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def booked_today(db, world) -> str:
    patient = new_patient(db, world.account_id)
    today = today_local()
    view = factories.book(
        db, world, slot_at(db, "nhi", today, "07:00"), patient, now=local_to_utc(today, dt.time(0, 0))
    )
    return view.code


def assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 1
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message_vi"].startswith("Dạ,") and error["message_vi"].endswith("ạ.")
    assert error["details"]["retry_after_seconds"] >= 1
    assert response.headers["X-Frame-Options"] == "DENY"


def test_guessing_booking_codes_is_stopped_per_key(db, world, keys):
    code = booked_today(db, world)
    app = make_app(db, rate_limit_failed_lookups_per_key="3 per minute", rate_limit_failed_lookups_per_ip="100/minute")
    kiosk = bearer(keys["kiosk"])
    for n, ip in enumerate(("10.0.0.1", "10.0.0.2", "10.0.0.3")):  # from three addresses: the key is counted
        assert client_from(app, ip).get(f"{API}/appointments/ZZZZZ{n + 2}", headers=kiosk).status_code == 404
    guesser = client_from(app, "10.0.0.4")
    assert_rate_limited(guesser.get(f"{API}/appointments/ZZZZZ9", headers=kiosk))
    assert_rate_limited(guesser.post(f"{API}/check-in", json={"code": "ZZZZZ8"}, headers=kiosk))
    assert_rate_limited(guesser.get(f"{API}/appointments/{code}", headers=kiosk)), "even a right guess now"
    other_kiosk = client_from(app, "10.0.0.5")
    assert other_kiosk.get(f"{API}/appointments/{code}", headers=bearer(keys["kiosk2"])).status_code == 200


def test_guessing_from_one_address_is_stopped_whatever_the_key(db, world, keys):
    app = make_app(db, rate_limit_failed_lookups_per_key="100/minute", rate_limit_failed_lookups_per_ip="4/minute")
    same_ip = client_from(app, "10.0.1.1")
    for n in range(4):
        key = keys["kiosk"] if n % 2 else keys["kiosk2"]
        assert same_ip.post(f"{API}/check-in", json={"code": f"ZZZZZ{n + 2}"}, headers=bearer(key)).status_code == 404
    assert_rate_limited(same_ip.post(f"{API}/check-in", json={"code": "ZZZZZ7"}, headers=bearer(keys["his"])))
    elsewhere = client_from(app, "10.0.1.2")
    assert elsewhere.post(f"{API}/check-in", json={"code": "ZZZZZ7"}, headers=bearer(keys["kiosk"])).status_code == 404


def test_a_busy_desk_is_not_blocked_by_the_default_limits(db, world, keys):
    code = booked_today(db, world)
    desk = client_from(make_app(db), "10.0.2.1")
    kiosk = bearer(keys["kiosk"])
    for _ in range(150):  # a kiosk looking up and checking in patients all morning, in one burst
        assert desk.post(f"{API}/check-in", json={"code": code}, headers=kiosk).status_code == 200
        assert desk.get(f"{API}/appointments/{code}", headers=kiosk).status_code == 200
    for n in range(15):  # and patients mistyping their codes now and then
        assert desk.get(f"{API}/appointments/ZZZZ{n:02d}", headers=kiosk).status_code in (404, 422)


def test_the_default_budget_makes_guessing_a_code_hopeless():
    settings = Settings()
    for setting in (settings.rate_limit_failed_lookups_per_key, settings.rate_limit_failed_lookups_per_ip):
        per_day = min(limit.amount * 86400 / limit.get_expiry() for limit in parse_many(setting))
        chance_in_a_year = per_day * 365 / CODE_ALPHABET**CODE_LENGTH
        assert chance_in_a_year < 1e-3, (setting, chance_in_a_year)


def test_failed_authentications_are_limited_per_address(db, world, keys):
    app = make_app(db, rate_limit_failed_auth_per_ip="3 per minute")
    attacker = client_from(app, "10.0.3.1")
    for n in range(3):
        response = attacker.get(f"{API}/patients", headers=bearer(f"hk_guess{n}", "u1"))
        assert response.status_code == 401
    assert_rate_limited(attacker.get(f"{API}/patients", headers=bearer("hk_guess9", "u1")))
    assert_rate_limited(attacker.post(f"{API}/check-in", json={"code": "ZZZZZ2"}))
    honest = client_from(app, "10.0.3.2")
    assert honest.get(f"{API}/patients", headers=bearer(keys["mini_app"], "u1")).status_code == 200
    assert honest.get(f"{API}/hospitals").status_code == 200, "the public catalogue is not limited"


def test_bookings_are_limited_per_account(db, world, keys):
    app = make_app(db, rate_limit_bookings_per_account="2 per hour")
    client = client_from(app, "10.0.4.1")
    slots = client.get(f"{API}/hospitals/test/departments/nhi/slots", query_string={"limit": 10}).get_json()["slots"]
    mini = keys["mini_app"]

    def book(account: str, slot: dict, patient: int, key: str):
        return client.post(
            f"{API}/appointments",
            json={"slot_id": slot["id"], "patient_id": patient},
            headers={**bearer(mini, account), "Idempotency-Key": key},
        )

    def patient_of(account: str, name: str) -> int:
        response = client.post(
            f"{API}/patients",
            json={"full_name": name, "date_of_birth": "1980-01-02", "sex": "male", "phone": "0987654321"},
            headers=bearer(mini, account),
        )
        return response.get_json()["id"]

    family = [patient_of("zalo-a", name) for name in ("Trần Văn Bình", "Trần Văn An", "Trần Thị Hoa")]
    assert book("zalo-a", slots[0], family[0], "a-1").status_code == 201
    assert book("zalo-a", slots[0], family[0], "a-1").status_code == 200, "a repeated request is not a new booking"
    assert book("zalo-a", slots[0], family[1], "a-2").status_code == 201
    assert_rate_limited(book("zalo-a", slots[0], family[2], "a-3"))
    with db.reader() as uow:
        assert uow.session.query(Appointment).count() == 2
    other = patient_of("zalo-b", "Lê Thị Mai")
    assert book("zalo-b", slots[0], other, "b-1").status_code == 201, "another account of the same app books"


def test_two_web_processes_share_the_budget_through_redis(db, world, keys):
    reason = redis_unavailable(REDIS_URL)
    if reason:
        pytest.skip(reason)
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"  # a fresh counter
    limits = {"rate_limit_storage_url": REDIS_URL, "rate_limit_failed_lookups_per_ip": "4 per minute"}
    first, second = (client_from(make_app(db, **limits), ip) for _ in range(2))
    kiosk = bearer(keys["kiosk"])
    for client in (first, second, first, second):
        assert client.post(f"{API}/check-in", json={"code": "ZZZZZ2"}, headers=kiosk).status_code == 404
    assert_rate_limited(first.post(f"{API}/check-in", json={"code": "ZZZZZ2"}, headers=kiosk))
    assert_rate_limited(second.post(f"{API}/check-in", json={"code": "ZZZZZ2"}, headers=kiosk))


def test_when_redis_is_down_requests_are_served_and_still_limited(db, world, keys):
    port = free_port()  # nothing listens there
    app = make_app(
        db,
        rate_limit_storage_url=f"redis://127.0.0.1:{port}/0",
        rate_limit_failed_lookups_per_ip="2 per minute",
    )
    client = client_from(app, "10.0.5.1")
    kiosk = bearer(keys["kiosk"])
    assert client.get(f"{API}/hospitals").status_code == 200
    for _ in range(2):
        assert client.post(f"{API}/check-in", json={"code": "ZZZZZ2"}, headers=kiosk).status_code == 404
    assert_rate_limited(client.post(f"{API}/check-in", json={"code": "ZZZZZ2"}, headers=kiosk))


@pytest.mark.parametrize("proxies", [0, 1], ids=["direct", "behind-one-proxy"])
def test_the_client_address_is_trusted_only_from_a_configured_proxy(db, world, keys, proxies):
    app = make_app(db, rate_limit_failed_lookups_per_ip="2 per minute", trusted_proxies=proxies)
    client = client_from(app, "10.0.6.1")  # the proxy, or a client that forges X-Forwarded-For
    kiosk = bearer(keys["kiosk"])

    def miss(forwarded_for: str):
        return client.post(
            f"{API}/check-in", json={"code": "ZZZZZ2"}, headers={**kiosk, "X-Forwarded-For": forwarded_for}
        )

    assert miss("203.0.113.1").status_code == 404
    assert miss("203.0.113.1").status_code == 404
    third = miss("203.0.113.2")  # another address, as the header claims
    if proxies:
        assert third.status_code == 404, "behind a proxy each client has its own budget"
        assert_rate_limited(miss("203.0.113.1"))
    else:
        assert_rate_limited(third)  # a forged header does not buy a new budget


def test_failed_keys_on_an_address_do_not_lock_out_its_honest_clients(db, world, keys):
    # Mini App users behind a carrier's shared address, or every client behind one proxy, share an IP.
    app = make_app(db, rate_limit_failed_auth_per_ip="3 per minute")
    shared = client_from(app, "10.0.6.1")
    for n in range(4):
        shared.get(f"{API}/patients", headers=bearer(f"hk_guess{n}", "u1"))
    assert_rate_limited(shared.get(f"{API}/patients", headers=bearer("hk_guess9", "u1")))
    assert shared.get(f"{API}/patients", headers=bearer(keys["mini_app"], "u1")).status_code == 200
    code = booked_today(db, world)
    assert shared.get(f"{API}/appointments/{code}", headers=bearer(keys["his"])).status_code == 200


def test_walking_patient_ids_is_limited_like_guessing_codes(db, world, keys):
    app = make_app(
        db, rate_limit_failed_lookups_per_key="5 per minute", rate_limit_failed_lookups_per_ip="50 per minute"
    )
    walker = client_from(app, "10.0.7.1")
    kiosk = bearer(keys["kiosk"])
    answers = [walker.get(f"{API}/patients/{n}/appointments", headers=kiosk).status_code for n in range(900, 905)]
    assert set(answers) <= {403, 404}, answers
    assert_rate_limited(walker.get(f"{API}/patients/906/appointments", headers=kiosk))
    assert_rate_limited(walker.get(f"{API}/patients/907/re-exams", headers=bearer(keys["kiosk"])))


def test_a_request_without_a_live_key_spends_no_zalo_graph_call(db, world, keys):
    app = make_app(db)
    graph = app.extensions["henkham.zalo_graph"]
    client = client_from(app, "10.0.8.1")
    for n in range(3):
        headers = {"Authorization": "Bearer hk_not-a-key", TOKEN_HEADER: token_for(f"fresh-{n}")}
        response = client.post(f"{API}/appointments", json={"slot_id": 1, "patient_id": 1}, headers=headers)
        assert response.status_code == 401
    assert graph.calls == 0, "Zalo's Graph quota is shared by every real user: no key, no call"
    assert client.get(f"{API}/patients", headers=bearer(keys["mini_app"], "u1")).status_code == 200
    assert graph.calls >= 1
