"""Vietnamese personal identifiers: phone, CCCD (personal id), BHYT (health insurance) number.

Rules from shared/domain-vn.md. Every function raises InvalidInput with a patient-readable message.
"""

from __future__ import annotations

import datetime as dt
import re

import phonenumbers

from core.errors import InvalidInput

_NON_ALNUM = re.compile(r"[\s.\-]")
_CCCD = re.compile(r"^\d{12}$")
_BHYT_LEGACY = re.compile(r"^[A-Z]{2}[1-5]\d{2}\d{10}$")
_BHYT_SOCIAL_NUMBER = re.compile(r"^\d{10}$")

# CCCD 4th digit: century of birth and sex (Circular 59/2021/TT-BCA): even = male, odd = female.
_CENTURY_BY_DIGIT = {0: 1900, 1: 1900, 2: 2000, 3: 2000, 4: 2100, 5: 2100, 6: 2200, 7: 2200, 8: 1800, 9: 1800}


def normalise_phone(raw: str) -> str:
    """Return the canonical E.164 form (+84xxxxxxxxx) of a Vietnamese mobile number."""
    text = _NON_ALNUM.sub("", raw or "")
    if text.startswith("84") and not text.startswith("+"):
        text = "+" + text  # Zalo sends 84xxxxxxxxx
    try:
        number = phonenumbers.parse(text, "VN")
    except phonenumbers.NumberParseException as exc:
        raise _bad_phone(raw) from exc
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise _bad_phone(raw)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _bad_phone(raw: str) -> InvalidInput:
    return InvalidInput(
        "phone must be a Vietnamese mobile number such as 0912345678",
        "Dạ, số điện thoại chưa đúng. Anh/chị vui lòng nhập số di động 10 số, ví dụ 0912345678 ạ.",
        field="phone",
    )


def national_phone(e164: str) -> str:
    """+84912345678 -> 0912345678 (the form patients read and type)."""
    return "0" + e164[3:] if e164.startswith("+84") else e164


def mask_phone(phone: str) -> str:
    """Show only the first three and last three digits: 091****678. Safe for logs and chat."""
    national = national_phone(phone)
    if len(national) < 7:
        return "***"
    return national[:3] + "*" * (len(national) - 6) + national[-3:]


def mask_identifier(value: str | None) -> str:
    """CCCD / insurance numbers in logs and chat: keep the last four characters only."""
    if not value:
        return ""
    return "*" * max(len(value) - 4, 0) + value[-4:]


def validate_cccd(raw: str, *, date_of_birth: dt.date | None = None, sex: str | None = None) -> str:
    cccd = _NON_ALNUM.sub("", raw or "")
    if not _CCCD.match(cccd):
        raise InvalidInput(
            "CCCD must be 12 digits",
            "Dạ, số CCCD gồm 12 chữ số. Anh/chị kiểm tra lại giúp em ạ.",
            field="cccd",
        )
    digit = int(cccd[3])
    if date_of_birth is not None:
        year = _CENTURY_BY_DIGIT[digit] + int(cccd[4:6])
        if year != date_of_birth.year:
            raise InvalidInput(
                "CCCD does not match the date of birth (4th to 6th digits encode the year of birth)",
                "Dạ, số CCCD không khớp với năm sinh. Anh/chị kiểm tra lại số CCCD hoặc ngày sinh giúp em ạ.",
                field="cccd",
            )
    if sex is not None and (digit % 2 == 1) != (sex == "female"):
        raise InvalidInput(
            "CCCD does not match the sex (4th digit: even for male, odd for female)",
            "Dạ, số CCCD không khớp với giới tính đã khai. Anh/chị kiểm tra lại giúp em ạ.",
            field="cccd",
        )
    return cccd


def validate_insurance_number(raw: str) -> str:
    """Accept the legacy 15-character card, the 10-digit social-insurance number, or a CCCD."""
    number = _NON_ALNUM.sub("", raw or "").upper()
    if _BHYT_LEGACY.match(number) or _BHYT_SOCIAL_NUMBER.match(number) or _CCCD.match(number):
        return number
    raise InvalidInput(
        "insurance number must be a 15-character BHYT card (e.g. DN4791234567890), "
        "a 10-digit social-insurance number or a 12-digit CCCD",
        "Dạ, mã thẻ BHYT chưa đúng. Anh/chị nhập mã 15 ký tự trên thẻ (ví dụ DN4791234567890), "
        "mã số BHXH 10 số hoặc số CCCD 12 số ạ.",
        field="insurance_number",
    )
