"""A person's record as FHIR R4 (fhir.resources R4B models): the whole record as a collection Bundle, and an
International Patient Summary-style document Bundle.

Every resource is checked by its R4B model as it is built (``resources.checked``; the extension it gains by
``Extension``, the envelope by ``Bundle``); the JSON returned is what the models write. What FHIR's elements
cannot hold travels in the record-fields extension (``fields.py``), so that ``parse_bundle(export_bundle(x))``
gives ``x`` back.

Instants are written in Vietnam local time with their offset. Appointments: henkham bookings and re-exam
dates of the reminders (``appointments`` / ``re_exams``) are exported for the reader's benefit; on import only
a visit's own re-exam dates (XML1 NGAY_TAI_KHAM, the XML14 slip) come back, as part of the visit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.extension import Extension

from core.emr.records import Identity, PersonRecord, Section, VisitRecord
from core.timeutil import LOCAL_TZ, utcnow

from . import codes
from . import resources as fhir
from .fields import fhir_datetime, record_fields_extension

Json = dict[str, Any]
_NAMESPACE = uuid.UUID("6f1b3c52-8d1e-4f55-9a53-2d3f0e7c9b11")


class StoredRecordLike(Protocol):
    """What the exporter reads of core.emr.reading.StoredRecord."""

    person_id: int
    record: PersonRecord


_BEFORE_EXTENSION = ("resourceType", "id", "meta", "implicitRules", "language", "text", "contained")


def _with_extension(resource: Json, extension: Json) -> Json:
    """The resource with one more extension, where FHIR JSON puts extensions (after id, meta and text)."""
    out = {key: resource[key] for key in _BEFORE_EXTENSION if key in resource}
    out["extension"] = [*resource.get("extension", []), extension]
    out.update((key, value) for key, value in resource.items() if key not in out)
    return out


def _xhtml(lines: Iterable[str]) -> str:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f'<div xmlns="http://www.w3.org/1999/xhtml"><ul>{items}</ul></div>'


class _Builder:
    """The resources of one person's record, each with a stable urn:uuid full URL."""

    def __init__(self, stored: StoredRecordLike) -> None:
        self.person_id = stored.person_id
        self.record = stored.record
        self.entries: list[tuple[str, Json]] = []
        self.organizations: dict[str, str] = {}
        self.conditions: list[tuple[str, VisitRecord, int]] = []  # url, visit, index of the diagnosis
        self.medications: dict[int, list[str]] = {}  # visit index → urls
        self.results: dict[int, list[str]] = {}
        self.immunizations: list[str] = []
        self.allergies: list[str] = []
        # core.emr.reading.StoredRecord.visits: each visit's version and import time, when the store gives them
        self.visit_meta = {(m.facility_code, m.visit_key): m for m in getattr(stored, "visits", ())}

    def url(self, key: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{self.person_id}/{key}')}"

    def add(self, key: str, resource: Json, original: Any = None, read_back: Callable[[Json], Any] | None = None):
        """Add a resource checked by its R4B model; with ``original``, what its elements lose (compared with
        what ``read_back`` reads of them, as the importer will) goes in the record-fields extension."""
        full_url = self.url(key)
        resource = fhir.prune(resource)
        resource["id"] = full_url.removeprefix("urn:uuid:")
        written = fhir.checked(resource)
        if original is not None and read_back is not None:
            extension = record_fields_extension(original, read_back(fhir.as_read(written)))
            if extension is not None:
                extension = Extension.model_validate(extension).model_dump(mode="json", exclude_none=True)
                written = _with_extension(written, extension)
        self.entries.append((full_url, written))
        return full_url

    def organization(self, facility: str) -> str:
        if facility not in self.organizations:
            self.organizations[facility] = self.add(f"org/{facility}", fhir.organization_resource(facility))
        return self.organizations[facility]

    def record_resources(self) -> str:
        """Patient, organizations, encounters and their resources, immunizations, allergies: the Patient URL."""
        identity = self.record.identity
        his_codes: dict[str, str] = {}
        for visit in self.record.visits:
            if visit.identity.his_patient_code:
                his_codes.setdefault(visit.facility_code, visit.identity.his_patient_code)
        patient = self.add(
            "patient",
            fhir.patient_resource(identity, his_codes),
            identity,
            lambda r: fhir.read_patient(r)[0],
        )
        self.patient = patient
        for index, visit in enumerate(self.record.visits):
            self._visit(
                index,
                visit,
                patient,
                dataclasses.replace(identity, his_patient_code=his_codes.get(visit.facility_code, "")),
            )
        for immunization in self.record.immunizations:
            self.immunizations.append(
                self.add(
                    f"immunization/{immunization.identifier}",
                    fhir.immunization_resource(immunization, patient),
                    immunization,
                    lambda r: fhir.read_immunization(r, ""),
                )
            )
        for allergy in self.record.allergies:
            self.allergies.append(
                self.add(
                    f"allergy/{allergy.identifier}",
                    fhir.allergy_resource(allergy, patient),
                    allergy,
                    lambda r: fhir.read_allergy(r, ""),
                )
            )
        return patient

    def _visit(self, index: int, visit: VisitRecord, patient: str, derived: Identity) -> None:
        key = f"visit/{visit.facility_code}/{visit.visit_key}"
        encounter_url = self.url(key)
        organization = self.organization(visit.facility_code)
        encounter = fhir.encounter_resource(visit, patient, organization)
        meta = self.visit_meta.get((visit.facility_code, visit.visit_key))
        if meta is not None:
            encounter["meta"] = {"versionId": str(meta.version), "lastUpdated": fhir_datetime(meta.imported_at)}
        condition_urls = []
        for position, diagnosis in enumerate(visit.diagnoses):
            condition_urls.append(
                self.add(
                    f"{key}/diagnosis/{position}",
                    fhir.condition_resource(diagnosis, patient, encounter_url),
                    diagnosis,
                    lambda r, d=diagnosis: fhir.read_condition(r, d.principal),
                )
            )
            self.conditions.append((condition_urls[-1], visit, position))
        encounter["diagnosis"] = [
            {"condition": fhir.ref(url), **fhir.diagnosis_use(diagnosis, rank)}
            for rank, (url, diagnosis) in enumerate(zip(condition_urls, visit.diagnoses, strict=True), start=1)
        ] or None

        def read_back(checked: Json) -> VisitRecord:
            native = fhir.read_encounter(checked, visit.facility_code)
            return VisitRecord(
                facility_code=visit.facility_code,
                visit_key=visit.visit_key,
                identity=derived,
                **native,
                diagnoses=visit.diagnoses,
                medications=visit.medications,
                results=visit.results,
                re_exam_dates=visit.re_exam_dates,
                re_exam=visit.re_exam,
            )

        # the Encounter is written after its Conditions (it references them) but goes in front of them
        at = len(self.entries) - len(condition_urls)
        self.add(key, encounter, visit, read_back)
        self.entries.insert(at, self.entries.pop())
        for position, medication in enumerate(visit.medications, start=1):
            self.medications.setdefault(index, []).append(
                self.add(
                    f"{key}/medication/{position}",
                    fhir.medication_resource(medication, patient, encounter_url),
                    medication,
                    lambda r, p=position: fhir.read_medication(r, p),
                )
            )
        for position, result in enumerate(visit.results, start=1):
            self.results.setdefault(index, []).append(
                self.add(
                    f"{key}/result/{position}",
                    fhir.result_resource(result, patient, encounter_url),
                    result,
                    lambda r, p=position: fhir.read_result(r, p),
                )
            )
        for position, day in enumerate(visit.re_exam_dates):
            self.add(f"{key}/next-visit/{position}", fhir.next_visit_resource(day, patient, encounter_url))
        if visit.re_exam is not None:
            self.add(
                f"{key}/slip",
                fhir.slip_resource(visit.re_exam, visit.facility_code, patient, encounter_url),
                visit.re_exam,
                lambda r: fhir.read_slip(r, visit.facility_code),
            )

    def none_known_lists(self) -> None:
        for section in sorted(self.record.none_known):
            self.add(
                f"none-known/{section.value}",
                {
                    "resourceType": "List",
                    "status": "current",
                    "mode": "snapshot",
                    "title": _SECTION_TITLES[section],
                    "code": {"coding": [fhir._coding(codes.LOINC, codes.SECTION_LOINC[section])]},
                    "subject": fhir.ref(self.patient),
                    "emptyReason": {"coding": [fhir._coding(codes.LIST_EMPTY, "nilknown")]},
                },
            )

    def bundle(self, kind: str, **extra: Any) -> Json:
        """The Bundle of the entries: its envelope checked by the R4B Bundle model, its resources as their own
        models wrote them (checked one by one as they were added; checking them again costs seconds)."""
        envelope = Bundle.model_validate({"resourceType": "Bundle", "type": kind, **extra})
        body = envelope.model_dump(mode="json", exclude_none=True)
        body["entry"] = [{"fullUrl": url, "resource": resource} for url, resource in self.entries]
        return body


_SECTION_TITLES = {
    Section.PROBLEMS: "Vấn đề sức khỏe",
    Section.ALLERGIES: "Dị ứng",
    Section.MEDICATIONS: "Thuốc",
    Section.IMMUNIZATIONS: "Tiêm chủng",
}


def _local(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=LOCAL_TZ) if moment.tzinfo is None else moment


def _booking(view: Any, patient: str) -> Json:
    start = _local(view.start)
    place = ", ".join(part for part in (view.hospital_name, view.location, view.room) if part)
    return {
        "resourceType": "Appointment",
        "identifier": [{"system": codes.BOOKING_CODE, "value": view.code}],
        "status": codes.APPOINTMENT_STATUS.get(view.status, "booked"),
        "serviceCategory": fhir._source(codes.SOURCE_BOOKING),
        "serviceType": [{"text": view.department_name}],
        "description": f"Lịch khám {view.department_name}, số thứ tự {view.queue_number}",
        "start": fhir_datetime(start),
        "end": fhir_datetime(start),  # henkham books a queue number, not a slot length
        "cancelationReason": {"text": view.cancel_reason} if view.cancel_reason else None,
        "participant": [
            {"actor": fhir.ref(patient), "status": "accepted"},
            {"actor": {"display": place}, "status": "accepted"},
        ],
    }


def _reminder(view: Any, patient: str) -> Json:
    return {
        "resourceType": "Appointment",
        "identifier": [{"system": codes.RE_EXAM_ID, "value": str(view.id)}],
        "status": "cancelled" if view.cancelled else "proposed",
        "serviceCategory": fhir._source(codes.SOURCE_REMINDER),
        "serviceType": [{"text": view.department_name}] if view.department_name else None,
        "description": view.note or "Tái khám",
        "requestedPeriod": [{"start": view.due_date.isoformat(), "end": view.due_date.isoformat()}],
        "participant": [
            {"actor": fhir.ref(patient), "status": "accepted"},
            {"actor": {"display": view.hospital_name}, "status": "accepted"},
        ],
    }


def export_bundle(
    stored: StoredRecordLike,
    *,
    appointments: Iterable[Any] = (),
    re_exams: Iterable[Any] = (),
    now: dt.datetime | None = None,
) -> Json:
    """The person's whole record as an R4 Bundle of type collection (JSON)."""
    builder = _Builder(stored)
    patient = builder.record_resources()
    builder.none_known_lists()
    for view in appointments:
        builder.add(f"booking/{view.code}", _booking(view, patient))
    for view in re_exams:
        builder.add(f"re-exam/{view.id}", _reminder(view, patient))
    return builder.bundle("collection", timestamp=fhir_datetime(now or utcnow()))


def _no_known(builder: _Builder, section: Section) -> str:
    """The IPS "none known" entry of a section the record states as such."""
    concept = {"coding": [fhir._coding(codes.IPS_ABSENT, codes.NO_KNOWN_IPS[section])]}
    patient = fhir.ref(builder.patient)
    if section is Section.ALLERGIES:
        concept["coding"].insert(0, fhir._coding(codes.SNOMED, codes.NO_KNOWN_ALLERGY_SNOMED, "No known allergy"))
        resource = {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {"coding": [fhir._coding(codes.ALLERGY_CLINICAL, "active")]},
            "code": concept,
            "patient": patient,
        }
    elif section is Section.MEDICATIONS:
        resource = {
            "resourceType": "MedicationStatement",
            "status": "active",
            "medicationCodeableConcept": concept,
            "subject": patient,
        }
    else:
        resource = {"resourceType": "Condition", "code": concept, "subject": patient}
    return builder.add(f"no-known/{section.value}", resource)


def _section(
    builder: _Builder, section: Section | None, loinc: str, title: str, lines: list[str], urls: list[str], empty: str
) -> Json:
    body: Json = {"title": title, "code": {"coding": [fhir._coding(codes.LOINC, loinc)]}}
    if urls:
        body["entry"] = [fhir.ref(url) for url in urls]
        body["text"] = {"status": "generated", "div": _xhtml(lines)}
        return body
    stated = section is not None and section in builder.record.none_known and section in codes.NO_KNOWN_IPS
    if stated:
        body["entry"] = [fhir.ref(_no_known(builder, section))]
    else:
        body["emptyReason"] = {"coding": [fhir._coding(codes.LIST_EMPTY, "nilknown")]}
    body["text"] = {"status": "generated", "div": _xhtml([empty])}
    return body


def _when(moment: dt.datetime | None) -> str:
    return f" ({moment.astimezone(LOCAL_TZ):%d/%m/%Y})" if moment else ""


def export_patient_summary(stored: StoredRecordLike, *, now: dt.datetime | None = None) -> Json:
    """An International Patient Summary-style document Bundle: the Composition first (LOINC 60591-5), then
    problems, allergies and medications (each saying "none known" when empty), results and immunizations; the
    narrative in Vietnamese. It carries the record's resources, so it imports like the collection Bundle."""
    moment = now or utcnow()
    builder = _Builder(stored)
    patient = builder.record_resources()
    record = builder.record

    problems, problem_lines, seen = [], [], set()
    for url, visit, position in builder.conditions:
        diagnosis = visit.diagnoses[position]
        if (diagnosis.system, diagnosis.code) in seen:
            continue
        seen.add((diagnosis.system, diagnosis.code))
        problems.append(url)
        problem_lines.append(f"{diagnosis.code} {diagnosis.text}".strip() + _when(visit.arrived_at))
    allergy_lines = [f"{a.substance}" + (f": {a.reaction}" if a.reaction else "") for a in record.allergies]
    latest = next((i for i, v in enumerate(record.visits) if v.medications), None)
    medications = builder.medications.get(latest, []) if latest is not None else []
    medication_lines = [
        (m.name if m.strength in m.name else f"{m.name} {m.strength}")
        + (f": {fhir.dosage_text(m)}" if fhir.dosage_text(m) else "")
        for m in (record.visits[latest].medications if latest is not None else ())
    ]
    latest_results = next((i for i, v in enumerate(record.visits) if v.results), None)
    results = builder.results.get(latest_results, []) if latest_results is not None else []
    result_lines = [
        f"{r.name}: {r.value or r.conclusion} {r.unit}".strip() + (" (bất thường)" if r.abnormal else "")
        for r in (record.visits[latest_results].results if latest_results is not None else ())
    ]
    immunization_lines = [f"{i.vaccine_name} ({i.occurred_on:%d/%m/%Y})" for i in record.immunizations]
    sections = [
        _section(
            builder,
            Section.PROBLEMS,
            "11450-4",
            "Vấn đề sức khỏe",
            problem_lines,
            problems,
            "Không có vấn đề sức khỏe nào được biết.",
        ),
        _section(
            builder,
            Section.ALLERGIES,
            "48765-2",
            "Dị ứng",
            allergy_lines,
            builder.allergies,
            "Không có dị ứng nào được biết.",
        ),
        _section(
            builder,
            Section.MEDICATIONS,
            "10160-0",
            "Thuốc đang dùng",
            medication_lines,
            medications,
            "Không có thuốc đang dùng nào được biết.",
        ),
        _section(
            builder,
            None,
            codes.RESULTS_LOINC,
            "Kết quả cận lâm sàng",
            result_lines,
            results,
            "Không có kết quả cận lâm sàng nào được biết.",
        ),
        _section(
            builder,
            Section.IMMUNIZATIONS,
            "11369-6",
            "Tiêm chủng",
            immunization_lines,
            builder.immunizations,
            "Không có mũi tiêm chủng nào được biết.",
        ),
    ]
    composition = {
        "resourceType": "Composition",
        "language": "vi",
        "status": "final",
        "type": {"coding": [fhir._coding(codes.LOINC, codes.PATIENT_SUMMARY_LOINC, "Patient summary Document")]},
        "subject": fhir.ref(patient),
        "date": fhir_datetime(moment),
        "author": [{"display": "henkham"}],
        "title": "Tóm tắt hồ sơ sức khỏe",
        "section": sections,
    }
    builder.add("composition", composition)
    builder.entries.insert(0, builder.entries.pop())
    identifier = {"system": "urn:ietf:rfc:3986", "value": builder.url(f"summary/{moment.isoformat()}")}
    return builder.bundle("document", identifier=identifier, timestamp=fhir_datetime(moment))
