"""Accounts and the patient profiles they manage (self, a child, a parent…)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from core import audit, tenancy
from core.errors import InvalidInput, NotFound
from core.identifiers import normalise_phone, validate_cccd, validate_insurance_number
from core.timeutil import local_today
from core.uow import UnitOfWork

from .caps import Caps, check_new_profile
from .models import Account, Patient, Relationship, Sex
from .views import PatientView


def find_account(uow: UnitOfWork, provider: str, external_id: str) -> int | None:
    return uow.session.scalar(
        select(Account.id).where(Account.provider == provider, Account.external_id == external_id)
    )


def get_or_create_account(uow: UnitOfWork, provider: str, external_id: str) -> int:
    """The id of the account (provider, external_id), created on first sight; safe under concurrency."""
    account_id = find_account(uow, provider, external_id)
    if account_id is not None:
        return account_id
    try:
        with uow.session.begin_nested():
            account = Account(provider=provider, external_id=external_id)
            uow.session.add(account)
        uow.commit()
        return account.id
    except IntegrityError:  # another request created it first; the savepoint was rolled back
        return find_account(uow, provider, external_id)


def register_patient(
    uow: UnitOfWork,
    *,
    account_id: int,
    full_name: str,
    date_of_birth: dt.date,
    sex: str,
    phone: str,
    relation: str = Relationship.SELF.value,
    cccd: str | None = None,
    insurance_number: str | None = None,
    address: str = "",
    limits: Caps | None = None,
) -> tuple[PatientView, bool]:
    """Add a profile to an account; the same name and birth date again returns the existing profile.
    ``limits`` caps the profiles of the account and of the client (API clients)."""
    name = " ".join((full_name or "").split())
    if not 2 <= len(name) <= 120:
        raise InvalidInput(
            "full_name must be 2 to 120 characters",
            "Dạ, anh/chị cho em xin họ và tên đầy đủ của người đi khám ạ.",
            field="full_name",
        )
    today = local_today()
    if date_of_birth > today or date_of_birth.year < today.year - 130:
        raise InvalidInput(
            "date_of_birth is in the future or implausibly old",
            "Dạ, ngày sinh chưa đúng. Anh/chị kiểm tra lại giúp em ạ.",
            field="date_of_birth",
        )
    if sex not in {s.value for s in Sex}:
        raise InvalidInput("sex must be male or female", "Dạ, anh/chị chọn giới tính nam hoặc nữ ạ.", field="sex")
    if relation not in {r.value for r in Relationship}:
        raise InvalidInput(
            f"relation must be one of {', '.join(r.value for r in Relationship)}",
            "Dạ, anh/chị cho em biết người đi khám là ai: bản thân, con, bố/mẹ, vợ/chồng hay người thân khác ạ.",
            field="relation",
        )
    phone_e164 = normalise_phone(phone)
    cccd_value = validate_cccd(cccd, date_of_birth=date_of_birth, sex=sex) if cccd else None
    insurance = validate_insurance_number(insurance_number) if insurance_number else None

    existing = uow.session.scalar(
        select(Patient).where(
            Patient.account_id == account_id,
            Patient.full_name == name,
            Patient.date_of_birth == date_of_birth,
        )
    )
    if existing is not None:  # the profile is answered as it is stored: a read, audited
        view = PatientView.of(existing)
        audit.record_reads(uow, "patient", [existing.id])
        uow.commit()
        return view, False
    if limits is not None:
        check_new_profile(uow, limits, account_id)
    patient = Patient(
        account_id=account_id,
        relation=relation,
        full_name=name,
        date_of_birth=date_of_birth,
        sex=sex,
        phone=phone_e164,
        cccd=cccd_value,
        insurance_number=insurance,
        address=address.strip(),
    )
    uow.session.add(patient)
    if cccd_value or insurance:
        uow.session.flush()
        link_person(uow.session, patient.id)
    uow.commit()
    return PatientView.of(patient), True


def refine_relation(uow: UnitOfWork, patient_id: int, account_id: int, said: str) -> bool:
    """Keep the detail the holder just said of a relative stored coarsely: a profile stored as "parent" (a
    woman) booked "cho mẹ" becomes "mother". Only a coarse relation is refined, and only to a detail of it
    that fits the profile's sex (``Relationship.fits``); anything else is left as stored. Not committed: the
    caller's unit of work commits it with what it does (a booking). True when it changed."""
    if said not in {r.value for r in Relationship}:
        return False
    detail = Relationship(said)
    patient = uow.session.get(Patient, patient_id)
    if patient is None or patient.account_id != account_id or patient.relation == said:
        return False
    if (
        patient.relation != detail.group.value
        or detail.group == detail
        or not detail.fits(patient.relation, patient.sex)
    ):
        return False
    patient.relation = said
    return True


def link_person(session, patient_id: int) -> None:
    """Link the profile to the person of the clinical records its CCCD or card names (core/emr/profiles.py);
    call it wherever a profile's CCCD or card is set or changed."""
    from core.emr.profiles import link_patient  # the record side, loaded only where a profile names an identifier

    link_patient(session, patient_id)


def list_patients(uow: UnitOfWork, account_id: int) -> list[PatientView]:
    rows = uow.session.scalars(select(Patient).where(Patient.account_id == account_id).order_by(Patient.id)).all()
    audit.record_reads(uow, "patient", [p.id for p in rows])
    return [PatientView.of(p) for p in rows]


def find_patient(uow: UnitOfWork, patient_id: int, account_id: int | None, *, lock: bool = False) -> int:
    """The patient's id, if ``account_id`` may act for them; None (staff) may act for a patient of the hospital
    the unit of work is confined to (core/tenancy.py). The row is locked when asked."""
    owner = uow.session.scalar(_OWNER_LOCKED if lock else _OWNER, {"id": patient_id})
    if owner is None or (account_id is not None and owner != account_id):
        raise patient_not_found(patient_id)
    if account_id is None:
        tenancy.ensure_patient_visible(uow, patient_id)
    return patient_id


def patient_not_found(patient_id: int) -> NotFound:
    """The refusal for a patient who does not exist or whom the account may not act for (the same answer)."""
    return NotFound(
        f"no patient {patient_id} for this account",
        "Dạ, em không tìm thấy hồ sơ người khám này. Anh/chị chọn lại hồ sơ giúp em ạ.",
        patient_id=patient_id,
    )


_OWNER = select(Patient.account_id).where(Patient.id == bindparam("id"))
_OWNER_LOCKED = _OWNER.with_for_update()
