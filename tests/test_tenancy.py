"""Tenancy: a key bound to one hospital reaches that hospital's records only, on every route of the API.

The routes come from the OpenAPI document itself: a new route that is not in ``CROSS_HOSPITAL`` (or declared
public or account-scoped) fails ``test_every_route_is_covered``, so no route can skip the rule unnoticed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.zalo_webhook import conversations
from bot.zalo_webhook.models import Conversation, ZaloOA
from core import access
from core.booking import patients
from core.booking.models import Appointment, Hospital
from core.emr import record_access
from core.emr.models import Person, PersonMatch, ReaderLink, Visit
from core.emr.records import Identity
from core.emr.visit_rows import identity_json
from core.news.models import Campaign
from core.reminders.models import ReExam
from core.timeutil import local_to_utc, utcnow
from henkham import bootstrap
from henkham.web import create_app
from tests import factories
from tests.emr_his_files import outpatient, submission_bytes
from tests.factories import add_hospital, build_world, new_patient, slot_at, today_local
from tests.identity_helpers import TOKEN_HEADER, token_for, with_fake_graph
from tests.test_handoff import RASA_TOKEN, fake_rasa

API = "/api/v1"
OA, ZALO_USER = "388613280878808645", "user-waiting-for-staff"
PHONE = "0912000777"
VI_OTHER = "Dạ, thông tin này thuộc bệnh viện khác nên ứng dụng không truy cập được ạ."
MA_LK = "LK-2026-0001"  # a visit of hospital "test" in the record

# The catalogue: public, no key.
PUBLIC = {
    ("get", "/api/v1/hospitals"),
    ("get", "/api/v1/hospitals/{slug}"),
    ("get", "/api/v1/hospitals/{slug}/departments"),
    ("get", "/api/v1/hospitals/{slug}/doctors"),
    ("get", "/api/v1/hospitals/{slug}/visit-types"),
    ("get", "/api/v1/hospitals/{slug}/departments/{department}/slots"),
}
# An end user's own profiles: they belong to the account, not to a hospital (tested in test_api.py: another
# account sees nothing of them).
ACCOUNT_SCOPED = {("post", "/api/v1/patients"), ("get", "/api/v1/patients")}


@dataclass
class Tenants:
    client: Any
    db: Any
    own: str  # a key of hospital "test" with every scope
    other: str  # a key of hospital "other" with every scope
    other_kiosk: str
    other_mini_app: str
    params: dict[str, Any]  # path parameters naming hospital "test"'s records
    slots: dict[str, int]
    patient_id: int
    rasa_url: str


@pytest.fixture
def tenants(db):
    world = build_world(db, start=today_local())
    add_hospital(db, "other")
    everything = ["book", "checkin", "read", "staff", "his"]
    with db.uow() as uow:
        own = access.create_api_key(uow, name="his-test", kind="his", scopes=everything, hospital_slug="test")
        other = access.create_api_key(uow, name="his-other", kind="his", scopes=everything, hospital_slug="other")
        other_kiosk = access.create_api_key(uow, name="kiosk-other", kind="kiosk", hospital_slug="other")
        other_mini = access.create_api_key(uow, name="mini-other", kind="mini_app", hospital_slug="other")
        admin = access.create_api_key(uow, name="admin", kind="admin")
        hospital_id = uow.session.scalar(select(Hospital.id).where(Hospital.slug == "test"))
        uow.session.add(ZaloOA(oa_id=OA, app_id="app", hospital_id=hospital_id))
        conversation = conversations.get_or_create(uow, OA, ZALO_USER)
        conversations.to_human(conversation, "the user asked for staff", utcnow())
        conversations.flag_for_staff(conversation, "the user asked for staff")
        person = Person(full_name="Nguyễn Văn Thử", name_key="nguyen van thu")
        uow.session.add(person)
        uow.session.flush()
        uow.session.add(
            Visit(
                person_id=person.id,
                facility_code="99999",
                hospital_id=hospital_id,
                visit_key=MA_LK,
                content_hash="hash",
                source="xml130",
                identity=identity_json(Identity(full_name="Nguyễn Văn Thử")),
                kind="outpatient",
            )
        )
        namesakes = [Person(full_name="Nguyen Van Thu", name_key="nguyen van thu") for _ in range(2)]
        uow.session.add_all(namesakes)
        uow.session.flush()
        matches = [PersonMatch(person_id=person.id, other_person_id=n.id, kind="candidate") for n in namesakes]
        uow.session.add_all(matches)
        uow.session.flush()
        match_ids = [m.id for m in matches]  # one to confirm, one to reject
        person_id = person.id
        uow.commit()
    with db.uow() as uow:  # a chat user's record link to remove, and a desk code to link another one
        linked_account = patients.get_or_create_account(uow, "zalo", f"{OA}:linked-user")
        desk_account = patients.get_or_create_account(uow, "zalo", f"{OA}:desk-user")
        link = ReaderLink(account_id=linked_account, person_id=person_id, relation="self", verified_by="desk")
        uow.session.add(link)
        uow.commit()
        link_id = link.id
        desk_code, _ = record_access.issue_desk_code(uow, desk_account)
    tomorrow = today_local() + dt.timedelta(days=1)
    patient_id = new_patient(db, world.account_id, phone=PHONE)
    later = factories.book(db, world, slot_at(db, "nhi", tomorrow, "08:00"), patient_id, now=utcnow())
    today = factories.book(
        db, world, slot_at(db, "mat", today_local(), "07:00"), patient_id, now=local_to_utc(today_local(), dt.time())
    )
    with fake_rasa() as (rasa_url, _received):
        settings = bootstrap.load_settings().model_copy(update={"rasa_url": rasa_url, "rasa_token": RASA_TOKEN})
        app = with_fake_graph(create_app(settings, database=db))
        client = app.test_client()
        admin_auth = {"Authorization": f"Bearer {admin}"}
        re_exam = client.post(
            f"{API}/re-exams",
            json={"patient_id": patient_id, "due_date": (tomorrow + dt.timedelta(days=20)).isoformat()},
            headers={"Authorization": f"Bearer {own}"},
        )
        assert re_exam.status_code == 201, re_exam.get_data(as_text=True)
        campaign = client.post(f"{API}/campaigns", json=campaign_body(), headers=admin_auth)
        assert campaign.status_code == 201, campaign.get_data(as_text=True)
        yield Tenants(
            client=client,
            db=db,
            own=own,
            other=other,
            other_kiosk=other_kiosk,
            other_mini_app=other_mini,
            params={
                "slug": "test",
                "department": "nhi",
                "code": later.code,
                "patient_id": patient_id,
                "re_exam_id": re_exam.get_json()["id"],
                "campaign_id": campaign.get_json()["id"],
                "oa_id": OA,
                "user_id": ZALO_USER,
                "today_code": today.code,
                "facility": "99999",
                "ma_lk": MA_LK,
                "match_id": match_ids[0],
                "reject_match_id": match_ids[1],
                "person_id": person_id,
                "link_id": link_id,
                "desk_code": desk_code,
            },
            slots={
                "free": slot_at(db, "nhi", tomorrow, "14:00"),  # another session than the booked one
                "move_to": slot_at(db, "nhi", tomorrow, "10:00"),
            },
            patient_id=patient_id,
            rasa_url=rasa_url,
        )


def campaign_body() -> dict[str, Any]:
    send_at = (dt.datetime.now() + dt.timedelta(days=2)).replace(microsecond=0).isoformat(timespec="minutes")
    return {
        "hospital": "test",
        "title": "Phòng chống sốt xuất huyết",
        "text": "Dạ, mùa mưa đến, anh/chị nhớ ngủ màn giúp em ạ.",
        "target": {"kind": "topic", "topic": "benh_truyen_nhiem"},
        "send_at": send_at,
    }


def request_for(t: Tenants, method: str, path: str, key: str) -> Any:
    """Send the route's request aimed at hospital "test"'s records, as ``key``."""
    params = dict(t.params)
    if path.endswith("/complete") or path.endswith("/check-in"):
        params["code"] = t.params["today_code"]
    if path.endswith("/reject"):
        params["match_id"] = t.params["reject_match_id"]
    url = path.format(**params)
    body = {
        ("post", "/api/v1/appointments"): {"slot_id": t.slots["free"], "patient_id": t.patient_id},
        ("post", "/api/v1/appointments/{code}/cancel"): {"by": "hospital", "reason": "Bác sĩ nghỉ"},
        ("post", "/api/v1/appointments/{code}/reschedule"): {"slot_id": t.slots["move_to"]},
        ("post", "/api/v1/check-in"): {"code": t.params["today_code"]},
        ("post", "/api/v1/re-exams"): {
            "patient_id": t.patient_id,
            "due_date": (today_local() + dt.timedelta(days=40)).isoformat(),
            "hospital": "test",
        },
        ("post", "/api/v1/campaigns"): campaign_body(),
        ("post", "/api/v1/emr/links"): {"code": t.params["desk_code"], "person_id": t.params["person_id"]},
    }.get((method, path))
    headers = {"Authorization": f"Bearer {key}"}
    if (method, path) == ("post", "/api/v1/emr/imports"):  # a file of hospital "test"'s facility
        file = submission_bytes([outpatient(ma_lk="LK-TENANCY-1")], facility_code="99999")
        return t.client.post(url, data=file, content_type="application/xml", headers=headers)
    return getattr(t.client, method)(url, json=body, headers=headers)


def state(db) -> dict[str, Any]:
    """What a refused request must leave as it was."""
    with db.reader() as uow:
        return {
            "appointments": sorted(
                (a.code, a.status, a.slot_id) for a in uow.session.scalars(select(Appointment)).all()
            ),
            "re_exams": sorted((r.id, r.cancelled_at is None) for r in uow.session.scalars(select(ReExam)).all()),
            "campaigns": sorted((c.id, c.status) for c in uow.session.scalars(select(Campaign)).all()),
            "visits": sorted((v.visit_key, v.cancelled_at is None) for v in uow.session.scalars(select(Visit)).all()),
            "matches": sorted((m.id, m.status) for m in uow.session.scalars(select(PersonMatch)).all()),
            "reader_links": sorted((r.id, r.removed_at is None) for r in uow.session.scalars(select(ReaderLink)).all()),
            "staff_queue": [
                (c.oa_id, c.user_id, c.mode) for c in uow.session.scalars(select(Conversation)).all() if c.needs_staff
            ],
        }


def authenticated_routes(client) -> list[tuple[str, str]]:
    spec = client.application.spec
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method, path, bool(operation.get("security"))))
    return found


# Routes that name one record of a hospital: another hospital's key gets 403, and nothing changes.
CROSS_HOSPITAL = [
    ("get", "/api/v1/appointments/{code}"),
    ("get", "/api/v1/patients/{patient_id}/appointments"),
    ("get", "/api/v1/patients/{patient_id}/re-exams"),
    ("post", "/api/v1/appointments"),
    ("post", "/api/v1/appointments/{code}/reschedule"),
    ("post", "/api/v1/check-in"),
    ("post", "/api/v1/appointments/{code}/complete"),
    ("post", "/api/v1/re-exams"),
    ("post", "/api/v1/re-exams/{re_exam_id}/cancel"),
    ("post", "/api/v1/conversations/{oa_id}/{user_id}/handback"),
    ("get", "/api/v1/campaigns/{campaign_id}"),
    ("post", "/api/v1/campaigns"),
    ("post", "/api/v1/campaigns/{campaign_id}/pause"),
    ("post", "/api/v1/campaigns/{campaign_id}/resume"),
    ("post", "/api/v1/campaigns/{campaign_id}/cancel"),
    ("post", "/api/v1/appointments/{code}/cancel"),
    ("get", "/api/v1/emr/persons/{person_id}/fhir"),  # before the visit is withdrawn (then it is no patient here)
    ("post", "/api/v1/emr/visits/{facility}/{ma_lk}/cancel"),
    ("post", "/api/v1/emr/matches/{match_id}/confirm"),
    ("post", "/api/v1/emr/matches/{match_id}/reject"),
    ("post", "/api/v1/emr/imports"),
    ("get", "/api/v1/emr/persons/{person_id}/links"),
    ("post", "/api/v1/emr/links"),
    ("delete", "/api/v1/emr/links/{link_id}"),
]
# Refusals that say more precisely why than "this belongs to another hospital".
VI_REFUSAL = {
    ("post", "/api/v1/emr/imports"): "Dạ, hồ sơ gửi lên có lượt khám của cơ sở khác nên không nhập được ạ.",
}
# Lists narrowed to the key's hospital.
NARROWED = {("get", "/api/v1/conversations"), ("get", "/api/v1/emr/matches")}
SAME_HOSPITAL_STATUS = {  # what the hospital's own key gets, in the order above
    ("post", "/api/v1/appointments"): 201,
    ("post", "/api/v1/re-exams"): 201,
    ("post", "/api/v1/campaigns"): 201,
    ("post", "/api/v1/emr/imports"): 201,
    ("post", "/api/v1/emr/links"): 201,
    ("delete", "/api/v1/emr/links/{link_id}"): 204,
}


def test_every_route_is_covered(tenants) -> None:
    routes = authenticated_routes(tenants.client)
    public = {(m, p) for m, p, secured in routes if not secured}
    secured = {(m, p) for m, p, secured in routes if secured}
    assert public == PUBLIC, "a public route was added or lost its key: declare it here"
    assert secured == set(CROSS_HOSPITAL) | NARROWED | ACCOUNT_SCOPED, (
        "every authenticated route must be tested against another hospital's key"
    )


def test_the_catalogue_stays_public(tenants) -> None:
    for method, path in sorted(PUBLIC):
        response = getattr(tenants.client, method)(path.format(**tenants.params))
        assert response.status_code == 200, (path, response.get_data(as_text=True))


def test_another_hospitals_key_gets_403_on_every_route_and_changes_nothing(tenants) -> None:
    before = state(tenants.db)
    for method, path in CROSS_HOSPITAL:
        response = request_for(tenants, method, path, tenants.other)
        assert response.status_code == 403, (method, path, response.get_data(as_text=True))
        refusal = response.get_json()["error"]
        expected = VI_REFUSAL.get((method, path), VI_OTHER)
        assert refusal["code"] == "forbidden" and refusal["message_vi"] == expected, (method, path, refusal)
        assert "Thử nghiệm" not in response.get_data(as_text=True), "nothing of the record is revealed"
    assert state(tenants.db) == before


def test_another_hospitals_kiosk_cannot_check_in_by_code_or_phone(tenants) -> None:
    before = state(tenants.db)
    kiosk = {"Authorization": f"Bearer {tenants.other_kiosk}"}
    by_code = tenants.client.post(f"{API}/check-in", json={"code": tenants.params["today_code"]}, headers=kiosk)
    assert by_code.status_code == 403, by_code.get_data(as_text=True)
    assert by_code.get_json()["error"]["message_vi"] == VI_OTHER
    # By phone the desk searches its own hospital only: the answer is the same as for a phone never seen, so it
    # does not tell that this person has a visit at another hospital that day.
    by_phone = tenants.client.post(f"{API}/check-in", json={"phone": PHONE}, headers=kiosk)
    never_seen = tenants.client.post(f"{API}/check-in", json={"phone": "0987000111"}, headers=kiosk)
    assert by_phone.status_code == never_seen.status_code == 404, by_phone.get_data(as_text=True)
    assert by_phone.get_json()["error"]["message_vi"] == never_seen.get_json()["error"]["message_vi"]
    assert state(tenants.db) == before


def test_a_mini_app_of_another_hospital_cannot_book_this_hospitals_slot(tenants) -> None:
    client, user = tenants.client, {"Authorization": f"Bearer {tenants.other_mini_app}", TOKEN_HEADER: token_for("u9")}
    profile = client.post(
        f"{API}/patients",
        json={"full_name": "Trần Văn Bình", "date_of_birth": "1988-02-03", "sex": "male", "phone": "0933000111"},
        headers=user,
    )
    assert profile.status_code == 201, profile.get_data(as_text=True)
    before = state(tenants.db)
    response = client.post(
        f"{API}/appointments",
        json={"slot_id": tenants.slots["free"], "patient_id": profile.get_json()["id"]},
        headers=user,
    )
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.get_json()["error"]["message"] == "this slot belongs to another hospital than this client's"
    assert state(tenants.db) == before


def test_the_staff_queue_shows_only_the_keys_hospitals_conversations(tenants) -> None:
    def queue(key: str) -> list[tuple[str, str]]:
        response = tenants.client.get(f"{API}/conversations", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return [(c["oa_id"], c["user_id"]) for c in response.get_json()["conversations"]]

    assert queue(tenants.other) == []
    assert queue(tenants.own) == [(OA, ZALO_USER)]


def test_the_person_matches_show_only_those_touching_the_keys_hospital(tenants) -> None:
    def listed(key: str) -> list[int]:
        response = tenants.client.get(f"{API}/emr/matches", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return [m["id"] for m in response.get_json()["matches"]]

    assert listed(tenants.other) == []
    assert listed(tenants.own) == [tenants.params["match_id"], tenants.params["reject_match_id"]]


def test_the_hospitals_own_key_still_works_on_every_route(tenants) -> None:
    for method, path in CROSS_HOSPITAL:
        response = request_for(tenants, method, path, tenants.own)
        expected = SAME_HOSPITAL_STATUS.get((method, path), 200)
        assert response.status_code == expected, (method, path, response.get_data(as_text=True))
    with tenants.db.reader() as uow:
        booked = uow.session.scalar(
            select(func.count()).select_from(Appointment).where(Appointment.status != "cancelled")
        )
    assert booked == 2, "the new booking is live; the cancelled one is not; the checked-in one is completed"
