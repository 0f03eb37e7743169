"""FHIR R4 Bundles from outside (another province's system, the immunization registry, henkham's own export)
read into core.emr.records.PersonRecord values.

Each entry's resource is checked by its fhir.resources R4B model: an invalid one is a Problem (its resource
type, the element, the reason) and the rest of the Bundle is still read. Resources are grouped by the Patient
they are about; visits come from Encounters, keyed by their ``urn:vn:cskcb:<code>:ma-lk`` identifier (an
Encounter without one gets a stable key made from its own identifier, or its id and the Bundle's source).
Diagnoses, medications, results and re-exam dates belong to a visit: one not linked to an Encounter is
reported, not guessed into one. "None known" comes from a List or an IPS section with an emptyReason, or from an
entry coded "no known …" (IPS absent/unknown codes, SNOMED 716186003 "No known allergy").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from core import safejson
from core.emr.records import (
    Diagnosis,
    Identity,
    Medication,
    PersonRecord,
    Problem,
    ReExamSlip,
    Result,
    Section,
    VisitRecord,
)

from . import codes
from . import resources as fhir
from .fields import with_record_fields

Json = dict[str, Any]
MAX_BUNDLE_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 50_000  # each entry is checked by its model (about 1-2 ms): a bound on the CPU one file takes
MAX_DEPTH = 64  # FHIR nests deeply (extensions of extensions); still bounded
# what reading a validated resource can still raise on odd content (our extension written by someone else…)
_READ_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, InvalidOperation)
_LINKED = {"Condition", "MedicationRequest", "MedicationStatement", "Observation", "DiagnosticReport"}


def _problem(reason: str, table: str = "Bundle", field: str = "", row: int | None = None) -> Problem:
    return Problem(reason=reason, table=table, field=field, row=row)


def _checked(entries: list[Any], problems: list[Problem]) -> list[tuple[int, str, Json]]:
    """(entry number, full URL, resource) of every valid resource."""
    out = []
    for number, entry in enumerate(entries, start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            problems.append(_problem("the entry has no resource", field="entry.resource", row=number))
            continue
        kind = str(resource.get("resourceType", ""))
        try:
            known = issubclass(get_fhir_model_class(kind), Resource)
        except (KeyError, ValueError):
            known = False
        if not known:
            problems.append(_problem(f"unknown resource type {kind[:40]!r}", kind[:40], "resourceType", number))
            continue
        try:
            checked = fhir.validated(resource)
        except ValidationError as exc:
            for error in exc.errors()[:5]:
                element = ".".join(str(part) for part in error.get("loc", ())) or kind
                problems.append(_problem(f"invalid {kind}: {error.get('msg', '')}", kind, element, number))
            continue
        except (TypeError, ValueError) as exc:
            problems.append(_problem(f"invalid {kind}: {exc}", kind, "", number))
            continue
        full_url = entry.get("fullUrl") or ""
        out.append((number, full_url, checked))
    return out


class _Reader:
    def __init__(self, bundle: Json, resources: list[tuple[int, str, Json]], problems: list[Problem]) -> None:
        self.problems = problems
        self.resources = resources
        meta = bundle.get("meta") or {}
        self.source = meta.get("source") or (bundle.get("identifier") or {}).get("value") or "urn:fhir-bundle"
        self.by_ref: dict[str, Json] = {}
        for _, full_url, resource in resources:
            if full_url:
                self.by_ref[full_url] = resource
            if resource.get("id"):
                self.by_ref[f"{resource['resourceType']}/{resource['id']}"] = resource
        self.patients = [r for _, _, r in resources if r["resourceType"] == "Patient"]

    def resolve(self, reference: Json | None) -> Json | None:
        target = (reference or {}).get("reference") or ""
        if target in self.by_ref:
            return self.by_ref[target]
        tail = "/".join(target.split("/")[-2:])  # an absolute URL of a server: .../Patient/123
        return self.by_ref.get(tail)

    def patient_of(self, resource: Json) -> Json | None:
        for element in ("subject", "patient"):
            found = self.resolve(resource.get(element))
            if found is not None and found["resourceType"] == "Patient":
                return found
        for participant in resource.get("participant") or ():
            found = self.resolve(participant.get("actor"))
            if found is not None and found["resourceType"] == "Patient":
                return found
        return self.patients[0] if len(self.patients) == 1 else None

    def encounter_of(self, resource: Json) -> Json | None:
        candidates = [resource.get("encounter"), resource.get("context")]
        candidates += list(resource.get("supportingInformation") or ())
        for reference in candidates:
            found = self.resolve(reference)
            if found is not None and found["resourceType"] == "Encounter":
                return found
        return None

    def fallback(self, resource: Json) -> str:
        """A stable identifier for a resource that has none: the Bundle's source and the resource's id, or a
        digest of its content when it has no id either."""
        source = self.source[:200]
        if resource.get("id"):
            return f"{source}|{resource['resourceType']}/{resource['id']}"
        content = json.dumps(resource, sort_keys=True, ensure_ascii=False, default=str).encode()
        return f"{source}|{resource['resourceType']}#{hashlib.sha256(content).hexdigest()[:20]}"

    def visit_identity(self, encounter: Json) -> tuple[str, str]:
        """The facility code and MA_LK of an Encounter (a stable key when it has no MA_LK)."""
        for item in encounter.get("identifier") or ():
            facility = codes.facility_of(item.get("system", ""), "ma-lk")
            if facility is not None and item.get("value"):
                return facility, item["value"]
        facility = ""
        provider = encounter.get("serviceProvider") or {}
        organization = self.resolve(provider)
        identifiers = (organization or {}).get("identifier") or [provider.get("identifier") or {}]
        facility = fhir.identifier_value(identifiers, codes.CSKCB)
        first = next((i for i in encounter.get("identifier") or () if i.get("value")), None)
        basis = f"{first.get('system', '')}|{first['value']}" if first else self.fallback(encounter)
        return facility, "FHIR-" + hashlib.sha256(basis.encode()).hexdigest()[:20].upper()


def _none_known(resource: Json) -> Section | None:
    concept = resource.get("code") or resource.get("medicationCodeableConcept") or resource.get("vaccineCode")
    for coding in fhir.codings(concept):
        section = codes.NONE_KNOWN_CODES.get((coding.get("system"), coding.get("code")))
        if section is not None:
            return section
    return None


def _empty_sections(resource: Json) -> list[Section]:
    """The sections a List or a Composition states as empty (an emptyReason on a section it names)."""
    parts = resource.get("section") or [] if resource["resourceType"] == "Composition" else [resource]
    found = []
    for part in parts:
        if part.get("emptyReason") and not part.get("entry"):
            for coding in fhir.codings(part.get("code")):
                section = codes.SECTION_OF_LOINC.get(coding.get("code", ""))
                if coding.get("system") == codes.LOINC and section is not None:
                    found.append(section)
    return found


@dataclasses.dataclass
class _Person:
    identity: Identity
    his_codes: dict[str, str]
    encounters: list[Json] = dataclasses.field(default_factory=list)
    immunizations: list = dataclasses.field(default_factory=list)
    allergies: list = dataclasses.field(default_factory=list)
    none_known: set = dataclasses.field(default_factory=set)


def parse_bundle(
    data: bytes, *, max_bytes: int = MAX_BUNDLE_BYTES, max_entries: int = MAX_ENTRIES
) -> tuple[list[PersonRecord], list[Problem]]:
    """The persons a FHIR R4 Bundle is about, and the problems of what could not be read."""
    if len(data) > max_bytes:
        return [], [_problem(f"the file is larger than {max_bytes // (1024 * 1024)} MB")]
    try:
        bundle = safejson.loads(data, max_depth=MAX_DEPTH, parse_float=Decimal)
    except safejson.UnsafeJSON as exc:
        return [], [_problem(f"not FHIR JSON: {exc}")]
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return [], [_problem("not a FHIR Bundle", field="resourceType")]
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        return [], [_problem("entry must be a list", field="entry")]
    if len(entries) > max_entries:
        return [], [_problem(f"more than {max_entries} entries: split the Bundle", field="entry")]
    problems: list[Problem] = []
    reader = _Reader(bundle, _checked(entries, problems), problems)
    return _persons(reader), problems


def _persons(reader: _Reader) -> list[PersonRecord]:
    persons: dict[int, _Person] = {}
    numbers = {id(resource): number for number, _, resource in reader.resources}
    for patient in reader.patients:
        read = _safely(reader, numbers[id(patient)], patient, fhir.read_patient)
        if read is not None:
            persons[id(patient)] = _Person(*read)
    children: dict[int, list[tuple[int, Json]]] = {}
    for number, _, resource in reader.resources:
        kind = resource["resourceType"]
        if kind in ("Patient", "Organization"):
            continue
        patient = reader.patient_of(resource)
        person = persons.get(id(patient)) if patient is not None else None
        if kind in ("List", "Composition"):
            if person is not None:
                person.none_known.update(_empty_sections(resource))
            continue
        if kind not in _LINKED | {"Encounter", "Immunization", "AllergyIntolerance", "Appointment"}:
            continue  # Practitioner, Location, …: nothing of the record
        if person is None:
            if kind != "Appointment":
                reader.problems.append(_problem("not about a Patient of the Bundle", kind, "subject", number))
            continue
        section = _none_known(resource)
        if section is not None:
            person.none_known.add(section)
        elif kind == "Encounter":
            person.encounters.append(resource)
        elif kind == "Immunization":
            immunization = _safely(reader, number, resource, lambda r: fhir.read_immunization(r, reader.fallback(r)))
            if isinstance(immunization, str):
                reader.problems.append(_problem(immunization, kind, "occurrence", number))
            elif immunization is not None:
                person.immunizations.append(_bounded(immunization))
        elif kind == "AllergyIntolerance":
            allergy = _safely(reader, number, resource, lambda r: fhir.read_allergy(r, reader.fallback(r)))
            if allergy is not None:
                person.allergies.append(_bounded(allergy))
        else:
            encounter = reader.encounter_of(resource)
            if encounter is not None:
                children.setdefault(id(encounter), []).append((number, resource))
            elif kind != "Appointment" and not _is_panel(resource):
                reader.problems.append(
                    _problem("not linked to an Encounter: henkham keeps it per visit", kind, "encounter", number)
                )
    records = []
    for person in persons.values():
        visits = [
            _safely(reader, numbers[id(e)], e, lambda r, p=person: _visit(reader, p, r, children.get(id(r), [])))
            for e in person.encounters
        ]
        records.append(
            PersonRecord(
                identity=person.identity,
                visits=tuple(visit for visit in visits if visit is not None),
                immunizations=tuple(person.immunizations),
                allergies=tuple(person.allergies),
                none_known=frozenset(person.none_known),
            )
        )
    return records


MAX_IDENTIFIER = 300  # the store's column


def _bounded(value: Any) -> Any:
    """An immunization or allergy whose source identifier fits the store: a longer one keeps its start and a
    digest of the whole (stable, so a second import finds it again)."""
    if len(value.identifier) <= MAX_IDENTIFIER:
        return value
    digest = hashlib.sha256(value.identifier.encode()).hexdigest()[:24]
    return dataclasses.replace(value, identifier=f"{value.identifier[:200]}#{digest}")


def _safely(reader: _Reader, number: int, resource: Json, read: Callable[[Json], Any]) -> Any:
    """What ``read`` makes of a resource, or None with a Problem when its content cannot be read."""
    try:
        return read(resource)
    except _READ_ERRORS as exc:
        kind = resource["resourceType"]
        reader.problems.append(_problem(f"{kind} cannot be read: {str(exc)[:200]}", kind, "", number))
        return None


def _is_panel(resource: Json) -> bool:
    return (
        resource["resourceType"] == "DiagnosticReport"
        and bool(resource.get("result"))
        and not (resource.get("conclusion"))
    )


def _diagnoses(reader: _Reader, encounter: Json, conditions: list[Json]) -> tuple[Diagnosis, ...]:
    listed = sorted(
        (entry for entry in encounter.get("diagnosis") or () if reader.resolve(entry.get("condition"))),
        key=lambda entry: entry.get("rank") or 10**6,
    )
    ordered: list[tuple[Json, bool]] = []
    for position, entry in enumerate(listed):
        condition = reader.resolve(entry.get("condition"))
        rank_one = entry.get("rank") == 1 or (position == 0 and not any(e.get("rank") for e in listed))
        ordered.append((condition, fhir.is_principal(entry, rank_one)))
    ordered += [(c, False) for c in conditions if all(c is not o for o, _ in ordered)]
    return tuple(fhir.read_condition(c, principal) for c, principal in ordered)


def _visit(reader: _Reader, person: _Person, encounter: Json, children: list[tuple[int, Json]]) -> VisitRecord:
    facility, key = reader.visit_identity(encounter)
    by_kind: dict[str, list[Json]] = {}
    for _, resource in children:
        kind = resource["resourceType"]
        if _is_panel(resource):
            continue
        group = "result" if kind in ("Observation", "DiagnosticReport") else kind
        group = "medication" if kind in ("MedicationRequest", "MedicationStatement") else group
        by_kind.setdefault(group, []).append(resource)
    numbers = {id(resource): number for number, resource in children}

    def read_all(group: str, read: Callable[[Json, int], Any]) -> list[Any]:
        values = []
        for resource in by_kind.get(group, []):
            value = _safely(reader, numbers[id(resource)], resource, lambda r: read(r, len(values) + 1))
            if value is not None:
                values.append(value)
        return values

    medications: list[Medication] = read_all("medication", lambda r, p: fhir.read_medication(r, p, reader.resolve))
    results: list[Result] = read_all("result", fhir.read_result)
    re_exam_dates, slip = [], None
    for appointment in by_kind.get("Appointment", []):
        source = fhir.appointment_source(appointment)
        if source == codes.SOURCE_SLIP:
            slip = _safely(reader, numbers[id(appointment)], appointment, lambda r: fhir.read_slip(r, facility))
        elif source in ("", codes.SOURCE_NEXT_VISIT):
            day, _ = fhir.appointment_day(appointment)
            if day is not None:
                re_exam_dates.append(day)
    visit = VisitRecord(
        facility_code=facility,
        visit_key=key,
        identity=dataclasses.replace(person.identity, his_patient_code=person.his_codes.get(facility, "")),
        **fhir.read_encounter(encounter, facility),
        diagnoses=_diagnoses(reader, encounter, by_kind.get("Condition", [])),
        medications=tuple(medications),
        results=tuple(results),
        re_exam_dates=tuple(re_exam_dates),
        re_exam=slip if isinstance(slip, ReExamSlip) else None,
    )
    return with_record_fields(visit, encounter.get("extension"))
