"""The console's role and tenancy matrix: every role of hospital A against every page and action of the console,
with the objects of hospital A and of hospital B in their URLs — allowed or 403, asserted — and no page shown to
A's staff ever holds B's data.

The routes are read from the app's URL map, so a new page is in the matrix the day it is written; a page whose
URL takes an object nobody taught the matrix to make fails here until its seeder is added to ``SEEDERS``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select

from bot.zalo_webhook import conversations
from bot.zalo_webhook.campaign_channel import ZaloCampaignChannel
from bot.zalo_webhook.models import ZaloOA
from core.booking.catalogue import find_hospital
from core.booking.models import Closure, Schedule
from core.emr.models import PersonMatch
from core.news import campaigns
from core.news.campaigns import CampaignTarget, NewCampaign
from core.staff import roles
from core.staff.models import StaffAccount
from core.timeutil import utcnow
from core.uow import Database
from henkham.web.console import access
from tests.console_support import make_staff
from tests.emr_people import OTHER, TEST, mai, store_visit
from tests.factories import add_department, add_hospital, today_local
from tests.test_console_access import csrf_of, log_in, make_app
from tests.test_console_records import seed_request, seeded_import

HOSPITAL_A, HOSPITAL_B = "test", "other"
# Text that exists only in hospital B's data: no page shown to hospital A's staff may contain it.
B_MARKER = "Bệnh viện Khác Đánh Dấu"
ROLES_OF_A = (roles.RECEPTIONIST, roles.RECORDS, roles.COMMUNICATIONS, roles.HOSPITAL_ADMIN, roles.PROVINCE_ADMIN)
LAST = ("staff.logout",)  # ends the session: asked last
ARGUMENT = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")
# A province admin's pages list every hospital by name (to choose one): those lists are not hospital data.
CHOOSER = re.compile(r'<form[^>]*class="hospital-choice".*?</form>', re.S)
OPTION = re.compile(r"<option[^>]*>[^<]*</option>")


def _staff_of(db: Database, hospital: str) -> int:
    username, _ = make_staff(db, roles.RECEPTIONIST, hospital)
    with db.reader() as uow:
        return uow.session.scalar(select(StaffAccount.id).where(StaffAccount.username == username))


def _named(hospital: str, what: str) -> str:
    """A name for a seeded object: B's carry the marker, so a page showing them to A's staff is caught."""
    return f"{what} {B_MARKER}" if hospital == HOSPITAL_B else what


def _schedule_of(db: Database, hospital: str) -> int:
    department_id = add_department(
        db, "ma-tran", _named(hospital, "Khoa Ma Trận"), hospital=hospital, sessions=((0, "morning", "07:00", "11:00"),)
    )
    with db.reader() as uow:
        return uow.session.scalar(select(Schedule.id).where(Schedule.department_id == department_id))


def _closure_of(db: Database, hospital: str) -> int:
    with db.uow() as uow:
        closure = Closure(
            hospital_id=find_hospital(uow, hospital).id,
            start_date=today_local() + dt.timedelta(days=30),
            end_date=today_local() + dt.timedelta(days=30),
            reason=_named(hospital, "Nghỉ lễ"),
        )
        uow.session.add(closure)
        uow.commit()
        return closure.id


FACILITY = {HOSPITAL_A: TEST, HOSPITAL_B: OTHER}


def _hospital_id(db: Database, hospital: str) -> int:
    with db.reader() as uow:
        return find_hospital(uow, hospital).id


def _match_of(db: Database, hospital: str) -> int:
    """Two namesakes seen only at ``hospital``: a possible match its records staff decide."""
    same = {"full_name": _named(hospital, "Lê Văn Bình"), "sex": "male", "cccd": None, "insurance_cards": ()}
    for code in ("M1", "M2"):
        identity = mai(**same, birth_year=1970, his_patient_code=f"{hospital}-{code}")
        store_visit(db, identity, facility=FACILITY[hospital])
    with db.reader() as uow:
        return uow.session.scalar(select(PersonMatch.id).order_by(PersonMatch.id.desc()))


def _import_of(db: Database, hospital: str) -> int:
    return seeded_import(db, FACILITY[hospital], filename=f"kcb-{hospital}.xml", hospital=_hospital_id(db, hospital))


def _request_of(db: Database, hospital: str) -> int:
    return seed_request(db, _hospital_id(db, hospital), dt.datetime.now(dt.UTC), user=f"zu-{hospital}")


def _campaign_of(db: Database, hospital: str) -> int:
    spec = NewCampaign(
        hospital=hospital,
        title=_named(hospital, "Tin ma trận"),
        text="Nội dung",
        target=CampaignTarget(kind="patients"),
    )
    with db.uow() as uow:
        return campaigns.create(uow, spec, channel=ZaloCampaignChannel()).id


def _conversation_of(db: Database, hospital: str) -> int:
    """A Zalo conversation waiting for staff, of an OA of the hospital (the hand-off inbox)."""
    with db.uow() as uow:
        hospital_id = find_hospital(uow, hospital).id
        oa_id = f"matrix-oa-{hospital}"
        uow.session.add(ZaloOA(oa_id=oa_id, app_id=f"matrix-app-{hospital}", hospital_id=hospital_id))
        conversation = conversations.get_or_create(uow, oa_id, f"matrix-user-{hospital}")
        conversation.display_name = _named(hospital, "Người bệnh Ma Trận")
        conversations.to_human(conversation, "the user asked for staff", utcnow())
        conversations.flag_for_staff(conversation, "the user asked for staff")
        uow.commit()
        return conversation.id


# URL parameter -> a function making an object of that kind at a hospital (by slug) and returning its id.
SEEDERS: dict[str, Callable[[Database, str], int]] = {
    "campaign_id": _campaign_of,
    "staff_id": _staff_of,
    "schedule_id": _schedule_of,
    "closure_id": _closure_of,
    "match_id": _match_of,
    "import_id": _import_of,
    "request_id": _request_of,
    "conversation_id": _conversation_of,
}


@dataclass(frozen=True)
class Route:
    endpoint: str
    method: str
    rule: str
    permission: str

    @property
    def arguments(self) -> list[str]:
        return ARGUMENT.findall(self.rule)

    def url(self, ids: dict[str, int]) -> str:
        return ARGUMENT.sub(lambda m: str(ids[m.group(1)]), self.rule)


def console_routes(app: Flask) -> list[Route]:
    found = []
    with app.app_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("staff.") or rule.endpoint in access.PUBLIC_ENDPOINTS:
                continue
            permission = access.permission_of(rule.endpoint)
            assert permission is not None, f"{rule.endpoint} declares no permission (the guard refuses it to all)"
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append(Route(rule.endpoint, method, rule.rule, permission))
    return sorted(found, key=lambda r: (r.endpoint in LAST, r.method != "GET", r.endpoint))


def _allowed(role: str, route: Route) -> bool:
    return route.permission == access.LOGGED_IN or roles.allowed(role, route.permission)


def _seed(db: Database, routes: list[Route]) -> dict[str, dict[str, int]]:
    """Each URL parameter's object at hospital A and at hospital B; B's hospital carries the marker."""
    wanted = sorted({name for route in routes for name in route.arguments})
    missing = [name for name in wanted if name not in SEEDERS]
    assert not missing, f"teach the matrix to make the objects of {missing} (SEEDERS)"
    with db.uow() as uow:
        find_hospital(uow, HOSPITAL_B).name = B_MARKER
        uow.commit()
    return {slug: {name: SEEDERS[name](db, slug) for name in wanted} for slug in (HOSPITAL_A, HOSPITAL_B)}


def _ask(client, route: Route, url: str, token: str):
    if route.method == "GET":
        return client.get(url)
    return client.open(url, method=route.method, data={"csrf_token": token})


@pytest.mark.parametrize("role", ROLES_OF_A)
def test_each_role_of_hospital_a_is_allowed_its_pages_refused_the_rest_and_never_sees_hospital_b(db, world, role):
    add_hospital(db, HOSPITAL_B)
    app = make_app(db, rate_limit_enabled=False)
    routes = console_routes(app)
    assert len({r.endpoint for r in routes}) >= 4, "the console has no pages?"
    objects = _seed(db, routes)
    username, _ = make_staff(db, role, None if role == roles.PROVINCE_ADMIN else HOSPITAL_A)
    client = app.test_client()
    assert log_in(client, username).status_code == 302
    token = csrf_of(client.get("/staff/").get_data(as_text=True))
    seen: list[str] = []
    for route in routes:
        for owner in (HOSPITAL_A, HOSPITAL_B) if route.arguments else (HOSPITAL_A,):
            url = route.url(objects[owner])
            response = _ask(client, route, url, token)
            what = f"{role} {route.method} {url} ({route.permission}, {owner}'s object)"
            body = CHOOSER.sub("", response.get_data(as_text=True))
            if role == roles.PROVINCE_ADMIN:
                body = OPTION.sub("", body)
            assert response.status_code < 500, f"{what}: {response.status_code}"
            if not _allowed(role, route):
                assert response.status_code == 403, f"{what}: expected 403, got {response.status_code}"
                continue
            assert response.status_code != 403 or owner == HOSPITAL_B, f"{what}: refused its own"
            if owner == HOSPITAL_B:
                # Another hospital's object is not found (or refused) and nothing of it is shown or changed.
                assert response.status_code in (403, 404), f"{what}: reached B's object ({response.status_code})"
            elif route.method == "GET":
                to_login = "/staff/login" in response.headers.get("Location", "")
                assert response.status_code == 200 or (response.status_code == 302 and not to_login), what
            assert B_MARKER not in body, f"{what}: shows hospital B's data"
            seen.append(f"{route.method} {route.endpoint}")
    assert seen, f"{role} reached no page at all"
