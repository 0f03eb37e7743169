"""/api/v1/emr routes (`his` scope), added to the api blueprint (henkham/web/api.py).

- ``POST /api/v1/emr/imports``: a HIS export as it is (``application/xml``), a FHIR R4 bundle
  (``application/json`` or ``application/fhir+json``) or the gateway's form ``{"fileHSBase64": "…"}``, up to
  ``HENKHAM_EMR_IMPORT_MAX_BYTES`` (henkham/web/bodies.py FILE_BODIES). A key restricted to a hospital imports
  only files whose every MA_CSKCB is that hospital's: another hospital's file is refused whole (403). The
  answer is the import report: 201, 200 when every visit was already there unchanged, 422 (the error JSON, the
  report in its details) when every visit (or the file) was refused.
- ``GET /api/v1/emr/persons/<id>/fhir``: the person's record as an R4B Bundle (``?summary=ips``: the
  International Patient Summary document), ``application/fhir+json``, read through core.emr.reading, which
  audits the read (reader: the API client; purpose: the route) and refuses a key of another hospital (403).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from flask import Response, current_app, request
from pydantic import Field

from core.emr.bookings import person_bookings
from core.emr.fhir import export_bundle, export_patient_summary
from core.emr.gateway import gateway_base64_to_file
from core.emr.importing import import_bytes
from core.emr.reading import person_record
from core.emr.visits import VisitCancellation, cancel_visit
from core.errors import DomainError, InvalidInput
from core.inputs import Strict

from .api import _client, api, auth, reader, uow

FHIR_JSON = "application/fhir+json"
GATEWAY_FIELD = "fileHSBase64"


class ImportRefused(DomainError):
    """Every visit of the file (or the file itself) was refused: the report says why, per visit."""

    code = "import_refused"

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__(
            "nothing of this file was imported; the report in details says why, per visit",
            "Dạ, hồ sơ gửi lên chưa nhập được; chi tiết lỗi nằm trong báo cáo ạ.",
            report=report,
        )


class OtherHospitalsFile(DomainError):
    """A key bound to a hospital sent a file with a visit of another facility: refused whole (403)."""

    code = "forbidden"

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__(
            "the file holds visits of another facility than this client's hospital: nothing was imported",
            "Dạ, hồ sơ gửi lên có lượt khám của cơ sở khác nên không nhập được ạ.",
            report=report,
        )


class FhirQuery(Strict):
    summary: Literal["ips"] | None = Field(
        None, description="`ips`: the International Patient Summary document instead of the whole record"
    )


def _file_of_request() -> bytes:
    """The submitted file: the body as it is, or the file inside a ``{"fileHSBase64": "…"}`` body."""
    data = request.get_data(cache=True)
    if not data:
        raise InvalidInput("send the file as the request body", "Dạ, yêu cầu chưa có tệp hồ sơ ạ.")
    if request.mimetype == "application/json":
        body = request.get_json(silent=False)
        if isinstance(body, dict) and GATEWAY_FIELD in body:
            encoded = body[GATEWAY_FIELD]
            if not isinstance(encoded, str) or not encoded.strip() or len(body) != 1:
                raise InvalidInput(
                    f"{GATEWAY_FIELD} must be the only field, a non-empty base64 string",
                    "Dạ, dữ liệu fileHSBase64 không hợp lệ ạ.",
                )
            try:
                return gateway_base64_to_file(encoded)
            except ValueError as error:
                raise InvalidInput(str(error), "Dạ, dữ liệu fileHSBase64 không hợp lệ ạ.") from None
    return data


def _report(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}


@api.post("/emr/imports")
@api.auth_required(auth, roles=["his"])
@api.doc(
    tags=["emr"],
    responses={
        201: _report("The import report: per visit imported / updated / unchanged / refused, with the problems"),
        200: _report("Nothing new: every visit not refused was already stored unchanged (the report)"),
        422: "Every visit (or the file) was refused: the report is in `error.details.report`",
    },
)
def create_emr_import():
    """Import a HIS export (XML 130/4750 GIAMDINHHS file, `application/xml`), a FHIR R4 Bundle
    (`application/json` or `application/fhir+json`) or the gateway's `{"fileHSBase64": "…"}`. Idempotent per
    visit: the same file again changes nothing (200). A key bound to a hospital imports only that hospital's
    files (another MA_CSKCB anywhere: 403, nothing imported)."""
    data = _file_of_request()  # first: a body over the limit is 413 before anything else
    client = _client()
    report = import_bytes(
        current_app.extensions["henkham.db"],
        data,
        channel="api",
        hospital_id=client.hospital_id,
        actor=client.name,
    )
    view = report.as_dict()
    if report.other_hospital:
        raise OtherHospitalsFile(view)
    stored = report.imported or report.updated or report.immunizations or report.allergies
    if not (stored or report.unchanged):  # a registry's bundle brings immunizations and no visit
        raise ImportRefused(view)
    return view, 201 if stored else 200


@api.get("/emr/persons/<id:person_id>/fhir")
@api.auth_required(auth, roles=["his"])
@api.input(FhirQuery, location="query")
@api.doc(
    tags=["emr"],
    responses={200: {"description": "An R4B Bundle", "content": {FHIR_JSON: {"schema": {"type": "object"}}}}},
)
def person_fhir(person_id: int, query_data: FhirQuery):
    """The person's whole record across the deployment's hospitals as a FHIR R4B Bundle (Patient, Encounter,
    Condition, MedicationStatement, Observation, DiagnosticReport, Immunization, AllergyIntolerance,
    Appointment), or with `?summary=ips` the International Patient Summary document. Every read is audited. A
    key bound to a hospital reads only persons with a visit there (403 otherwise)."""
    with reader() as u:
        stored = person_record(u, person_id, reader=u.actor, purpose=u.actor.purpose if u.actor else "")
        if query_data.summary == "ips":
            bundle = export_patient_summary(stored)
        else:
            booked, re_exams = person_bookings(u, stored.person_id)
            bundle = export_bundle(stored, appointments=booked, re_exams=re_exams)
    return Response(json.dumps(bundle, ensure_ascii=False), status=200, mimetype=FHIR_JSON)


# --- visit cancellation
@api.post("/emr/visits/<facility>/<path:ma_lk>/cancel")
@api.auth_required(auth, roles=["his"])
@api.output(VisitCancellation)
def cancel_emr_visit(facility: str, ma_lk: str):
    """The facility withdraws a visit: it stays in the record, marked cancelled, and its re-exam dates remind
    nobody any more. A key restricted to a hospital cancels only that hospital's visits."""
    with uow() as u:
        return cancel_visit(u, facility, ma_lk)
