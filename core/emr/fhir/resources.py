"""Each record value as the FHIR R4 resource that says it, and back: the one mapping export and import share.

``*_resource`` builds a resource (a JSON dict) from a record value with FHIR's own elements only; ``read_*``
reads a resource (ours or another system's) back into a record value. The exporter compares the two and puts
what FHIR's elements lost into the record-fields extension (``fields.py``), which ``read_*`` then applies.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from core.emr.records import Allergy, Diagnosis, Identity, Immunization, Medication, ReExamSlip, Result, VisitKind
from core.timeutil import LOCAL_TZ

from . import codes
from .fields import fhir_datetime, parse_date, parse_datetime, with_record_fields

Json = dict[str, Any]
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def checked(resource: Json) -> Json:
    """The resource checked by its fhir.resources R4B model, as the model writes it (JSON)."""
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return model.model_dump(mode="json", exclude_none=True)


def as_read(resource: Json) -> Json:
    """JSON as a reader of the file gets it: numbers with a fraction as Decimal (core.safejson, parse_float)."""
    return json.loads(json.dumps(resource, ensure_ascii=False), parse_float=Decimal)


def validated(resource: Json) -> Json:
    """The resource checked by its R4B model, as a reader of the file gets it."""
    return as_read(checked(resource))


def prune(value: Any) -> Any:
    """The value without None, "", {} or [] anywhere (FHIR has no empty elements): what a record leaves empty
    is simply not said."""
    if isinstance(value, dict):
        pruned = {key: prune(item) for key, item in value.items()}
        return {key: item for key, item in pruned.items() if item not in (None, "", {}, [])}
    if isinstance(value, list):
        pruned = [prune(item) for item in value]
        return [item for item in pruned if item not in (None, "", {}, [])]
    return value


_CODE = re.compile(r"^[^\s]+(\s[^\s]+)*$")


def ref(full_url: str) -> Json:
    return {"reference": full_url}


def _doctor(code: str) -> Json:
    return {"identifier": {"system": codes.DOCTOR, "value": code}}


def _facility(code: str) -> Json:
    return {"identifier": {"system": codes.CSKCB, "value": code}}


def _coding(system: str, code: str, display: str = "") -> Json | None:
    """A Coding, or None when the code is not one FHIR accepts (blank, stray spaces): the record-fields
    extension then keeps it as written."""
    if not _CODE.match(code):
        return None
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


UNKNOWN = "(không rõ)"  # the text of a concept FHIR requires and the record leaves empty


def make_concept(text: str, *coding: Json | None) -> Json:
    """A CodeableConcept that FHIR accepts even when the record has neither text nor code."""
    found = [c for c in coding if c]
    return {"coding": found or None, "text": text or (None if found else UNKNOWN)}


def codings(concept: Json | None) -> list[Json]:
    return list((concept or {}).get("coding") or [])


def code_of(concept: Json | None, system: str) -> str:
    return next((c.get("code", "") for c in codings(concept) if c.get("system") == system), "")


def concept_text(concept: Json | None) -> str:
    concept = concept or {}
    if concept.get("text"):
        return concept["text"]
    first = next(iter(codings(concept)), {})
    return first.get("display") or first.get("code") or ""


def identifier_value(identifiers: list[Json] | None, system: str) -> str:
    return next((i.get("value", "") for i in identifiers or () if i.get("system") == system), "")


def _number(value: Decimal | float | int | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _text(value: str) -> str | None:
    return value or None


# Patient ---------------------------------------------------------------------------------------------------


def patient_resource(identity: Identity, his_codes: dict[str, str]) -> Json:
    identifiers = []
    if identity.cccd:
        identifiers.append({"system": codes.CCCD, "value": identity.cccd})
    identifiers += [{"system": codes.BHYT, "value": card} for card in identity.insurance_cards]
    identifiers += [{"system": codes.BHXH, "value": number} for number in identity.social_insurance_numbers]
    identifiers += [
        {"system": codes.his_patient_system(facility), "value": code} for facility, code in his_codes.items()
    ]
    words = identity.full_name.split()
    resource: Json = {"resourceType": "Patient", "identifier": identifiers or None}
    if words:  # Vietnamese names put the family name first
        resource["name"] = [{"text": identity.full_name, "family": words[0], "given": words[1:] or None}]
    if identity.sex in ("male", "female"):
        resource["gender"] = identity.sex
    if identity.birth_year is not None:
        parts = [f"{identity.birth_year:04d}"]
        if identity.birth_month is not None:
            parts.append(f"{identity.birth_month:02d}")
            if identity.birth_day is not None:
                parts.append(f"{identity.birth_day:02d}")
        resource["birthDate"] = "-".join(parts)
    if identity.phone:
        resource["telecom"] = [{"system": "phone", "value": identity.phone, "use": "mobile"}]
    if identity.address:
        resource["address"] = [{"text": identity.address}]
    return resource


def read_patient(resource: Json) -> tuple[Identity, dict[str, str]]:
    """The identity and each facility's MA_BN of a Patient."""
    identifiers = resource.get("identifier") or []
    names = resource.get("name") or [{}]
    name = names[0]
    full_name = name.get("text") or " ".join([name.get("family", ""), *(name.get("given") or [])]).strip()
    year = month = day = None
    if resource.get("birthDate"):
        parts = [int(part) for part in resource["birthDate"].split("-")]
        year, month, day = [*parts, None, None][:3]
    cards = tuple(i["value"] for i in identifiers if i.get("system") == codes.BHYT and i.get("value"))
    if not cards:
        cards = tuple(i["value"] for i in identifiers if i.get("system") == codes.BHXH and i.get("value"))
    his_codes = {}
    for item in identifiers:
        facility = codes.facility_of(item.get("system", ""), "ma-bn")
        if facility and item.get("value"):
            his_codes[facility] = item["value"]
    phone = next((t.get("value") for t in resource.get("telecom") or () if t.get("system") == "phone"), None)
    address = next(iter(resource.get("address") or ()), {})
    address_text = address.get("text") or ", ".join(
        part for part in [*(address.get("line") or []), address.get("district"), address.get("city")] if part
    )
    gender = resource.get("gender")
    identity = Identity(
        full_name=full_name,
        birth_year=year,
        birth_month=month,
        birth_day=day,
        sex=gender if gender in ("male", "female") else None,
        cccd=identifier_value(identifiers, codes.CCCD) or None,
        insurance_cards=cards,
        phone=phone or None,
        address=address_text,
        his_patient_code=next(iter(his_codes.values())) if len(his_codes) == 1 else "",
    )
    return with_record_fields(identity, resource.get("extension")), his_codes


def organization_resource(facility: str) -> Json:
    return {
        "resourceType": "Organization",
        "identifier": [{"system": codes.CSKCB, "value": facility}],
        "name": f"Cơ sở KCB {facility}",
    }


# Encounter -------------------------------------------------------------------------------------------------


def encounter_resource(visit: Any, patient: str, organization: str) -> Json:
    identifiers = [{"system": codes.visit_system(visit.facility_code), "value": visit.visit_key}]
    if visit.medical_record_number:
        identifiers.append(
            {"system": codes.record_number_system(visit.facility_code), "value": visit.medical_record_number}
        )
    period = {"start": visit.arrived_at and fhir_datetime(visit.arrived_at)}
    period["end"] = visit.discharged_at and fhir_datetime(visit.discharged_at)
    resource: Json = {
        "resourceType": "Encounter",
        "identifier": identifiers,
        "status": "finished" if visit.discharged_at else "in-progress",
        "class": _coding(codes.ACT_CODE, codes.CLASS_OF_KIND[visit.kind]),
        "subject": ref(patient),
        "serviceProvider": ref(organization),
        "period": period if any(period.values()) else None,
        "participant": [{"individual": _doctor(code)} for code in visit.doctors] or None,
        "location": [
            {"location": {"identifier": {"system": codes.department_system(visit.facility_code), "value": code}}}
            for code in visit.departments
        ]
        or None,
        "reasonCode": [{"text": visit.reason}] if visit.reason else None,
    }
    if visit.discharge_type:
        resource["hospitalization"] = {
            "dischargeDisposition": {"coding": [_coding(codes.DISCHARGE_TYPE, visit.discharge_type)]}
        }
    return resource


def read_encounter(resource: Json, facility: str) -> dict[str, Any]:
    """The visit-level fields FHIR's elements give (the caller knows the facility and the key)."""
    period = resource.get("period") or {}
    kind = codes.KIND_OF_CLASS.get((resource.get("class") or {}).get("code", ""), VisitKind.OTHER)
    disposition = (resource.get("hospitalization") or {}).get("dischargeDisposition")
    doctors = []
    for participant in resource.get("participant") or ():
        code = ((participant.get("individual") or {}).get("identifier") or {}).get("value")
        if code and code not in doctors:
            doctors.append(code)
    departments = []
    for location in resource.get("location") or ():
        identifier = (location.get("location") or {}).get("identifier") or {}
        if codes.facility_of(identifier.get("system", ""), "ma-khoa") is not None and identifier.get("value"):
            departments.append(identifier["value"])
    return {
        "kind": kind,
        "departments": tuple(dict.fromkeys(departments)),
        "arrived_at": parse_datetime(period.get("start")),
        "discharged_at": parse_datetime(period.get("end")),
        "doctors": tuple(doctors),
        "reason": "; ".join(concept_text(c) for c in resource.get("reasonCode") or () if concept_text(c)),
        "discharge_type": code_of(disposition, codes.DISCHARGE_TYPE) or concept_text(disposition),
        "medical_record_number": identifier_value(resource.get("identifier"), codes.record_number_system(facility)),
    }


def diagnosis_use(diagnosis: Diagnosis, rank: int) -> Json:
    return {
        "use": {
            "coding": [
                _coding(codes.DIAGNOSIS_ROLE, "DD" if diagnosis.principal else "CM"),
                _coding(codes.DIAGNOSIS_RANK, "principal" if diagnosis.principal else "secondary"),
            ]
        },
        "rank": rank,
    }


def is_principal(entry: Json, rank_one: bool) -> bool:
    """Whether an Encounter.diagnosis is the principal one: henkham's rank code, else rank 1."""
    ours = code_of(entry.get("use"), codes.DIAGNOSIS_RANK)
    return ours == "principal" if ours else rank_one


# Condition -------------------------------------------------------------------------------------------------


def condition_resource(diagnosis: Diagnosis, patient: str, encounter: str) -> Json:
    system = codes.DIAGNOSIS_SYSTEMS.get(diagnosis.system, codes.ICD10)
    return {
        "resourceType": "Condition",
        "category": [{"coding": [_coding(codes.CONDITION_CATEGORY, "encounter-diagnosis")]}],
        "code": {"coding": [_coding(system, diagnosis.code)], "text": _text(diagnosis.text)},
        "subject": ref(patient),
        "encounter": ref(encounter),
    }


def read_condition(resource: Json, principal: bool) -> Diagnosis:
    code, system = "", "icd10"
    for coding in codings(resource.get("code")):
        if coding.get("system") == codes.ICD10:
            code = coding.get("code", "")
            break
        if coding.get("system") == codes.YHCT:
            code, system = coding.get("code", ""), "yhct"
            break
    text = (resource.get("code") or {}).get("text") or ""
    native = Diagnosis(code=code.upper().replace(" ", ""), principal=principal, text=text, system=system)
    return with_record_fields(native, resource.get("extension"))


# MedicationRequest / MedicationStatement -------------------------------------------------------------------


def dosage_text(medication: Medication) -> str:
    return "; ".join(part for part in (medication.dose, medication.instructions) if part)


def medication_resource(medication: Medication, patient: str, encounter: str) -> Json:
    dosage: Json = {"text": _text(dosage_text(medication)), "patientInstruction": _text(medication.instructions)}
    if medication.route:
        dosage["route"] = {"coding": [_coding(codes.ROUTE, medication.route)]}
    dispense: Json = {}
    if medication.quantity is not None:
        dispense["quantity"] = {"value": medication.quantity, "unit": _text(medication.unit)}
    if medication.days is not None:
        dispense["expectedSupplyDuration"] = {
            "value": medication.days,
            "unit": "ngày",
            "system": "http://unitsofmeasure.org",
            "code": "d",
        }
    drug = make_concept(medication.name, _coding(codes.INGREDIENT, medication.ingredient_code))
    return {
        "resourceType": "MedicationRequest",
        "status": "completed",
        "intent": "order",
        "medicationCodeableConcept": drug,
        "subject": ref(patient),
        "encounter": ref(encounter),
        "authoredOn": medication.ordered_at and fhir_datetime(medication.ordered_at),
        "requester": _doctor(medication.doctor) if medication.doctor else None,
        "dosageInstruction": [{k: v for k, v in dosage.items() if v is not None}] if any(dosage.values()) else None,
        "dispenseRequest": dispense or None,
    }


def read_medication(
    resource: Json, position: int, resolve: Callable[[Json | None], Json | None] = lambda _: None
) -> Medication:
    dosages = resource.get("dosageInstruction") or resource.get("dosage") or [{}]
    dosage = dosages[0]
    instructions = dosage.get("patientInstruction") or ""
    text = dosage.get("text") or ""
    dose = text[: -len(instructions) - 2] if instructions and text.endswith("; " + instructions) else text
    if instructions and text == instructions:
        dose = ""
    dispense = resource.get("dispenseRequest") or {}
    quantity = dispense.get("quantity") or {}
    supply = dispense.get("expectedSupplyDuration") or {}
    route = dosage.get("route")
    concept = resource.get("medicationCodeableConcept")
    if concept is None:  # a Medication resource of the Bundle
        concept = (resolve(resource.get("medicationReference")) or {}).get("code")
        concept = concept or {"text": (resource.get("medicationReference") or {}).get("display")}
    native = Medication(
        position=position,
        name=concept_text(concept),
        ingredient_code=code_of(concept, codes.INGREDIENT),
        route=code_of(route, codes.ROUTE) or concept_text(route),
        dose=dose,
        instructions=instructions,
        quantity=_number(quantity.get("value")),
        unit=quantity.get("unit") or "",
        days=int(supply["value"]) if supply.get("value") is not None and supply.get("code", "d") == "d" else None,
        doctor=((resource.get("requester") or {}).get("identifier") or {}).get("value") or "",
        ordered_at=parse_datetime(resource.get("authoredOn") or resource.get("effectiveDateTime")),
    )
    return with_record_fields(native, resource.get("extension"))


# Observation / DiagnosticReport ----------------------------------------------------------------------------


def is_imaging(result: Result) -> bool:
    return not result.value and bool(result.conclusion or result.description)


def _result_code(result: Result) -> Json:
    return make_concept(
        result.name, _coding(codes.INDICATOR, result.indicator_code), _coding(codes.SERVICE, result.service_code)
    )


def _interpretation(result: Result) -> str | None:
    if result.abnormal is None:
        return None
    if not result.abnormal:
        return "N"
    number = _number(result.value) if _NUMBER.match(result.value) else None
    if number is not None and result.high is not None and number > result.high:
        return "H"
    if number is not None and result.low is not None and number < result.low:
        return "L"
    return "A"


def result_resource(result: Result, patient: str, encounter: str) -> Json:
    common: Json = {
        "status": "final",
        "code": _result_code(result),
        "subject": ref(patient),
        "encounter": ref(encounter),
        "effectiveDateTime": result.result_at and fhir_datetime(result.result_at),
    }
    if is_imaging(result):
        return {
            "resourceType": "DiagnosticReport",
            **common,
            "category": [{"coding": [_coding("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD")]}],
            "resultsInterpreter": [_doctor(result.reader)] if result.reader else None,
            "conclusion": _text(result.conclusion),
        }
    resource: Json = {"resourceType": "Observation", **common}
    if result.value and _NUMBER.match(result.value):
        resource["valueQuantity"] = {"value": Decimal(result.value), "unit": _text(result.unit)}
    elif result.value:
        resource["valueString"] = result.value
    if result.reference_range or result.low is not None or result.high is not None:
        resource["referenceRange"] = [
            {
                "low": None if result.low is None else {"value": result.low},
                "high": None if result.high is None else {"value": result.high},
                "text": _text(result.reference_range),
            }
        ]
    interpretation = _interpretation(result)
    if interpretation:
        resource["interpretation"] = [{"coding": [_coding(codes.INTERPRETATION, interpretation)]}]
    if result.reader:
        resource["performer"] = [_doctor(result.reader)]
    if result.description:
        resource["note"] = [{"text": result.description}]
    return resource


_ABNORMAL = {"H": True, "HH": True, "HU": True, "L": True, "LL": True, "LU": True, "A": True, "AA": True}


def read_result(resource: Json, position: int) -> Result:
    concept = resource.get("code")
    common = {
        "position": position,
        "service_code": code_of(concept, codes.SERVICE),
        "name": concept_text(concept),
        "indicator_code": code_of(concept, codes.INDICATOR),
        "result_at": parse_datetime(resource.get("effectiveDateTime") or resource.get("issued")),
    }
    if resource["resourceType"] == "DiagnosticReport":
        reader = next(iter(resource.get("resultsInterpreter") or ()), {})
        native = Result(
            **common,
            conclusion=resource.get("conclusion") or "",
            reader=(reader.get("identifier") or {}).get("value") or "",
        )
        return with_record_fields(native, resource.get("extension"))
    value, unit = "", ""
    if "valueQuantity" in resource:
        quantity = resource["valueQuantity"]
        value = "" if quantity.get("value") is None else quantity.get("comparator", "") + str(quantity["value"])
        unit = quantity.get("unit") or quantity.get("code") or ""
    elif resource.get("valueString"):
        value = resource["valueString"]
    elif resource.get("valueCodeableConcept"):
        value = concept_text(resource["valueCodeableConcept"])
    ranges = resource.get("referenceRange") or [{}]
    low = (ranges[0].get("low") or {}).get("value")
    high = (ranges[0].get("high") or {}).get("value")
    interpretation = [c.get("code") for i in resource.get("interpretation") or () for c in codings(i) if c.get("code")]
    abnormal = None
    if interpretation:
        abnormal = any(_ABNORMAL.get(code, False) for code in interpretation) or (
            None if "N" not in interpretation else False
        )
    performer = next(iter(resource.get("performer") or ()), {})
    native = Result(
        **common,
        value=value,
        unit=unit,
        reference_range=ranges[0].get("text") or "",
        low=_number(low),
        high=_number(high),
        abnormal=abnormal,
        description="\n".join(n.get("text", "") for n in resource.get("note") or () if n.get("text")),
        reader=(performer.get("identifier") or {}).get("value") or "",
    )
    return with_record_fields(native, resource.get("extension"))


# Immunization / AllergyIntolerance -------------------------------------------------------------------------


def _identifier(identifier: str) -> list[Json]:
    system, bar, value = identifier.partition("|")
    return [{"system": system, "value": value}] if bar and system else [{"value": identifier}]


def read_identifier(resource: Json, fallback: str) -> str:
    for item in resource.get("identifier") or ():
        if item.get("value"):
            return f"{item['system']}|{item['value']}" if item.get("system") else item["value"]
    return fallback


def immunization_resource(immunization: Immunization, patient: str) -> Json:
    vaccine = make_concept(immunization.vaccine_name, _coding(immunization.vaccine_system, immunization.vaccine_code))
    return {
        "resourceType": "Immunization",
        "identifier": _identifier(immunization.identifier),
        "status": immunization.status,
        "vaccineCode": vaccine,
        "patient": ref(patient),
        "occurrenceDateTime": immunization.occurred_on.isoformat(),
        "lotNumber": _text(immunization.lot_number),
        "performer": [{"actor": _facility(immunization.facility_code)}] if immunization.facility_code else None,
        "protocolApplied": [{"doseNumberString": immunization.dose_number}] if immunization.dose_number else None,
    }


def read_immunization(resource: Json, fallback_identifier: str) -> Immunization | str:
    """The immunization, or why it cannot be one."""
    occurred = parse_date(resource.get("occurrenceDateTime"))
    if occurred is None:
        return "occurrenceDateTime: the vaccination date is missing"
    concept = resource.get("vaccineCode")
    first = next(iter(codings(concept)), {})
    dose = next(iter(resource.get("protocolApplied") or ()), {})
    dose_number = dose.get("doseNumberString") or dose.get("doseNumberPositiveInt")
    facility = ""
    for performer in resource.get("performer") or ():
        identifier = (performer.get("actor") or {}).get("identifier") or {}
        if identifier.get("system") == codes.CSKCB:
            facility = identifier.get("value", "")
    native = Immunization(
        identifier=read_identifier(resource, fallback_identifier),
        vaccine_name=concept_text(concept),
        occurred_on=occurred,
        vaccine_code=first.get("code", ""),
        vaccine_system=first.get("system", ""),
        dose_number="" if dose_number is None else str(dose_number),
        lot_number=resource.get("lotNumber") or "",
        facility_code=facility,
        status=resource.get("status") or "completed",
    )
    return with_record_fields(native, resource.get("extension"))


def allergy_resource(allergy: Allergy, patient: str) -> Json:
    concept: Json = {"text": _text(allergy.substance)}
    if allergy.code:
        concept["coding"] = [_coding(allergy.code_system, allergy.code)]
    return {
        "resourceType": "AllergyIntolerance",
        "identifier": _identifier(allergy.identifier),
        "clinicalStatus": {"coding": [_coding(codes.ALLERGY_CLINICAL, allergy.clinical_status)]},
        "code": concept,
        "patient": ref(patient),
        "criticality": _text(allergy.criticality),
        "recordedDate": allergy.recorded_on and allergy.recorded_on.isoformat(),
        "reaction": [{"manifestation": [{"text": allergy.reaction}]}] if allergy.reaction else None,
    }


def read_allergy(resource: Json, fallback_identifier: str) -> Allergy:
    concept = resource.get("code")
    first = next(iter(codings(concept)), {})
    reactions = [concept_text(m) for r in resource.get("reaction") or () for m in r.get("manifestation") or () if m]
    status = resource.get("clinicalStatus")
    native = Allergy(
        identifier=read_identifier(resource, fallback_identifier),
        substance=concept_text(concept),
        code=first.get("code", ""),
        code_system=first.get("system", ""),
        reaction="; ".join(r for r in reactions if r),
        criticality=resource.get("criticality") or "",
        clinical_status=code_of(status, codes.ALLERGY_CLINICAL) or "active",
        recorded_on=parse_date(resource.get("recordedDate")),
    )
    return with_record_fields(native, resource.get("extension"))


# Appointment -----------------------------------------------------------------------------------------------


def _source(code: str) -> list[Json]:
    return [{"coding": [_coding(codes.APPOINTMENT_SOURCE, code)]}]


def appointment_source(resource: Json) -> str:
    return next((code_of(c, codes.APPOINTMENT_SOURCE) for c in resource.get("serviceCategory") or ()), "")


def _patient_participant(patient: str) -> Json:
    return {"actor": ref(patient), "status": "accepted"}


def next_visit_resource(day: dt.date, patient: str, encounter: str) -> Json:
    """XML1 NGAY_TAI_KHAM: a re-exam date the doctor set, no slot booked yet."""
    return {
        "resourceType": "Appointment",
        "status": "proposed",
        "serviceCategory": _source(codes.SOURCE_NEXT_VISIT),
        "description": "Ngày tái khám",
        "requestedPeriod": [{"start": day.isoformat(), "end": day.isoformat()}],
        "participant": [_patient_participant(patient)],
        "supportingInformation": [ref(encounter)],
    }


def slip_resource(slip: ReExamSlip, facility: str, patient: str, encounter: str) -> Json:
    start = slip.due_date.isoformat()
    if slip.due_time is not None:
        start = fhir_datetime(dt.datetime.combine(slip.due_date, slip.due_time, LOCAL_TZ))
    participants = [_patient_participant(patient)]
    if slip.doctor:
        participants.append({"actor": _doctor(slip.doctor), "status": "accepted"})
    reason: Json = {"text": _text(slip.diagnosis)}
    if slip.principal_code:
        reason["coding"] = [_coding(codes.ICD10, slip.principal_code)]
    return {
        "resourceType": "Appointment",
        "identifier": [{"system": codes.slip_system(slip.facility_code or facility), "value": slip.number}]
        if slip.number
        else None,
        "status": "proposed",
        "serviceCategory": _source(codes.SOURCE_SLIP),
        "description": "Giấy hẹn khám lại",
        "reasonCode": [reason] if any(reason.values()) else None,
        "requestedPeriod": [{"start": start, "end": start}],
        "created": slip.issued_on and slip.issued_on.isoformat(),
        "participant": participants,
        "supportingInformation": [ref(encounter)],
    }


def appointment_day(resource: Json) -> tuple[dt.date | None, dt.time | None]:
    """The day (and the local time, when given) an Appointment is for."""
    start = resource.get("start") or next(iter(resource.get("requestedPeriod") or ()), {}).get("start")
    if not start:
        return None, None
    if "T" in start:
        moment = parse_datetime(start)
        local = moment.astimezone(LOCAL_TZ) if moment else None
        return (local.date(), local.time().replace(tzinfo=None)) if local else (None, None)
    return parse_date(start), None


def read_slip(resource: Json, facility: str) -> ReExamSlip | None:
    day, time = appointment_day(resource)
    if day is None:
        return None
    number, slip_facility = "", ""
    for item in resource.get("identifier") or ():
        found = codes.facility_of(item.get("system", ""), "so-giayhen-kl")
        if found is not None:
            number, slip_facility = item.get("value", ""), found
    reason = next(iter(resource.get("reasonCode") or ()), {})
    doctor = ""
    for participant in resource.get("participant") or ():
        identifier = (participant.get("actor") or {}).get("identifier") or {}
        if identifier.get("system") == codes.DOCTOR:
            doctor = identifier.get("value", "")
    native = ReExamSlip(
        due_date=day,
        number=number,
        facility_code=slip_facility,
        due_time=None if time == dt.time() else time,
        diagnosis=reason.get("text") or "",
        principal_code=code_of(reason, codes.ICD10),
        doctor=doctor,
        issued_on=parse_date(resource.get("created")),
    )
    return with_record_fields(native, resource.get("extension"))
