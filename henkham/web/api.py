"""/api/v1: thin routes over the core services (validation in, views out, errors as JSON)."""

from __future__ import annotations

import dataclasses

from apiflask import APIBlueprint, HTTPTokenAuth
from flask import current_app, g, request
from pydantic import BaseModel

from bot.zalo_webhook.graph import InvalidUserToken, ZaloGraph
from bot.zalo_webhook.handoff import ConversationView, hand_back, staff_queue
from core import access
from core.audit import Actor
from core.booking import appointments, caps, catalogue, checkin, patients, slots
from core.errors import DomainError, InvalidInput
from core.reminders import reexams
from core.uow import UnitOfWork

from . import schemas as s
from .paths import ACCOUNT_HEADER, HEADER_STRINGS, IDEMPOTENCY_HEADER, ZALO_TOKEN_HEADER

api = APIBlueprint("api_v1", __name__, url_prefix="/api/v1", tag="booking")
auth = HTTPTokenAuth(scheme="Bearer", description="An API key created with `henkham apikey create`")


def uow() -> UnitOfWork:
    return _acting(current_app.extensions["henkham.db"].uow())


def reader() -> UnitOfWork:
    return _acting(current_app.extensions["henkham.db"].reader())


def _acting(unit: UnitOfWork) -> UnitOfWork:
    """Every unit of work of an authenticated request carries its client: the client's hospital confines every
    look-up (core/tenancy.py) and its reads are audited (core/audit.py), in every route alike."""
    client = auth.current_user  # None while the key itself is being checked
    if isinstance(client, access.ApiClient):
        rule = request.url_rule.rule if request.url_rule is not None else request.path
        unit.actor = Actor(
            kind="api_client",
            client_id=client.id,
            client_name=client.name,
            hospital_id=client.hospital_id,
            purpose=f"{request.method} {rule}",
        )
    return unit


def graph() -> ZaloGraph:
    return current_app.extensions["henkham.zalo_graph"]  # wired by henkham/bootstrap.py


def _caps(client: access.ApiClient) -> caps.Caps:
    settings = current_app.extensions["henkham.settings"]
    return caps.Caps(
        provider=client.account_provider,
        profiles_per_account=settings.api_max_profiles_per_account,
        profiles_per_client=settings.api_max_profiles_per_client,
        live_bookings_per_account=settings.api_max_live_bookings_per_account,
        live_bookings_per_client=settings.api_max_live_bookings_per_client,
    )


NO_ACCOUNT_YET = 0  # an id no account has: a user we have never seen owns nothing


@auth.verify_token
def _verify(token: str) -> access.ApiClient | None:
    return request_client() if token else None


def request_client() -> access.ApiClient | None:
    """The API client the request's bearer key names (None without a live key), looked up once per request:
    the rate limits ask before the route does."""
    if "henkham_client" not in g:
        credentials = request.authorization
        token = credentials.token if credentials is not None and credentials.type == "bearer" else None
        client = None
        if token:
            with reader() as u:
                client = access.authenticate(u, token)
        g.henkham_client = client
    return g.henkham_client


@auth.get_user_roles
def _roles(client: access.ApiClient) -> list[str]:
    return client.scopes


def _client() -> access.ApiClient:
    return auth.current_user


def end_user() -> str:
    """Who the request says it acts for, for rate limits: the Zalo user its token proves (verified and cached,
    so the route's own check asks Graph no second time), else its X-Henkham-Account; a refused token counts as
    itself (the route then answers 401 or 503)."""
    token = (request.headers.get(ZALO_TOKEN_HEADER) or "").strip()
    if not token:
        return (request.headers.get(ACCOUNT_HEADER) or "").strip()
    if request_client() is None:  # no live key: Zalo's Graph quota is not spent on it (the route answers 401)
        return "token:" + token
    try:
        return "zalo:" + graph().user_of(token).id
    except DomainError:
        return "token:" + token


def _account(u: UnitOfWork, *, staff_may_omit: tuple[str, ...] = ("staff",)) -> int | None:
    """The account the client acts for, or None for hospital-side clients; recorded on the unit of work.

    The end user is proven by their Zalo user access token (X-Zalo-Access-Token, verified with Zalo's Graph
    API); only a server-to-server client created with the trusted-header flag may instead name them in
    X-Henkham-Account (never a Mini App: its key ships inside the app). In a read-only unit of work an
    unknown user is not created: they simply own nothing yet.
    """
    client = _client()
    token = (request.headers.get(ZALO_TOKEN_HEADER) or "").strip()
    external = (request.headers.get(ACCOUNT_HEADER) or "").strip()
    if token:
        external = graph().user_of(token).id
    elif external:
        if client.kind in access.UNTRUSTED_KINDS:
            raise InvalidUserToken(f"a {client.kind} client proves its user with {ZALO_TOKEN_HEADER}")
        if not client.trusted_account_header:
            raise AccountHeaderNotAllowed()
    elif any(scope in client.scopes for scope in staff_may_omit):
        return None
    else:
        raise AccountRequired()
    if len(external) > HEADER_STRINGS[ACCOUNT_HEADER]:
        raise InvalidInput(f"{ACCOUNT_HEADER} is too long", "Dạ, mã tài khoản không hợp lệ ạ.")
    if u.read_only:
        found = patients.find_account(u, client.account_provider, external)
        account_id = NO_ACCOUNT_YET if found is None else found
    else:
        account_id = patients.get_or_create_account(u, client.account_provider, external)
    if u.actor is not None:
        u.actor = dataclasses.replace(u.actor, account_id=account_id)
    return account_id


class AccountHeaderNotAllowed(DomainError):
    code = "forbidden"

    def __init__(self) -> None:
        super().__init__(
            f"this client may not name end users in {ACCOUNT_HEADER}: send their {ZALO_TOKEN_HEADER}, or create "
            "a server-to-server key with --trust-account-header",
            "Dạ, ứng dụng cần xác thực người dùng bằng tài khoản Zalo ạ.",
        )


class AccountRequired(DomainError):
    code = "account_required"

    def __init__(self) -> None:
        super().__init__(
            f"this client acts for end users: send the user's {ZALO_TOKEN_HEADER}",
            "Dạ, ứng dụng cần cho biết tài khoản người dùng ạ.",
        )


# --- catalogue (public) -----------------------------------------------------------------------------------


@api.get("/hospitals")
@api.output(s.HospitalList)
def list_hospitals():
    with reader() as u:
        return {"hospitals": catalogue.list_hospitals(u)}


@api.get("/hospitals/<slug>")
@api.output(s.HospitalView)
def get_hospital(slug: str):
    with reader() as u:
        return catalogue.get_hospital(u, slug)


@api.get("/hospitals/<slug>/departments")
@api.output(s.DepartmentList)
def list_departments(slug: str):
    with reader() as u:
        return {"departments": catalogue.list_departments(u, slug)}


@api.get("/hospitals/<slug>/doctors")
@api.input(s.DoctorQuery, location="query")
@api.output(s.DoctorList)
def list_doctors(slug: str, query_data: s.DoctorQuery):
    with reader() as u:
        return {"doctors": catalogue.list_doctors(u, slug, query_data.department)}


@api.get("/hospitals/<slug>/visit-types")
@api.output(s.VisitTypeList)
def list_visit_types(slug: str):
    with reader() as u:
        return {"visit_types": catalogue.list_visit_types(u, slug)}


@api.get("/hospitals/<slug>/departments/<department>/slots")
@api.input(s.SlotQuery, location="query")
@api.output(s.SlotList)
def search_slots(slug: str, department: str, query_data: s.SlotQuery):
    """The nearest free slots, earliest first."""
    with reader() as u:
        found = slots.search_slots(
            u,
            hospital_slug=slug,
            department_slug=department,
            doctor_id=query_data.doctor_id,
            day=query_data.date,
            part_of_day=query_data.part_of_day,
            limit=query_data.limit,
        )
        return {"slots": found}


# --- patients and appointments ----------------------------------------------------------------------------


@api.post("/patients")
@api.auth_required(auth, roles=["book"])
@api.input(s.PatientIn)
@api.output(s.PatientView, status_code=201)
def create_patient(json_data: s.PatientIn):
    """Add a patient profile to the account; the same name and birth date returns the existing one (200)."""
    with uow() as u:
        account_id = _account(u, staff_may_omit=())
        view, created = patients.register_patient(
            u, account_id=account_id, limits=_caps(_client()), **json_data.model_dump()
        )
        return view, 201 if created else 200


@api.get("/patients")
@api.auth_required(auth, roles=["book"])
@api.output(s.PatientList)
def list_patients():
    with reader() as u:
        return {"patients": patients.list_patients(u, _account(u, staff_may_omit=()))}


@api.get("/patients/<id:patient_id>/appointments")
@api.auth_required(auth, roles=["book", "read", "staff"])
@api.input(s.UpcomingQuery, location="query")
@api.output(s.AppointmentList)
def list_patient_appointments(patient_id: int, query_data: s.UpcomingQuery):
    with reader() as u:
        account_id = _account(u, staff_may_omit=("staff", "read"))
        found = appointments.patient_appointments(u, patient_id, account_id, upcoming_only=query_data.upcoming)
        return {"appointments": found}


@api.post("/appointments")
@api.auth_required(auth, roles=["book", "staff"])
@api.input(s.BookingIn)
@api.output(s.AppointmentView, status_code=201)
def create_appointment(json_data: s.BookingIn):
    """Book a slot. Send an `Idempotency-Key` header: a repeated request returns the first booking (200)."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 1 <= len(key.strip()) <= HEADER_STRINGS[IDEMPOTENCY_HEADER]:
        raise InvalidInput(
            f"{IDEMPOTENCY_HEADER} must be 1 to {HEADER_STRINGS[IDEMPOTENCY_HEADER]} characters",
            "Dạ, yêu cầu không hợp lệ ạ.",
        )
    with uow() as u:
        client, account_id = _client(), _account(u)
        booking = appointments.BookingRequest(
            slot_id=json_data.slot_id,
            patient_id=json_data.patient_id,
            visit_type=json_data.visit_type,
            reason=json_data.reason,
            channel=client.kind,
            account_id=account_id,
            idempotency_key=key.strip() if key else None,
            client=f"key{client.id}",  # idempotency keys are per API key, not per kind of client
            caps=_caps(client) if account_id is not None else None,
        )
        view, created = appointments.book(u, booking)
        return view, 201 if created else 200


@api.get("/appointments/<code>")
@api.auth_required(auth, roles=["book", "read", "checkin", "staff"])
@api.output(s.AppointmentView)
def get_appointment(code: str):
    with reader() as u:
        account_id = _account(u, staff_may_omit=("staff", "read", "checkin"))
        return appointments.get_appointment(u, code, account_id)


@api.post("/appointments/<code>/cancel")
@api.auth_required(auth, roles=["book", "staff"])
@api.input(s.CancelIn)
@api.output(s.AppointmentView)
def cancel_appointment(code: str, json_data: s.CancelIn):
    with uow() as u:
        account_id = _account(u)
        if json_data.by == "hospital" and "staff" not in _client().scopes:
            raise InsufficientScope("staff")
        return appointments.cancel(
            u,
            code,
            by=json_data.by,
            reason=json_data.reason,
            account_id=account_id,
            channel=_client().kind,
        )


@api.post("/appointments/<code>/reschedule")
@api.auth_required(auth, roles=["book", "staff"])
@api.input(s.RescheduleIn)
@api.output(s.AppointmentView)
def reschedule_appointment(code: str, json_data: s.RescheduleIn):
    """Move to another slot of the same department, atomically (nothing changes if the new slot is full)."""
    with uow() as u:
        client = _client()
        return appointments.reschedule(u, code, json_data.slot_id, account_id=_account(u), channel=client.kind)


@api.post("/appointments/<code>/complete")
@api.auth_required(auth, roles=["staff"])
@api.output(s.AppointmentView)
def complete_appointment(code: str):
    with uow() as u:
        return checkin.complete(u, code, channel=_client().kind)


@api.post("/check-in")
@api.auth_required(auth, roles=["checkin"])
@api.input(s.CheckInIn)
@api.output(s.CheckInResult)
def check_in(json_data: s.CheckInIn):
    """Check a patient in by booking code (or phone + date): queue number, room and what is still needed."""
    client = _client()
    with uow() as u:
        if json_data.code:
            return checkin.check_in(u, json_data.code, channel=client.kind)
        return checkin.check_in_by_phone(u, json_data.phone, day=json_data.date, channel=client.kind)


@api.post("/re-exams")
@api.auth_required(auth, roles=["staff"])
@api.input(s.ReExamIn)
@api.output(s.ReExamView, status_code=201)
def create_re_exam(json_data: s.ReExamIn):
    """Record the re-exam date a doctor gave (until the EMR import lands): the patient is reminded 3 and 1
    days before. The same patient, department and date again returns the first record (200)."""
    with uow() as u:
        view, created = reexams.record_re_exam(u, source=_client().kind, **json_data.model_dump())
        return view, 201 if created else 200


@api.get("/patients/<id:patient_id>/re-exams")
@api.auth_required(auth, roles=["staff", "read"])
@api.output(s.ReExamList)
def list_re_exams(patient_id: int):
    with reader() as u:
        return {"re_exams": reexams.patient_re_exams(u, patient_id)}


@api.post("/re-exams/<id:re_exam_id>/cancel")
@api.auth_required(auth, roles=["staff"])
@api.output(s.ReExamView)
def cancel_re_exam(re_exam_id: int):
    """No more reminders for this re-exam date."""
    with uow() as u:
        return reexams.cancel_re_exam(u, re_exam_id)


class ConversationQueue(BaseModel):
    conversations: list[ConversationView]


@api.get("/conversations")
@api.auth_required(auth, roles=["staff"])
@api.output(ConversationQueue)
def conversations_needing_staff():
    """The staff queue: Zalo conversations waiting for a person, oldest first (a key bound to a hospital: the
    conversations of its OAs only)."""
    return {"conversations": staff_queue(current_app.extensions["henkham.db"], hospital_id=_client().hospital_id)}


@api.post("/conversations/<oa_id>/<user_id>/handback")
@api.auth_required(auth, roles=["staff"])
@api.output(ConversationView)
def hand_back_conversation(oa_id: str, user_id: str):
    """Hand a Zalo conversation in human mode back to the assistant (resumes the paused bot)."""
    client = _client()
    db, rasa = current_app.extensions["henkham.db"], current_app.extensions["henkham.rasa"]
    return hand_back(db, rasa, oa_id, user_id, client.name, hospital_id=client.hospital_id)


class InsufficientScope(DomainError):
    code = "forbidden"

    def __init__(self, scope: str) -> None:
        super().__init__(f"this needs the {scope!r} scope", "Dạ, ứng dụng không có quyền thực hiện thao tác này ạ.")
